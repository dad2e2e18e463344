"""Node access without nodes: exact command lines (recorded), quoting, secrets, keys.

The same module against real sshd in lab nodes is tested in tests/lab/test_node_access.py.
"""

from __future__ import annotations

import getpass
import grp
import logging
import os
import shlex
import stat
import subprocess

import paramiko
import pytest

from genweb import nodes
from genweb.nodes import Expect, NodeAccess, Recorder, Result, Secret, Target

NODE = Target("node1", "192.0.2.11")


def recorded(expected=None) -> tuple[NodeAccess, Recorder]:
    recorder = Recorder(expected)
    return NodeAccess(transport_factory=recorder), recorder


def test_every_argument_is_quoted_for_the_remote_shell():
    argv = ["echo", "a b", "it's", "$(reboot)", "; rm -rf /", "`id`", ""]
    line = nodes.command_line(argv)
    assert shlex.split(line) == argv
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert done.stdout == "a b it's $(reboot) ; rm -rf / `id` \n"


def test_a_commit_sends_exactly_these_commands():
    access, recorder = recorded([
        Expect("node1", ["sudo", "-n", "--", "sh", "-c", nodes.WRITE_SCRIPT, "genweb-write",
                         "/etc/corosync/corosync.conf", "0644", "root", "root"],
               stdin=b"totem {}\n"),
        Expect("node1", ["sudo", "-n", "--", "crm", "cluster", "start"]),
        Expect("node1", ["crm_mon", "--output-as=xml"], Result(0, "<xml/>", "")),
    ])
    with access.open(NODE) as node:
        node.write_file("/etc/corosync/corosync.conf", "totem {}\n")
        node.run(["crm", "cluster", "start"], sudo=True)
        assert node.run(["crm_mon", "--output-as=xml"]).stdout == "<xml/>"
    recorder.assert_done()
    assert recorder.commands[1] == "node1: sudo -n -- crm cluster start"


def test_a_strict_recorder_rejects_an_unexpected_command():
    access, _ = recorded([Expect("node1", ["true"])])
    with access.open(NODE) as node, pytest.raises(AssertionError, match="got node1: false"):
        node.run(["false"])


def test_a_lenient_recorder_answers_by_prefix_and_check_raises():
    access, recorder = recorded()
    recorder.answer(["crm_mon"], Result(102, "", "Not connected"))
    with access.open(NODE) as node:
        assert node.run(["hostname"]).ok
        with pytest.raises(nodes.CommandFailed, match="crm_mon -1 exited 102: Not connected"):
            node.run(["crm_mon", "-1"], check=True)
    assert recorder.commands == ["node1: hostname", "node1: crm_mon -1"]


def test_root_needs_no_sudo():
    access, recorder = recorded()
    with access.open(Target("n", "192.0.2.1", user="root")) as node:
        node.run(["id"], sudo=True)
    assert recorder.calls[0].argv == ("id",)


@pytest.mark.parametrize("path, options", [
    ("relative/file", {}),
    ("/etc/dir/", {}),
    ("/etc/x\ny", {}),
    ("/etc/x", {"owner": "root;reboot"}),
    ("/etc/x", {"group": "$(id)"}),
    ("/etc/x", {"mode": 0o10000}),
])
def test_write_file_refuses_bad_paths_and_accounts(path, options):
    access, recorder = recorded()
    with access.open(NODE) as node, pytest.raises(ValueError):
        node.write_file(path, "x", **options)
    assert recorder.calls == []


def test_secrets_never_reach_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG, logger="genweb.nodes")
    access, recorder = recorded()
    recorder.answer(["snmpget"], Result(1, "", "Authentication failure for s3cret-auth"))
    target = Target("node2", "192.0.2.12", use_key=False, password="node-pass-1")
    with access.open(target) as node:
        node.write_file("/etc/corosync/authkey", b"KEYMATERIAL", mode=0o400, secret=True)
        with pytest.raises(nodes.CommandFailed) as failure:
            node.run(["snmpget", "-A", Secret("s3cret-auth"), "switch"], check=True)
    message = str(failure.value)
    assert "s3cret-auth" not in message and nodes.MASK in message
    assert "s3cret-auth" not in caplog.text and "KEYMATERIAL" not in caplog.text
    assert "secret stdin 11 bytes" in caplog.text
    assert "node-pass-1" not in repr(target)
    assert recorder.calls[1].argv[2] == "s3cret-auth"  # sent as is, shown masked


def test_target_from_a_node_record_follows_sshKeyEnable():
    record = {"nodeName": "node1", "privateIP": "192.0.2.11", "sshKeyEnable": "Default",
              "sshPassword": "ignored"}
    assert Target.from_node(record) == Target("node1", "192.0.2.11")
    by_password = Target.from_node({**record, "sshKeyEnable": "No", "sshPassword": "pw"})
    assert (by_password.use_key, by_password.password, by_password.user) == (False, "pw", "genweb")


