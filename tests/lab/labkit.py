"""Helpers of the lab suite: when the lab can run, unique names, what the host looks like."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from genweb import nodes
from genweb.lab import Lab, procs, state_root


def lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, mounts)"
    if not shutil.which("ip") or subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                timeout=10).returncode != 0:
        return "'ip netns' is unavailable"
    return None


def lab_name(suffix: str = "") -> str:
    """Unique per pytest process: engineers and CI may run labs side by side."""
    return f"t{os.getpid() % 100000}{suffix}"


def host_view() -> dict[str, object]:
    """What the host's default namespace looks like: links, addresses, routes."""
    def ip_json(*args: str) -> list:
        return json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, text=True,
                                         check=True).stdout or "[]")
    return {"links": sorted(link["ifname"] for link in ip_json("link")),
            "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for link in ip_json("addr")
                                for a in link.get("addr_info", [])),
            "routes": sorted(r["dst"] for r in ip_json("route"))}


def leftovers(lab: Lab, pid_namespaces: list[str]) -> list[str]:
    """Anything of this lab still present after down: processes, namespaces, mounts."""
    found = [f"process {pid} in {ns}" for ns in pid_namespaces for pid in procs.members(ns)]
    found += [f"netns {ns}" for ns in lab.namespaces() if Path(f"/run/netns/{ns}").exists()]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line}" for line in mounts.splitlines()
              if str(lab.dir) in line or any(f"/run/netns/{ns} " in line
                                             for ns in lab.namespaces())]
    return found


def node_pid_namespaces(lab: Lab) -> list[str]:
    return [procs.namespace_id(n.init.pid, "pid") or "" for n in lab.nodes if n.init]


OWNER_FILE = "pytest-owner"


def mark_owned(lab: Lab) -> None:
    """Record which pytest process owns a test lab, so a later run can sweep it if orphaned."""
    me = procs.Proc.of(os.getpid())
    (lab.dir / OWNER_FILE).write_text(json.dumps(me.to_json() if me else None))


def sweep_orphaned_test_labs() -> list[str]:
    """Take down test labs whose pytest died before its teardown (killed, SIGPIPE …)."""
    swept = []
    root = state_root()
    for owner_file in root.glob(f"*/{OWNER_FILE}") if root.is_dir() else []:
        owner = procs.Proc.from_json(json.loads(owner_file.read_text() or "null"))
        if owner is not None and owner.alive():
            continue
        lab = Lab.load(owner_file.parent.name)
        if lab is not None:
            lab.down(purge=True)
            swept.append(lab.name)
    return swept


# -- fixtures' building blocks (tests/lab/conftest.py) ---------------------------------------


def built_lab(suffix: str = "") -> Iterator[Lab]:
    """A 3-node lab for a fixture to yield; torn down and checked for leftovers after."""
    built = Lab.up(3, lab_name(suffix))
    mark_owned(built)
    namespaces = node_pid_namespaces(built)
    yield built
    built.down(purge=True)
    left = leftovers(built, namespaces)
    assert not left, f"lab down left: {left}"


def client_instance(lab: Lab, folder: Path) -> Path:
    """A web server instance whose key the lab's nodes accept (as cpsshkeys would install it)."""
    lab.authorize_key(nodes.ensure_client_key(folder / "ssh" / "id_ed25519"))
    return folder


def recorded_access(lab: Lab, instance: Path) -> nodes.NodeAccess:
    """Node access through the lab's web-server namespace, every node's host key recorded."""
    node_access = nodes.NodeAccess.for_instance(instance, connector=lab.connect,
                                                connect_timeout=5, command_timeout=60)
    for node in lab.nodes:
        recorded = node_access.record_host_key(nodes.Target(node.name, node.private_ip))
        assert recorded == node.host_key_fingerprint
    return node_access


def lab_targets(lab: Lab) -> list[nodes.Target]:
    return [nodes.Target(node.name, node.private_ip) for node in lab.nodes]
