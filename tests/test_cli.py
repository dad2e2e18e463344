"""The operator's command line: genweb init-db, passwd and run, with separate instances."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from genweb.auth import check_password

GENWEB = [sys.executable, "-m", "genweb.cli"]


def genweb(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*GENWEB, *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_passwd_reads_stdin_and_changes_an_existing_user(tmp_path):
    instance = tmp_path / "one"
    created = genweb("--instance", str(instance), "passwd", "alice", stdin="first pw\n")
    assert created.returncode == 0 and "Created web user alice" in created.stdout
    changed = genweb("--instance", str(instance), "passwd", "alice", stdin="second pw\n")
    assert "Changed the password of web user alice" in changed.stdout
    htpasswd = instance / "htpasswd"
    assert check_password(htpasswd, "alice", "second pw")
    assert not check_password(htpasswd, "alice", "first pw")
    assert "second pw" not in htpasswd.read_text()  # stored as a salted hash
    assert htpasswd.read_text().startswith("alice:$6$")


def test_passwd_refuses_an_empty_password_and_a_bad_name(tmp_path):
    assert "must not be empty" in genweb("--instance", str(tmp_path), "passwd", "bob").stderr
    bad = genweb("--instance", str(tmp_path), "passwd", "bob:x", stdin="pw\n")
    assert bad.returncode != 0 and "user names may contain" in bad.stderr


def test_instances_do_not_collide(tmp_path):
    env_instance, flag_instance = tmp_path / "env", tmp_path / "flag"
    assert genweb("init-db", env={"GENWEB_INSTANCE": str(env_instance)}).returncode == 0
    assert genweb("--instance", str(flag_instance), "init-db").returncode == 0
    assert (env_instance / "genweb.sqlite").exists() and (flag_instance / "genweb.sqlite").exists()


def test_run_serves_the_interface_with_basic_auth(tmp_path: Path):
    instance = tmp_path / "served"
    genweb("--instance", str(instance), "passwd", "admin", stdin="s3cret\n")
    port = free_port()
    server = subprocess.Popen([*GENWEB, "--instance", str(instance), "run", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert requests.get(url, timeout=5).status_code == 401
        home = requests.get(url, auth=("admin", "s3cret"), timeout=5)
        assert home.status_code == 200 and "Genesis High Availability Proxy Server" in home.text
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert f"http://localhost:{port}/" in output and "Log in as one of: admin" in output


def test_render_writes_every_nodes_files_for_inspection(tmp_path: Path):
    from genweb import create_app, store

    instance, out = tmp_path / "configured", tmp_path / "rendered"
    app = create_app({"TESTING": True}, instance=instance)
    with app.app_context():
        store.save_settings("systemConfig", {"privateIP": "192.168.40.70", "privateSubnet": "24",
                                             "privatePing": "192.168.40.1"})
        store.save_settings("databaseConfig", {"dbEngine": "MySQL", "dbrwPass": "rw-pass-1"})
        for number in (1, 2):
            store.create_record("haNodes", {"nodeID": str(number), "nodeName": f"node{number}",
                                            "privateIP": f"192.168.40.7{number}"})
        store.db.engine.dispose()
    done = genweb("--instance", str(instance), "render", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for node in ("node1", "node2"):
        cfg = out / node / "etc/kamailio/kamailio.cfg"
        assert "192.168.40.70" in cfg.read_text()
        assert oct(cfg.stat().st_mode & 0o777) == "0o640"
        assert "node2" in (out / node / "etc/hosts").read_text()
    assert "primitive" in (out / "cluster.crm").read_text()
    again = genweb("--instance", str(instance), "render", "--out", str(out / "again"))
    assert (out / "again/node1/etc/kamailio/kamailio.cfg").read_bytes() == \
        (out / "node1/etc/kamailio/kamailio.cfg").read_bytes()  # generated secrets are kept
    assert again.returncode == 0
    wrong = genweb("--instance", str(instance), "render", "--out", str(out), "--node", "node9")
    assert wrong.returncode != 0 and "no such node: node9" in wrong.stderr
