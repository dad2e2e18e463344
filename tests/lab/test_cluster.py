"""Corosync + Pacemaker on the lab's nodes, configured and started through genweb.nodes."""

from __future__ import annotations

import os
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.lab
ONLINE_WITHIN = 60  # s; measured about 9 s with token 1000 and dc-deadtime 2s


def corosync_conf(lab) -> str:
    """Short token (1000 ms) so membership forms quickly; encrypted knet like production."""
    nodelist = "".join(f"\tnode {{\n\t\tname: {n.name}\n\t\tnodeid: {n.index}\n"
                       f"\t\tring0_addr: {n.private_ip}\n\t}}\n" for n in lab.nodes)
    return (f"totem {{\n\tversion: 2\n\tcluster_name: {lab.name}\n\ttransport: knet\n"
            "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n\ttoken: 1000\n}\n"
            f"nodelist {{\n{nodelist}}}\n"
            "quorum {\n\tprovider: corosync_votequorum\n}\n"
            "logging {\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n"
            "\tto_syslog: no\n\ttimestamp: hires\n}\n")


def initial_cib(tmp_path) -> str:
    """An empty CIB with dc-deadtime 2s: Pacemaker's 20 s default dominates first start."""
    cib = tmp_path / "cib.xml"
    cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                  check=True).stdout)
    subprocess.run(["crm_attribute", "--type", "crm_config", "--name", "dc-deadtime",
                    "--update", "2s"], env={**os.environ, "CIB_file": str(cib)}, check=True,
                   capture_output=True)
    return cib.read_text()


def test_three_nodes_come_online(lab, access, targets, tmp_path):
    conf, authkey, cib = corosync_conf(lab), os.urandom(256), initial_cib(tmp_path)

    def start(target) -> str:
        with access.open(target) as node:
            node.write_file("/etc/corosync/corosync.conf", conf)
            node.write_file("/etc/corosync/authkey", authkey, mode=0o400, secret=True)
            node.write_file("/var/lib/pacemaker/cib/cib.xml", cib, mode=0o600,
                            owner="hacluster", group="haclient")
            # crmsh calls systemctl: the lab's stand-in here, systemd on real nodes.
            return node.run(["crm", "cluster", "start"], sudo=True, check=True,
                            timeout=120).stdout

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        assert all("started" in out for out in pool.map(start, targets))

    with access.open(targets[0]) as node:
        deadline = time.monotonic() + ONLINE_WITHIN
        while True:
            mon = node.run(["crm_mon", "--output-as=xml"], sudo=True)
            online = _online(mon.stdout)
            if online == {n.name for n in lab.nodes} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert online == {"node1", "node2", "node3"}, mon.stdout[-1500:]
    assert 'with_quorum="true"' in mon.stdout
    for row in lab.status():
        assert row["corosync"] and row["pacemakerd"] and row["sshd"], row


def _online(xml: str) -> set[str]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return set()
    return {n.get("name") for n in root.iter("node")
            if n.get("online") == "true" and n.get("type") == "member"}