def test_the_write_script_replaces_atomically_with_mode_and_owner(tmp_path):
    """The fixed script, run by a local sh exactly as the node's shell would run it."""
    folder = tmp_path / "a dir; $(touch pwned)"
    folder.mkdir()
    target = folder / "it's.conf"
    target.write_text("old\n")
    before = target.stat().st_ino
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    argv = ["sh", "-c", nodes.WRITE_SCRIPT, "genweb-write", str(target), "0640", user, group]
    subprocess.run(["sh", "-c", nodes.command_line(argv)], input=b"new\n", check=True)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != before          # renamed into place, not rewritten
    assert sorted(p.name for p in folder.iterdir()) == ["it's.conf"]  # no temp file left
    assert not (tmp_path / "pwned").exists()


def test_the_write_script_leaves_nothing_when_it_fails(tmp_path):
    target = tmp_path / "file"
    argv = ["sh", "-c", nodes.WRITE_SCRIPT, "genweb-write", str(target), "0644",
            "no-such-user-x", "root"]
    done = subprocess.run(argv, input=b"data", capture_output=True)
    assert done.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_client_key_is_created_once_and_private(tmp_path):
    path = tmp_path / "ssh" / "id_ed25519"
    public = nodes.ensure_client_key(path)
    assert public.startswith("ssh-ed25519 ") and public.endswith(" genweb")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert paramiko.PKey.from_path(path).get_base64() == public.split()[1]
    assert nodes.ensure_client_key(path) == public


def test_known_hosts_records_and_forgets(tmp_path):
    known = nodes.KnownHosts(tmp_path / "ssh" / "known_hosts")
    key = paramiko.PKey.from_path(_key(tmp_path))
    other_port = Target("node1", "192.0.2.11", port=2222)
    assert known.lookup(NODE) == {}
    known.add(other_port, key)
    assert known.lookup(other_port) == {"ssh-ed25519": key}
    assert known.lookup(NODE) == {}
    assert "[192.0.2.11]:2222 ssh-ed25519 " in known.path.read_text()
    assert stat.S_IMODE(known.path.stat().st_mode) == 0o600
    assert known.forget(other_port) and not known.forget(other_port)



def test_knows_host_only_for_a_recorded_key(tmp_path):
    """What status reads ask before opening a session: no traffic to an unrecorded address."""
    access = NodeAccess(known_hosts=tmp_path / "ssh" / "known_hosts")
    assert not access.knows_host(NODE)
    access.known_hosts.add(NODE, paramiko.PKey.from_path(_key(tmp_path)))
    assert access.knows_host(NODE)
    assert not access.knows_host(Target("node1", "192.0.2.11", port=2222))  # another port
    assert NodeAccess(transport_factory=Recorder()).knows_host(NODE)  # a test transport


def _key(folder) -> str:
    path = folder / "k" / "id_ed25519"
    nodes.ensure_client_key(path)
    return str(path)


def test_the_write_script_never_writes_into_a_directory(tmp_path):
    folder = tmp_path / "conf.d"
    folder.mkdir()
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    argv = ["sh", "-c", nodes.WRITE_SCRIPT, "genweb-write", str(folder), "0644", user, group]
    assert subprocess.run(argv, input=b"data", capture_output=True).returncode != 0
    assert list(folder.iterdir()) == [] and sorted(tmp_path.iterdir()) == [folder]


def test_a_peer_that_stalls_the_ssh_handshake_is_a_connect_failure(tmp_path):
    """paramiko's start_client gives up silently on a negotiation timeout; we must not."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list[socket.socket] = []

    def stall() -> None:
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")  # a banner, then silence
        accepted.append(conn)

    threading.Thread(target=stall, daemon=True).start()
    target = Target("node1", "127.0.0.1", port=server.getsockname()[1])
    try:
        with pytest.raises(nodes.ConnectFailed, match="node1|127.0.0.1"):
            nodes.SSHTransport(target, key_file=None,
                               known_hosts=nodes.KnownHosts(tmp_path / "known_hosts"),
                               connect_timeout=1.0)
    finally:
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.parametrize("host", ["192.168.40.71", "192.0.2.11", "node1.example.com"])
def test_the_suite_cannot_connect_outside_loopback_and_the_lab_range(host, monkeypatch):
    """DESIGN §5: the addresses tests store as configuration (192.168.40.x …) are data only.
    tests/conftest.py confines every node connection to 127.0.0.0/8 and 198.18.0.0/15."""
    opened = []
    monkeypatch.setattr(nodes.socket, "create_connection",
                        lambda *args, **kwargs: opened.append(args))
    with pytest.raises(OSError, match="outside GENWEB_ALLOWED_NETWORKS"):
        nodes.tcp_connect(host, 22, 1.0)
    assert not opened
    nodes.tcp_connect("127.0.0.1", 22, 1.0)  # the loopback is allowed: the stub is reached
    assert opened == [(("127.0.0.1", 22),)]
