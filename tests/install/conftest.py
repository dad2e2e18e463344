"""The install suite: install.sh for real in fresh Debian 12 roots (``pytest -m install``).

Skips (with the reason) only when not root: building roots, mounting and network namespaces
need it. Each pytest process names its roots and namespaces after its PID; what a killed run
left behind is swept at the start of the next one.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from genweb.lab.procs import Proc

from .rootfs import WORK, delete_netns, remove_tree

NETNS_PREFIX = "gwinst"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "install: install.sh in fresh Debian 12 roots (root only)")


def netns_name(role: str) -> str:
    return f"{NETNS_PREFIX}-{os.getpid()}-{role}"


def _owner_alive(pid: int) -> bool:
    return pid == os.getpid() or Proc.of(pid) is not None


def sweep_orphans() -> None:
    """Namespaces and roots of install test runs whose pytest process is gone."""
    netns = Path("/run/netns")
    for path in netns.glob(f"{NETNS_PREFIX}-*") if netns.is_dir() else []:
        found = re.match(rf"{NETNS_PREFIX}-(\d+)-", path.name)
        if found and not _owner_alive(int(found.group(1))):
            delete_netns(path.name)
    for path in WORK.glob("*-*") if WORK.is_dir() else []:
        found = re.search(r"-(\d+)$", path.name)
        if found and not _owner_alive(int(found.group(1))):
            remove_tree(path)


@pytest.fixture(scope="session")
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the install tests need root: they build Debian roots, mount and make "
                    "network namespaces (run them as root, e.g. in CI)")
    if subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10).returncode != 0:
        pytest.fail("'ip netns' does not work here (iproute2)")
    sweep_orphans()
