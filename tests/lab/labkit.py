"""Helpers of the lab suite: when the lab can run, unique names, what the host looks like."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


# -- a cluster started by hand (what commit does is proven in test_e2e.py) ---------------------

ONLINE_WITHIN = 60  # s; measured about 9 s with token 1000 and dc-deadtime 2s


def corosync_conf(lab: Lab) -> str:
    """Short token (1000 ms) so membership forms quickly; encrypted knet like production."""
    nodelist = "".join(f"\tnode {{\n\t\tname: {n.name}\n\t\tnodeid: {n.index}\n"
                       f"\t\tring0_addr: {n.private_ip}\n\t}}\n" for n in lab.nodes)
    return (f"totem {{\n\tversion: 2\n\tcluster_name: {lab.name}\n\ttransport: knet\n"
            "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n\ttoken: 1000\n}\n"
            f"nodelist {{\n{nodelist}}}\n"
            "quorum {\n\tprovider: corosync_votequorum\n}\n"
            "logging {\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n"
            "\tto_syslog: no\n\ttimestamp: hires\n}\n")


def initial_cib(folder: Path) -> str:
    """An empty CIB with dc-deadtime 2s: Pacemaker's 20 s default dominates first start."""
    cib = folder / "cib.xml"
    cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                  check=True).stdout)
    subprocess.run(["crm_attribute", "--type", "crm_config", "--name", "dc-deadtime",
                    "--update", "2s"], env={**os.environ, "CIB_file": str(cib)}, check=True,
                   capture_output=True)
    return cib.read_text()


def online_members(xml: str) -> set[str]:
    """The member nodes crm_mon's XML calls online (none for output that is not XML)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return set()
    return {n.get("name") for n in root.iter("node")
            if n.get("online") == "true" and n.get("type") == "member"}


def cluster_running(access: nodes.NodeAccess, targets: list[nodes.Target]) -> bool:
    with access.open(targets[0]) as node:
        mon = node.run(["crm_mon", "--output-as=xml"], sudo=True)
    return (mon.rc == 0 and 'with_quorum="true"' in mon.stdout
            and online_members(mon.stdout) == {t.name for t in targets})


def wait_until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def start_cluster(lab: Lab, access: nodes.NodeAccess, targets: list[nodes.Target],
                  folder: Path) -> None:
    """Corosync and Pacemaker on every node with an empty CIB, unless they run already (a lab
    shared by several test modules); returns once every node is online with quorum."""
    if cluster_running(access, targets):
        return
    conf, authkey, cib = corosync_conf(lab), os.urandom(256), initial_cib(folder)

    def start(target: nodes.Target) -> str:
        with access.open(target) as node:
            node.write_file("/etc/corosync/corosync.conf", conf)
            node.write_file("/etc/corosync/authkey", authkey, mode=0o400, secret=True)
            node.write_file("/var/lib/pacemaker/cib/cib.xml", cib, mode=0o600,
                            owner="hacluster", group="haclient")
            # crmsh calls systemctl: the lab's stand-in here, systemd on real nodes.
            return node.run(["crm", "cluster", "start"], sudo=True, check=True,
                            timeout=120).stdout

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        list(pool.map(start, targets))
    assert wait_until(lambda: cluster_running(access, targets), ONLINE_WITHIN), (
        "the cluster did not form")
