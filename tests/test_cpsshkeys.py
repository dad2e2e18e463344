"""bin/cpsshkeys (manual 5.2.5) for real: a 2-node lab with sshd, password logins as genweb.

The command runs as an operator runs it (its own Python, re-executed in genweb's venv), reaching
the nodes through the lab's web-server namespace (--lab). Needs root and network namespaces
for the lab tests (skipped otherwise, with the reason).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from genweb import nodes, store
from genweb.lab import Lab
from genweb.nodes import KnownHosts, NodeAccess, Target

from .lab.labkit import (
    lab_name,
    lab_unavailable,
    leftovers,
    mark_owned,
    node_pid_namespaces,
    sweep_orphaned_test_labs,
)

CPSSHKEYS = Path(__file__).resolve().parent.parent / "bin" / "cpsshkeys"
AUTHORIZED_KEYS = "/home/genweb/.ssh/authorized_keys"
PROMPT = b"Password of user genweb on the nodes"


@pytest.fixture(scope="module")
def lab():
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    sweep_orphaned_test_labs()
    built = Lab.up(2, lab_name("k"))  # password logins allowed, as on fresh nodes
    mark_owned(built)
    namespaces = node_pid_namespaces(built)
    try:
        yield built
    finally:
        built.down(purge=True)
    assert not leftovers(built, namespaces)


def run(instance: Path, *args: str, lab: Lab | None = None, password: str | None = None,
        tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """cpsshkeys with no terminal: it can only get a password from --password-file."""
    argv = [str(CPSSHKEYS), "--instance", str(instance), *(["--lab", lab.name] if lab else []),
            *args]
    if password is not None:
        assert tmp_path is not None
        secret = tmp_path / "password"
        secret.write_text(password + "\n")
        argv += ["--password-file", str(secret)]
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120, env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"})


def node_file(lab: Lab, node: str) -> tuple[str, str, str]:
    """authorized_keys of genweb on the node: content, and 'mode owner mtime' of it and .ssh."""
    content = lab.exec(node, ["cat", AUTHORIZED_KEYS]).stdout
    modes = lab.exec(node, ["stat", "-c", "%a %U %Y", AUTHORIZED_KEYS]).stdout.strip()
    folder = lab.exec(node, ["stat", "-c", "%a %U", str(Path(AUTHORIZED_KEYS).parent)]).stdout
    return content, modes, folder.strip()


def public_key(instance: Path) -> str:
    return (instance / "ssh" / "id_ed25519.pub").read_text().strip()


def key_login_user(lab: Lab, instance: Path, node) -> str:
    access = NodeAccess.for_instance(instance, connector=lab.connect, connect_timeout=5)
    with access.open(Target(node.name, node.private_ip)) as session:
        return session.run(["id", "-un"], check=True).stdout.strip()


def test_installs_the_key_on_the_saved_nodes_and_a_second_run_changes_nothing(
        lab, app, instance, tmp_path):
    with app.app_context():
        for number, node in enumerate(lab.nodes, 1):
            store.create_record("haNodes", {"nodeID": str(number), "nodeName": node.name,
                                            "privateIP": node.private_ip})
        store.db.session.remove()
    # An existing authorized_keys whose last line has no newline must stay intact.
    lab.exec("node2", ["sh", "-c", f"printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5other "
                                   f"someone' >> {AUTHORIZED_KEYS}"])

    first = run(instance, lab=lab, password=lab.password, tmp_path=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "Created a new web server key" in out and "2 of 2 nodes ready" in out
    for node in lab.nodes:
        assert f"host key {node.host_key_fingerprint}: FIRST CONTACT, recorded" in out
        assert key_login_user(lab, instance, node) == "genweb"
    assert out.count("with the password; public key added to ~genweb/.ssh/authorized_keys") == 2
    assert out.count("key login: OK") == 2
    known = KnownHosts(instance / "ssh" / "known_hosts")
    for node in lab.nodes:
        [recorded] = known.lookup(Target(node.name, node.private_ip)).values()
        assert nodes.fingerprint(recorded) == node.host_key_fingerprint

    installed = {node.name: node_file(lab, node.name) for node in lab.nodes}
    for content, modes, folder in installed.values():
        assert content.splitlines().count(public_key(instance)) == 1
        assert modes.split()[:2] == ["600", "genweb"] and folder == "700 genweb"
    assert installed["node2"][0].splitlines()[-2:] == [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5other someone", public_key(instance)]

    time.sleep(1.1)  # a rewrite would now show in the mtime
    known_before = (instance / "ssh" / "known_hosts").read_bytes()
    again = run(instance, lab=lab)  # no password: the key works already
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Using the web server key" in again.stdout and "Password" not in again.stderr
    assert again.stdout.count("matches the recorded one") == 2
    assert again.stdout.count("with the key; public key already in") == 2
    with_password = run(instance, lab=lab, password=lab.password, tmp_path=tmp_path)
    assert with_password.returncode == 0
    assert {node.name: node_file(lab, node.name) for node in lab.nodes} == installed
    assert (instance / "ssh" / "known_hosts").read_bytes() == known_before


def test_the_password_is_asked_once_for_all_nodes(lab, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    argv = [str(CPSSHKEYS), "--instance", str(instance), "--lab", lab.name,
            *(arg for node in lab.nodes for arg in ("--node", node.private_ip))]
    output, status = run_in_terminal(argv, lab.password)
    assert status == 0, output
    assert output.count(PROMPT) == 1
    assert output.count(b"key login: OK") == 2 and lab.password.encode() not in output
    for node in lab.nodes:
        assert node_file(lab, node.name)[0].splitlines().count(public_key(instance)) == 1


def run_in_terminal(argv: list[str], password: str, timeout: float = 60) -> tuple[bytes, int]:
    """Run argv on a pseudo-terminal, typing ``password`` at each prompt; (output, status)."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: exec at once
        os.execve(argv[0], argv, {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"})
    output, answered, deadline = b"", 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.count(PROMPT) > answered:
                answered += 1
                os.write(terminal, password.encode() + b"\n")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return output, os.waitstatus_to_exitcode(status)


def test_a_changed_host_key_is_refused_loudly_and_nothing_is_sent(lab, tmp_path):
    instance = tmp_path / "instance"
    (instance / "ssh").mkdir(parents=True)
    impostor = tmp_path / "impostor"
    nodes.ensure_client_key(impostor)
    node1, node2 = lab.nodes
    KnownHosts(instance / "ssh" / "known_hosts").add(Target(node1.name, node1.private_ip),
                                                      paramiko.PKey.from_path(impostor))
    before = node_file(lab, "node1")

    done = run(instance, "--node", node1.private_ip, "--node", node2.private_ip, lab=lab,
               password=lab.password, tmp_path=tmp_path)
    assert done.returncode == 1
    assert f"WARNING: THE HOST KEY OF {node1.private_ip} HAS CHANGED!" in done.stderr
    assert "Nothing was sent to this node" in done.stderr and "ssh-keygen -R" in done.stderr
    assert "1 of 2 nodes ready, 1 FAILED" in done.stdout
    assert node_file(lab, "node1") == before
    assert public_key(instance) in node_file(lab, "node2")[0]


def test_a_refused_password_is_reported_per_node(lab, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    before = node_file(lab, "node1")
    done = run(instance, "--node", lab.nodes[0].private_ip, lab=lab, password="not-the-password",
               tmp_path=tmp_path)
    assert done.returncode == 1
    assert "FAILED: genweb's password was refused" in done.stdout
    assert "not-the-password" not in done.stdout + done.stderr
    assert node_file(lab, "node1") == before


def test_without_nodes_it_says_what_to_do(instance, app, tmp_path):
    done = run(instance)
    assert done.returncode == 1 and "no HA Nodes are saved in the store" in done.stderr
    missing = run(tmp_path / "nowhere", "--node", "127.0.0.1")
    assert missing.returncode == 1 and "no genweb instance folder" in missing.stderr


def test_as_root_the_files_stay_the_web_servers(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (it checks what sudo cpsshkeys leaves behind)")
    instance = tmp_path / "instance"
    instance.mkdir()
    os.chown(instance, 65534, 65534)  # the web server's user, say nobody
    done = run(instance, "--node", "127.0.0.1", "--password-file", "/dev/null")  # loopback only
    assert "Created a new web server key" in done.stdout
    for name in ("ssh", "ssh/id_ed25519", "ssh/id_ed25519.pub"):
        assert (instance / name).stat().st_uid == 65534, name
    assert oct((instance / "ssh" / "id_ed25519").stat().st_mode & 0o777) == "0o600"
