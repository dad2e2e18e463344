"""genweb.nodes against real sshd in the lab nodes: host keys, auth, commands, files."""

from __future__ import annotations

import logging
import time

import paramiko
import pytest

from genweb import nodes
from genweb.nodes import NodeAccess, Target

pytestmark = pytest.mark.lab


def fresh_access(lab, web_instance, tmp_path, **options) -> NodeAccess:
    """The web server's key, but an empty known_hosts."""
    return NodeAccess(web_instance / "ssh" / "id_ed25519", tmp_path / "known_hosts",
                      connector=lab.connect, connect_timeout=5, **options)


def test_an_unknown_host_key_is_refused_until_recorded_explicitly(lab, web_instance, tmp_path):
    access, node = fresh_access(lab, web_instance, tmp_path), lab.nodes[0]
    target = Target(node.name, node.private_ip)
    with pytest.raises(nodes.HostKeyUnknown, match=node.host_key_fingerprint.replace("+", r"\+")):
        access.open(target)
    assert not access.known_hosts.path.exists()
    assert access.record_host_key(target) == node.host_key_fingerprint
    with access.open(target) as session:
        assert session.run(["whoami"]).stdout == "genweb\n"


def test_a_changed_host_key_is_always_refused(lab, web_instance, tmp_path):
    access, node = fresh_access(lab, web_instance, tmp_path), lab.nodes[1]
    target = Target(node.name, node.private_ip)
    impostor = tmp_path / "impostor"
    nodes.ensure_client_key(impostor)
    access.known_hosts.add(target, paramiko.PKey.from_path(impostor))
    with pytest.raises(nodes.HostKeyChanged, match="CHANGED"):
        access.open(target)
    with pytest.raises(nodes.HostKeyChanged):
        access.record_host_key(target)  # trust on first use never overrides a recorded key
    assert access.forget_host_key(target)
    assert access.record_host_key(target) == node.host_key_fingerprint


def test_commands_are_quoted_and_sudo_runs_as_root(access, targets):
    tricky = ["a b", "it's", "$(touch /tmp/pwned)", "; id", "`id`", "*"]
    with access.open(targets[0]) as session:
        echoed = session.run(["printf", "%s\\n", *tricky])
        assert echoed.stdout.splitlines() == tricky
        assert session.run(["test", "-e", "/tmp/pwned"]).rc == 1
        assert session.run(["id", "-u"], sudo=True).stdout == "0\n"
        failed = session.run(["ls", "/nonexistent"])
        assert failed.rc == 2 and "No such file" in failed.stderr and failed.stdout == ""
        assert session.run(["cat"], stdin="round trip\n").stdout == "round trip\n"


def test_files_are_written_atomically_with_mode_and_owner(access, targets, caplog):
    caplog.set_level(logging.DEBUG)
    path = "/etc/corosync/genweb test.conf"
    with access.open(targets[1]) as session:
        session.write_file(path, "first\n", mode=0o640, owner="hacluster", group="haclient")
        inode = session.run(["stat", "-c", "%i", path]).stdout
        session.write_file(path, "SECRET-CONTENT\n", mode=0o600, owner="root", group="root",
                           secret=True)
        assert session.run(["stat", "-c", "%a %U %G", path], sudo=True).stdout == "600 root root\n"
        assert session.run(["stat", "-c", "%i", path]).stdout != inode  # renamed into place
        assert session.read_file(path) == "SECRET-CONTENT\n"
        listing = session.run(["ls", "-A", "/etc/corosync"], sudo=True).stdout.split("\n")
        assert not [name for name in listing if ".genweb." in name]  # no temp file left
        with pytest.raises(nodes.CommandFailed) as failure:
            session.write_file("/no/such/dir/file", "SECRET-CONTENT\n", secret=True)
        with pytest.raises(nodes.CommandFailed):
            session.read_file("/no/such/file")
    assert "SECRET-CONTENT" not in caplog.text + str(failure.value)


def test_password_authentication_when_sshKeyEnable_is_No(lab, access, caplog):
    node = lab.nodes[2]
    record = {"nodeName": node.name, "privateIP": node.private_ip, "sshKeyEnable": "No",
              "sshPassword": lab.password}
    with access.open(Target.from_node(record)) as session:
        assert session.run(["whoami"]).stdout == "genweb\n"
    wrong = Target.from_node({**record, "sshPassword": "not-the-password"})
    with pytest.raises(nodes.AuthenticationFailed) as failure:
        access.open(wrong)
    assert "not-the-password" not in str(failure.value) + caplog.text
    assert lab.password not in caplog.text


def test_timeouts_bound_commands_and_connections(lab, access, targets):
    with access.open(targets[0]) as session:
        started = time.monotonic()
        with pytest.raises(nodes.CommandTimeout, match="sleep 30"):
            session.run(["sleep", "30"], timeout=0.5)
        assert time.monotonic() - started < 3
        started = time.monotonic()  # a daemon left holding stdout does not hang the session
        assert session.run(["sh", "-c", "sleep 30 &"]).ok
        assert time.monotonic() - started < 5
    nowhere = NodeAccess(access.key_file, access.known_hosts.path, connector=lab.connect,
                         connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(nodes.ConnectFailed, match="198.18.0.99:22"):
        nowhere.open(Target("ghost", "198.18.0.99"))
    assert time.monotonic() - started < 4
