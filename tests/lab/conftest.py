"""The lab suite: one 3-node lab per test session, torn down and checked at the end.

Skips (with the reason) only where the lab cannot exist: not root, or no ``ip netns``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genweb import nodes
from genweb.lab import Lab

from .labkit import (
    host_view,
    lab_name,
    lab_unavailable,
    leftovers,
    mark_owned,
    node_pid_namespaces,
    sweep_orphaned_test_labs,
)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "lab: needs root and network namespaces (tests/lab)")


@pytest.fixture(scope="session")
def host_before() -> dict[str, object]:
    """The host's default namespace before the lab (and after any orphaned test lab left)."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    sweep_orphaned_test_labs()
    return host_view()


@pytest.fixture(scope="session")
def lab(host_before):
    built = Lab.up(3, lab_name())
    mark_owned(built)
    namespaces = node_pid_namespaces(built)
    yield built
    built.down(purge=True)
    left = leftovers(built, namespaces)
    assert not left, f"lab down left: {left}"
    assert host_view() == host_before, "the host's default namespace changed"


@pytest.fixture(scope="session")
def web_instance(lab, tmp_path_factory) -> Path:
    """A web server instance whose key the lab's nodes accept (as cpsshkeys would install it)."""
    instance = tmp_path_factory.mktemp("web-instance")
    lab.authorize_key(nodes.ensure_client_key(instance / "ssh" / "id_ed25519"))
    return instance


@pytest.fixture(scope="session")
def access(lab, web_instance) -> nodes.NodeAccess:
    """Node access through the lab's web-server namespace, every node's host key recorded."""
    node_access = nodes.NodeAccess.for_instance(web_instance, connector=lab.connect,
                                                connect_timeout=5, command_timeout=60)
    for node in lab.nodes:
        recorded = node_access.record_host_key(nodes.Target(node.name, node.private_ip))
        assert recorded == node.host_key_fingerprint
    return node_access


@pytest.fixture(scope="session")
def targets(lab) -> list[nodes.Target]:
    return [nodes.Target(node.name, node.private_ip) for node in lab.nodes]
