"""A multi-node cluster lab on one machine, in Linux namespaces (see docs/lab.md)."""

from .lab import DEFAULT_NAME, Lab, LabError, LabNode, Switch, state_root

__all__ = ["DEFAULT_NAME", "Lab", "LabError", "LabNode", "Switch", "state_root"]
