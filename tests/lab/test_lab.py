"""The lab itself: isolation from the host, each node's own view, the switch, up/down."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from genweb import nodes
from genweb.lab import Lab
from genweb.lab.cli import lab as lab_cli

from .labkit import host_view, lab_name, lab_unavailable, leftovers, mark_owned, node_pid_namespaces

pytestmark = pytest.mark.lab
LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")


def test_nodes_are_reachable_only_through_the_lab_namespace(lab, host_before, access, targets):
    # Nothing of the lab shows in the host's default namespace: no link, no address, no
    # route into 198.18.0.0/15. (We do not probe with a connect from the default namespace:
    # with no lab route the packet would go to the host's default gateway.)
    view = host_view()
    assert view["links"] == host_before["links"]
    for address in view["addresses"]:
        assert ipaddress.ip_interface(address).ip not in LAB_NETWORK
    for route in view["routes"]:
        if route != "default":
            assert not ipaddress.ip_network(route, strict=False).overlaps(LAB_NETWORK)
    # Through the web-server namespace every node's sshd answers, with its own host key.
    for node, target in zip(lab.nodes, targets, strict=True):
        with lab.connect(node.private_ip, 22, timeout=5) as sock:
            assert sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
        with access.open(target) as session:
            assert session.run(["hostname"]).stdout.strip() == node.name


def test_each_node_has_its_own_filesystem_view(lab):
    first, second = lab.nodes[0].name, lab.nodes[1].name
    marker = f"lab-probe-{time.monotonic_ns()}"
    for path in ("/etc", "/var/lib", "/var/log", "/run", "/root", "/tmp", "/dev/shm", "/home"):
        lab.exec(first, ["touch", f"{path}/{marker}"])
        assert lab.exec(first, ["test", "-e", f"{path}/{marker}"], check=False).returncode == 0
        assert lab.exec(second, ["test", "-e", f"{path}/{marker}"], check=False).returncode == 1
        assert not Path(f"{path}/{marker}").exists(), f"{path} of the node leaks to the host"
    assert lab.exec(first, ["hostname"]).stdout.strip() == first
    # Cluster state starts empty in every node, whatever the host has.
    assert "/var/lib/pacemaker" in lab.exec(first, ["findmnt", "-n", "-o", "TARGET",
                                                    "/var/lib/pacemaker"]).stdout
    # The systemctl stand-in exists inside the nodes only; the host keeps the real one.
    assert "stand-in" in lab.exec(first, ["head", "-2", "/usr/bin/systemctl"]).stdout
    assert lab.exec(first, ["systemctl", "is-active", "ssh"], check=False).stdout == "active\n"
    assert Path("/usr/bin/systemctl").read_bytes()[:4] == b"\x7fELF"


def test_the_switch_shuts_a_nodes_port_over_snmp(lab, access, targets):
    """fence_ifmib (IF-MIB ifAdminStatus) against the lab switch, as a fence device would."""
    victim = lab.nodes[2]
    fence = ["/usr/sbin/fence_ifmib", "-a", lab.switch.ip, "-d", "2c", "-c",
             nodes.Secret(lab.switch.community), "-n", victim.private_port]
    with access.open(targets[0]) as node1:
        try:
            assert node1.run([*fence, "-o", "off"], check=True, timeout=30).ok
            assert "NO-CARRIER" in lab.exec(victim.name, ["ip", "link", "show", "eth0"]).stdout
        finally:
            node1.run([*fence, "-o", "on"], check=True, timeout=30)
        assert "NO-CARRIER" not in lab.exec(victim.name, ["ip", "link", "show", "eth0"]).stdout
        v3 = node1.run(["snmpget", "-v3", "-l", "authPriv", "-u", lab.switch.v3_user, "-a", "SHA",
                        "-A", nodes.Secret(lab.switch.v3_auth), "-x", "AES",
                        "-X", nodes.Secret(lab.switch.v3_priv), "-On", lab.switch.ip,
                        "1.3.6.1.2.1.1.5.0"], check=True, timeout=30)
        assert f"{lab.name}-switch" in v3.stdout


def test_up_and_down_are_idempotent_and_down_leaves_nothing():
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    name, runner = lab_name("b"), CliRunner()
    first = runner.invoke(lab_cli, ["up", "--nodes", "1", "--name", name])
    assert first.exit_code == 0, first.output
    mark_owned(Lab.load(name))
    again = runner.invoke(lab_cli, ["up", "--nodes", "1", "--name", name])
    assert again.exit_code == 0 and "was already up" in again.output
    built = Lab.load(name)
    assert built is not None and built.is_up()
    namespaces = node_pid_namespaces(built)
    # Leave work behind the way a cluster would: a daemon and libqb's /dev/shm directories.
    built.exec("node1", ["sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &"])
    built.exec("node1", ["mkdir", "/dev/shm/qb-1234-5678-9-data"])
    status = runner.invoke(lab_cli, ["status", "--name", name])
    assert status.exit_code == 0 and "node1" in status.output and "sshd " in status.output
    try:
        for _ in range(2):
            down = runner.invoke(lab_cli, ["down", "--name", name])
            assert down.exit_code == 0, down.output
        assert leftovers(built, namespaces) == []
        assert not Lab.load(name).is_up()
        assert not list(Path("/dev/shm").glob("qb-1234-5678-*"))
    finally:
        runner.invoke(lab_cli, ["down", "--name", name, "--purge"])
    assert not built.dir.exists()
