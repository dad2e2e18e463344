"""install.sh --node prepares a fresh Debian 12 root as a cluster node (issue 10, manual 5.2.5).

The packages install with the host's network and nothing starts; the root then boots in a
network namespace of ours, where its own sshd runs and genweb's node access (genweb/nodes.py,
paramiko) logs in as genweb with a key and writes files through the restricted sudo rights,
exactly as a commit does. Reruns of install.sh --node happen there, offline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genweb import nodes
from genweb.lab.netns import connect_in_netns

from .conftest import netns_name
from .rootfs import CACHE, Box, add_netns, delete_netns, fresh_root, locked, remove_tree

pytestmark = pytest.mark.install

INSTALL = "/root/genweb/install.sh"
MATCH_BLOCK = "Match User genweb\n  PasswordAuthentication no\n"
NODE_PASSWORD = "node password 1"


@dataclass
class Node:
    root: Path
    box: Box
    netns: str
    output: str
    seconds: float

    def sshd_option(self, user: str, option: str) -> str:
        """The value sshd would apply for a connection of ``user`` (sshd -T -C)."""
        done = self.box.run(["sshd", "-T", "-C", f"user={user},host=client,addr=127.0.0.1"])
        for line in done.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == option.lower():
                return value
        raise AssertionError(f"sshd -T shows no {option}")

    def allowed(self, *argv: str) -> bool:
        """Whether sudo lets genweb run argv as root without a password (sudo -l -U)."""
        return self.box.run(["sudo", "-n", "-l", "-U", "genweb", *argv],
                            check=False).returncode == 0


@pytest.fixture(scope="module")
def node(as_root) -> Iterator[Node]:
    root = fresh_root("node")
    netns = netns_name("node")
    binds = {CACHE / "apt-node": "/var/cache/apt/archives"}
    (CACHE / "apt-node" / "partial").mkdir(parents=True, exist_ok=True)
    box = None
    try:
        started = time.monotonic()
        with locked(CACHE / "apt-node.lock"), Box(root, "genweb-node1", binds=binds) as install:
            done = install.run([INSTALL, "--node", "--no-start"], timeout=1200)
        seconds = time.monotonic() - started
        add_netns(netns)
        box = Box(root, "genweb-node1", netns=netns)
        box.start()
        box.run(["install", "-d", "-m", "0755", "/run/sshd"])  # as ssh.service makes it at boot
        yield Node(root, box, netns, done.stdout + done.stderr, seconds)
    finally:
        if box is not None:
            box.stop()
        delete_netns(netns)
        remove_tree(root)


def test_node_packages_install_without_starting_anything(node):
    print(f"install.sh --node: {node.seconds:.0f} s")
    assert "installing Debian packages: kamailio" in node.output
    for tool in ("/usr/sbin/kamailio", "/usr/bin/rtpengine", "/usr/bin/redis-server",
                 "/usr/sbin/mariadbd", "/usr/sbin/corosync", "/usr/sbin/pacemakerd",
                 "/usr/sbin/crm", "/usr/sbin/fence_tripplite_snmp", "/usr/bin/snmpget",
                 "/usr/bin/sudo", "/usr/sbin/sshd", "/usr/bin/isql"):
        assert node.box.path(tool).exists(), tool
    assert not node.box.path("/usr/sbin/policy-rc.d").exists(), "the temporary policy stayed"
    # Nothing the packages brought runs in the booted root (its PID namespace is its own).
    running = node.box.run(["sh", "-c", "cat /proc/[0-9]*/comm"]).stdout.split()
    assert not {"kamailio", "rtpengine", "redis-server", "mariadbd", "corosync"} & set(running)


def test_sudoers_is_valid_and_root_only(node):
    node.box.run(["visudo", "-cf", "/etc/sudoers.d/genweb"])
    node.box.run(["visudo", "-c"])
    assert node.box.run(["stat", "-c", "%U %G %a", "/etc/sudoers.d/genweb"]).stdout.split() == [
        "root", "root", "440"]


def test_genweb_may_run_exactly_what_the_commit_sends(node):
    script = nodes.WRITE_SCRIPT
    for argv in (["crm", "-D", "plain", "configure", "load", "update",
                  "/etc/genproxy/cluster.crm"], ["crm", "cluster", "start"],
                 ["crm", "resource", "move", "ip_group", "node2"],
                 ["crm_mon", "--output-as=xml"], ["cibadmin", "--query", "--scope", "configuration"],
                 ["crm_node", "--force", "--remove", "node3"],
                 ["crm_resource", "--cleanup", "--node", "node1"],
                 ["stonith_admin", "--unfence", "node2"], ["corosync-cfgtool", "-s"],
                 ["kamcmd", "permissions.addressReload"],
                 ["kamailio", "-c", "-f", "/etc/kamailio/genweb-verify.cfg"],
                 ["fence_apc_snmp", "--ip=198.18.0.2", "--plug=3", "--action=on"],
                 ["rtpengine-ctl", "list", "numsessions"],
                 ["mariadb", "--batch", "--skip-column-names"],
                 ["sh", "-c", script, "genweb-write", "/etc/kamailio/kamailio.cfg", "0640",
                  "root", "kamailio"],
                 ["cat", "--", "/etc/corosync/corosync.conf"],
                 ["install", "-d", "-m", "0700", "-o", "root", "-g", "root",
                  "/etc/genproxy/fence-secrets"],
                 ["rm", "-f", "--", "/etc/genproxy/fence-secrets/old_fence.auth"], ["true"]):
        assert node.allowed(*argv), f"sudo refuses: {' '.join(argv)}"
    if node.box.path("/usr/bin/systemctl").exists():  # not in this root: no systemd package
        assert node.allowed("systemctl", "restart", "kamailio")
        assert not node.allowed("systemctl", "restart", "ssh")


def test_genweb_may_not_run_anything_else(node):
    for argv in (["bash"], ["sh", "-c", "id"], ["id"], ["cat", "/etc/shadow"],
                 ["cat", "--", "/etc/shadow"], ["rm", "-rf", "/"],
                 ["rm", "-f", "--", "/etc/passwd"],
                 ["kamailio", "-f", "/tmp/evil.cfg"],
                 ["install", "-d", "-m", "0777", "-o", "genweb", "-g", "root", "/etc/genproxy"],
                 ["sh", "-c", nodes.WRITE_SCRIPT, "genweb-write", "/etc/sudoers.d/x", "0440",
                  "root", "root"],
                 ["visudo"], ["su"], ["passwd", "root"], ["/tmp/fence_evil"],
                 ["/usr/sbin/fence_x/../../bin/sh"]):
        assert not node.allowed(*argv), f"sudo allows: {' '.join(argv)}"


def test_sshd_refuses_password_logins_for_genweb_only(node):
    config = node.box.path("/etc/ssh/sshd_config").read_text()
    assert config.count(MATCH_BLOCK) == 1
    assert config.rstrip().endswith("# END genweb"), "a Match block must come last"
    node.box.run(["sshd", "-t", "-f", "/etc/ssh/sshd_config"])
    assert node.sshd_option("genweb", "PasswordAuthentication") == "no"
    assert node.sshd_option("someone", "PasswordAuthentication") == "yes"


def test_private_key_folder_and_groups(node):
    assert node.box.run(["stat", "-c", "%U %G %a", "/etc/ssl/genproxy_pvt"]).stdout.split() == [
        "root", "genproxy", "750"]
    assert "genproxy" in node.box.run(["id", "-nG", "kamailio"]).stdout.split()
    assert node.box.run(["stat", "-c", "%U %G %a", "/etc/genproxy/fence-secrets"]
                        ).stdout.split() == ["root", "root", "700"]
    shell, password = (node.box.run(["getent", "passwd", "genweb"]).stdout.split(":")[6].strip(),
                       node.box.run(["getent", "shadow", "genweb"]).stdout.split(":")[1])
    assert shell == "/bin/bash" and password == "*"


def test_project_agents_are_installed(node):
    agents = Path(__file__).resolve().parents[2] / "genweb" / "agents"
    expected = {f"/usr/lib/ocf/resource.d/amtelco/{p.name}": p for p in agents.glob("ocf/*")}
    expected |= {f"/usr/sbin/{p.name}": p for p in agents.rglob("fence_*") if "." not in p.name}
    expected |= {f"/usr/share/pacemaker/alerts/{p.name}": p for p in agents.glob("alert*/*")}
    if not expected:
        pytest.skip("this checkout has no genweb/agents")
    for path, source in expected.items():
        installed = node.box.path(path)
        assert installed.read_bytes() == source.read_bytes(), path
        assert installed.stat().st_mode & 0o777 == 0o755, path
    # The fence agents run with the node's own Python and pysnmp (python3-pysnmp4), as
    # Pacemaker runs them; Pacemaker's own tool finds the resource agents under amtelco.
    for path in expected:
        if path.startswith("/usr/sbin/fence_"):
            metadata = node.box.run([path, "-o", "metadata"]).stdout
            assert "<resource-agent" in metadata, path
    node.box.run(["python3", "-c", "from pysnmp import hlapi"])
    ocf = {p.name for p in agents.glob("ocf/*")}
    if ocf:
        listed = node.box.run(["crm_resource", "--list-agents", "ocf:amtelco"]).stdout.split()
        assert ocf <= set(listed)


def test_the_web_server_logs_in_with_its_key_and_writes_through_sudo(node, tmp_path):
    """genweb/nodes.py against the prepared node: what a commit does, minus the cluster."""
    box = node.box
    box.run(["/etc/init.d/ssh", "start"], timeout=60)
    instance = tmp_path / "instance"
    public_key = nodes.ensure_client_key(instance / "ssh" / "id_ed25519")
    box.run(["install", "-m", "0600", "-o", "genweb", "-g", "genweb", "/dev/stdin",
             "/home/genweb/.ssh/authorized_keys"], input=public_key + "\n")
    access = nodes.NodeAccess.for_instance(
        instance, connect_timeout=10, command_timeout=60,
        connector=lambda host, port, timeout: connect_in_netns(node.netns, host, port, timeout))
    target = nodes.Target("node1", "127.0.0.1")
    access.record_host_key(target)  # what cpsshkeys does, explicitly
    content = "# written by the install test through sudo\nlisten=udp:127.0.0.1:5060\n"
    with access.open(target) as session:
        assert session.run(["id", "-un"], check=True).stdout.strip() == "genweb"
        session.write_file("/etc/kamailio/genweb-test.cfg", content, mode=0o640,
                           group="kamailio")
        assert session.read_file("/etc/kamailio/genweb-test.cfg") == content
        with pytest.raises(nodes.CommandFailed):
            session.write_file("/etc/genweb-test-not-allowed", "x")
        assert session.run(["sudo", "-n", "--", "id"]).rc != 0
    assert box.run(["stat", "-c", "%U %G %a", "/etc/kamailio/genweb-test.cfg"]
                   ).stdout.split() == ["root", "kamailio", "640"]
    assert not box.path("/etc/genweb-test-not-allowed").exists()

    # With a password set, genweb still cannot log in with it (manual 5.2.5) ...
    box.run(["chpasswd"], input=f"genweb:{NODE_PASSWORD}\n")
    by_password = nodes.Target("node1", "127.0.0.1", use_key=False, password=NODE_PASSWORD)
    with pytest.raises(nodes.AuthenticationFailed):
        access.open(by_password)
    # ... until --allow-password removes the block; install.sh reloads the running sshd.
    done = box.run([INSTALL, "--node", "--allow-password"], timeout=300)
    assert "password logins for genweb allowed" in done.stdout
    assert MATCH_BLOCK not in box.path("/etc/ssh/sshd_config").read_text()
    assert _eventually(lambda: _logs_in(access, by_password))
    # Preparing the node again restores the block.
    box.run([INSTALL, "--node"], timeout=300)
    assert box.path("/etc/ssh/sshd_config").read_text().count(MATCH_BLOCK) == 1
    assert _eventually(lambda: not _logs_in(access, by_password))


def test_preparing_again_changes_nothing(node):
    files = ("/etc/ssh/sshd_config", "/etc/sudoers.d/genweb", "/etc/group", "/etc/passwd")
    before = {name: node.box.path(name).read_bytes() for name in files}
    done = node.box.run([INSTALL, "--node", "--no-start"], timeout=300)
    assert "installing Debian packages" not in done.stdout  # all there: no apt, no network
    assert {name: node.box.path(name).read_bytes() for name in files} == before


def _logs_in(access: nodes.NodeAccess, target: nodes.Target) -> bool:
    try:
        with access.open(target):
            return True
    except nodes.AuthenticationFailed:
        return False


def _eventually(check, timeout: float = 10.0) -> bool:
    """sshd applies a reload asynchronously: retry a check briefly."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
