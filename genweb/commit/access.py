"""How the commit reaches the nodes: the app's node access and each node's target.

``NODE_ACCESS`` (a ready ``NodeAccess``, e.g. one over a ``nodes.Recorder`` in tests) wins;
otherwise ``NODE_CONNECTOR`` picks how TCP connections are opened: ``"tcp"`` (the default, real
nodes) or ``"lab:NAME"`` (through the web-server namespace of the lab NAME, docs/lab.md). The
key and known_hosts are always the instance's (``<instance>/ssh/``): the lab gets no shortcut
around host-key checking.

An app in TESTING mode with neither set refuses every connection: a test never sends traffic
to the addresses it stored (DESIGN.md §5, network rule); it must say where its nodes are.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ..nodes import Connector, NodeAccess, Target, tcp_connect
from .snapshot import Snapshot

CONNECT_TIMEOUT = 10.0  # s: an unreachable node must not hold a commit for long
COMMAND_TIMEOUT = 300.0  # s: crm cluster start/stop can take a minute on a loaded node


class AccessConfigError(ValueError):
    """NODE_CONNECTOR names something that does not exist."""


def connector(spec: Any) -> Connector:
    """The TCP connector NODE_CONNECTOR names (a callable is taken as is)."""
    if callable(spec):
        return spec
    text = str(spec or "tcp")
    if text == "tcp":
        return tcp_connect
    if text.startswith("lab:"):
        from ..lab import Lab

        lab = Lab.load(text.removeprefix("lab:"))
        if lab is None:
            raise AccessConfigError(f"NODE_CONNECTOR {text}: no such lab (genweb lab up --name "
                                    f"{text.removeprefix('lab:')})")
        return lab.connect
    raise AccessConfigError(f"NODE_CONNECTOR {text!r}: use 'tcp' or 'lab:NAME'")


def refuse(host: str, port: int, timeout: float) -> socket.socket:
    """The connector of a test app that did not say where its nodes are."""
    raise ConnectionRefusedError(f"{host}:{port} not contacted: a TESTING app reaches nodes only "
                                 "through NODE_ACCESS or NODE_CONNECTOR lab:NAME")


def node_access(app: Flask) -> NodeAccess:
    configured = app.config.get("NODE_ACCESS")
    if configured is not None:
        return configured
    spec = app.config.get("NODE_CONNECTOR")
    chosen = refuse if app.testing and spec in (None, "", "tcp") else connector(spec)
    return NodeAccess.for_instance(Path(app.instance_path), connector=chosen,
                                   connect_timeout=CONNECT_TIMEOUT,
                                   command_timeout=COMMAND_TIMEOUT)


def target(node: Mapping[str, str]) -> Target:
    """A node record (snapshot row: nodeName, privateIP, sshKeyEnable, sshPassword)."""
    return Target.from_node(node)


def targets(snapshot: Snapshot) -> list[Target]:
    """Every node of a snapshot, in nodeID order."""
    return [target(node) for node in snapshot.nodes]
