"""Fixtures of the commit tests: a configured store, and node access over a FakeCluster."""

from __future__ import annotations

import pytest

from genweb import store
from genweb.commit import apply, steps
from genweb.nodes import NodeAccess

from .fakecluster import FakeCluster

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}
NODES = [{"nodeID": str(n), "nodeName": f"node{n}", "privateIP": f"192.168.40.7{n}"}
         for n in (1, 2, 3)]


def fence(node: int, **values: str) -> dict[str, str]:
    return {"fenceName": f"fence{node}_network", "fenceNodeName": f"node{node}",
            "fenceAgent": "fence_ifmib", "fenceDevicePlug": f"sw-node{node}",
            "fenceDeviceIP": "192.168.40.2", "fenceSnmpUser": "private-community", **values}


def configure(nodes: list[dict[str, str]] = NODES, *, fences: bool = True) -> None:
    """A whole configuration, saved (not committed): system, nodes, fences, MySQL."""
    store.save_settings("systemConfig", SYSTEM)
    store.save_settings("databaseConfig", {"dbEngine": "MySQL", "dbrwPass": "rw-secret-1",
                                           "dbroPass": "ro-secret-1",
                                           "replicationPass": "repl-secret-1"})
    for node in nodes:
        store.create_record("haNodes", node)
    if fences:
        for number in range(1, len(nodes) + 1):
            store.create_record("fences", fence(number))


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Polls without waiting: the fake cluster answers at once, or never."""
    monkeypatch.setattr(steps, "POLL_SECONDS", 0.01)
    for name in ("QUORUM_TIMEOUT", "SERVICE_TIMEOUT", "SWITCH_TIMEOUT"):
        monkeypatch.setattr(apply, name, 0.3)
    monkeypatch.setattr(apply, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(apply, "PRIMARY_SETTLE", 0.0)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster.up()


@pytest.fixture
def wired(ctx, cluster):
    """The app reaches the fake cluster; returns it."""
    ctx.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    return cluster
