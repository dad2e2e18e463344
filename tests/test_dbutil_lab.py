"""The proxy database part of Database Utilities (14.0) against real nodes: a 2-node lab where
node2 runs MariaDB with Kamailio's tables and rows holding secrets, and node1 runs none.

Needs root and network namespaces (skipped otherwise, with the reason), and mariadb-server.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from genweb import nodes, store
from genweb.commit.database import KAMAILIO_MYSQL_SCHEMA, MYSQL_DATABASE
from genweb.dbutil import proxydb
from genweb.lab import Lab
from genweb.nodes import MASK, NodeAccess, Target

from .lab.labkit import (
    lab_name,
    lab_unavailable,
    leftovers,
    mark_owned,
    node_pid_namespaces,
    sweep_orphaned_test_labs,
)
from .test_cpsshkeys import CPSSHKEYS
from .test_dbutil import assert_fits, dbshow, download, leaked, seed_store

# Values that exist only in the proxy database's secret columns.
PROXY_SECRETS = ["PxSubPw-5000", "9a0364b9e99bb480dd25e1f0284c8555", "PxSubHa1b-5001",
                 "PxUacPw-reg0", "PxUacHa1-reg0"]
ROOT_PASSWORD = "PxRootPw-4471"
START_MARIADB = (
    "set -e; install -d -o mysql -g mysql /run/mysqld; "
    "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db "
    ">/var/log/mariadb-install.log 2>&1; "
    "(setsid mariadbd --user=mysql --skip-networking --skip-log-bin "
    "--innodb-buffer-pool-size=16M >/var/log/mariadbd.log 2>&1 </dev/null &); "
    "for i in $(seq 100); do mariadb -e 'SELECT 1' >/dev/null 2>&1 && exit 0; sleep 0.1; done; "
    "exit 1")
ROWS = """
INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES
 ('5000', 'example.com', 'PxSubPw-5000', '9a0364b9e99bb480dd25e1f0284c8555', ''),
 ('5001', 'example.com', '', '0f9c2d4e6a8b0c1d3e5f7a9b1c3d5e7f', 'PxSubHa1b-5001'),
 ('5002', 'example.com', '', '', '');
INSERT INTO location (ruid, username, domain, contact, received, expires, callid, user_agent,
 last_modified) VALUES
 ('uloc-1', '5000', 'example.com',
  'sip:5000@203.0.113.50:5062;transport=udp;rinstance=4a1b2c3d4e5f6a7b;ob', 'sip:203.0.113.50:5062',
  '2030-01-01 00:00:00', 'call-1', 'Genesis Softphone 7.2.1 (Windows 10 x64; build 20348)',
  '2024-01-01 00:00:00');
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (1, '198.51.100.20', 32, 0, 'allow'),
 (2, '203.0.113.0', 24, 5060, 'deny');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES
 (1, 'sip:198.51.100.30:5060', 0, 0, '', 'genesis primary'),
 (2, 'sip:198.51.100.31:5060', 0, 0, '', 'genesis backup');
INSERT INTO uacreg (l_uuid, l_username, l_domain, r_username, r_domain, realm, auth_username,
 auth_password, auth_ha1, auth_proxy, expires, flags, reg_delay, contact_addr, socket) VALUES
 ('reg0', 'reg0', 'sip.example.net', 'reg0', 'sip.example.net', 'sip.example.net', 'reg0',
  'PxUacPw-reg0', 'PxUacHa1-reg0', 'sip:sip.example.net', 3600, 0, 0, '', '');
INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES
 ('primary', 0, 0, '1', 0);
"""


def schema_script() -> str:
    files = dict.fromkeys([*KAMAILIO_MYSQL_SCHEMA, "/usr/share/kamailio/mysql/htable-create.sql"])
    return (f"CREATE DATABASE {MYSQL_DATABASE}; USE {MYSQL_DATABASE};\n"
            + "".join(Path(f).read_text() for f in files) + ROWS)


@pytest.fixture(scope="module")
def lab():
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    if not all(shutil.which(tool) for tool in ("mariadbd", "mariadb-install-db", "mariadb")):
        pytest.skip("mariadb-server is not installed")
    if not all(Path(f).exists() for f in KAMAILIO_MYSQL_SCHEMA):
        pytest.skip("kamailio-mysql-modules (the schema files) is not installed")
    sweep_orphaned_test_labs()
    built = Lab.up(2, lab_name("d"))
    mark_owned(built)
    namespaces = node_pid_namespaces(built)
    try:
        built.exec("node2", ["sh", "-c", START_MARIADB], timeout=60)
        built.exec("node2", ["mariadb"], input=schema_script())
        yield built
    finally:
        built.down(purge=True)
    assert not leftovers(built, namespaces)


@pytest.fixture(scope="module")
def web_instance(lab, tmp_path_factory) -> Path:
    """The web server's key authorized on the nodes and their host keys recorded (what
    cpsshkeys does; test_cpsshkeys.py runs the real thing)."""
    instance = tmp_path_factory.mktemp("dbutil-instance")
    lab.authorize_key(nodes.ensure_client_key(instance / "ssh" / "id_ed25519"))
    access = NodeAccess.for_instance(instance, connector=lab.connect)
    for node in lab.nodes:
        access.record_host_key(Target(node.name, node.private_ip))
    return instance


@pytest.fixture
def access(lab, web_instance) -> NodeAccess:
    return NodeAccess.for_instance(web_instance, connector=lab.connect, connect_timeout=2,
                                   command_timeout=60)


def targets(lab, *names: str) -> list[Target]:
    return [Target(name, lab.node(name).private_ip) for name in names]


def test_the_file_holds_the_active_nodes_proxy_database(app, client, instance, lab, tmp_path):
    """End to end as an operator: HA Nodes saved, cpsshkeys run, the web server reaching the
    lab (NODE_CONNECTOR), Download Database."""
    with app.app_context():
        secrets = seed_store(subscribers=5, node_ips=(lab.nodes[0].private_ip,
                                                      lab.nodes[1].private_ip))
        store.db.session.remove()
    password = tmp_path / "password"
    password.write_text(lab.password + "\n")
    keys = subprocess.run([str(CPSSHKEYS), "--instance", str(instance), "--lab", lab.name,
                           "--password-file", str(password)], capture_output=True, text=True,
                          timeout=120)
    assert keys.returncode == 0, keys.stdout + keys.stderr
    app.config["NODE_CONNECTOR"] = f"lab:{lab.name}"
    document, text, _ = download(client)

    assert not leaked(text, secrets + PROXY_SECRETS)
    proxy = document["proxy"]
    assert (proxy["status"], proxy["node"], proxy["host"], proxy["role"]) == (
        "ok", "node2", lab.nodes[1].private_ip, "primary")
    assert proxy["server"].startswith("MariaDB 10.")
    first, second = proxy["attempts"]
    assert first["node"] == "node1" and first["outcome"].startswith(
        "MariaDB is not running on this node: ERROR 2002")
    assert second == {"node": "node2", "host": lab.nodes[1].private_ip,
                      "outcome": "answered: primary (writable)"}
    tables = proxy["tables"]
    assert {"subscriber", "location", "address", "dispatcher", "uacreg", "htable",
            "version"} <= set(tables)
    subscribers = tables["subscriber"]["rows"]
    assert [(s["username"], s["password"], s["ha1"], s["ha1b"]) for s in subscribers] == [
        ("5000", MASK, MASK, ""), ("5001", "", MASK, MASK), ("5002", "", "", "")]
    assert tables["uacreg"]["rows"][0]["auth_password"] == tables["uacreg"]["rows"][0][
        "auth_ha1"] == MASK
    assert tables["location"]["rows"][0]["user_agent"].startswith("Genesis Softphone")
    assert [d["destination"] for d in tables["dispatcher"]["rows"]] == [
        "sip:198.51.100.30:5060", "sip:198.51.100.31:5060"]

    path = tmp_path / "dump.json.gz"
    path.write_bytes(gzip.compress(text.encode()))
    shown = dbshow(str(path)).stdout
    lines = assert_fits(shown)
    assert not leaked(shown, secrets + PROXY_SECRETS)
    assert any(line.startswith("proxy database kamailio: read from node2 (198.18.0.12, primary")
               for line in lines)
    for table in ("subscriber (3)", "location (1)", "uacreg (1)", "dispatcher (2)"):
        assert f"══ proxy: {table} " in shown
    assert "sip:198.51.100.30:5060" in shown and "Genesis Softphone" in shown  # registrations


def test_secret_columns_never_leave_the_node(access, lab):
    with access.open(targets(lab, "node2")[0]) as node:
        client = proxydb.MariaDB(node)
        raw = client.query(proxydb.dump_sql(client.schema(), 100))
    assert not leaked(raw, PROXY_SECRETS)
    assert json.loads(raw.splitlines()[0])[0] == "table" and MASK in raw


def test_a_node_without_mariadb_gives_a_clear_unavailable_section(access, lab):
    section = proxydb.read_proxy(targets(lab, "node1"), access)
    assert (section["status"], section["reason"], section["tables"]) == (
        "unavailable", "no node could be read (see attempts)", {})
    [attempt] = section["attempts"]
    assert attempt["node"] == "node1" and "MariaDB is not running on this node" in \
        attempt["outcome"] and "mysqld.sock" in attempt["outcome"]


def test_unreachable_nodes_are_named_and_the_next_node_answers(access, lab):
    ghost = Target("ghost", "198.18.0.99")  # in the lab's network, nobody there
    # Any recorded key will do: the address does not answer at all.
    access.known_hosts.add(ghost, paramiko.PKey.from_path(lab.client_key))
    try:
        section = proxydb.read_proxy([ghost, *targets(lab, "node2")], access)
    finally:
        access.forget_host_key(ghost)
    assert section["status"] == "ok" and section["node"] == "node2"
    assert section["attempts"][0]["node"] == "ghost"
    assert section["attempts"][0]["outcome"].startswith("cannot connect to 198.18.0.99:22")


def test_a_replica_answers_when_no_primary_does(access, lab):
    lab.exec("node2", ["mariadb", "-e", "SET GLOBAL read_only = 1"])
    try:
        section = proxydb.read_proxy(targets(lab, "node2", "node1"), access)
    finally:
        lab.exec("node2", ["mariadb", "-e", "SET GLOBAL read_only = 0"])
    assert (section["status"], section["node"], section["role"]) == ("ok", "node2", "replica")
    assert [a["outcome"].split(":")[0] for a in section["attempts"]] == [
        "reached", "MariaDB is not running on this node", "answered"]
    assert section["tables"]["subscriber"]["rowCount"] == 3


def test_rootpass_is_used_when_the_socket_login_is_refused(access, lab):
    lab.exec("node2", ["mariadb", "-e", "ALTER USER root@localhost IDENTIFIED VIA "
                       f"mysql_native_password USING PASSWORD('{ROOT_PASSWORD}')"])
    try:
        refused = proxydb.read_proxy(targets(lab, "node2"), access, root_password="wrong-pw-1")
        answered = proxydb.read_proxy(targets(lab, "node2"), access,
                                      root_password=ROOT_PASSWORD)
    finally:
        lab.exec("node2", ["mariadb", "-uroot", f"-p{ROOT_PASSWORD}", "-e",
                           "ALTER USER root@localhost IDENTIFIED VIA unix_socket"])
    assert refused["status"] == "unavailable"
    assert "Access denied for user 'root'@'localhost'" in refused["attempts"][0]["outcome"]
    assert answered["status"] == "ok" and answered["tables"]["subscriber"]["rowCount"] == 3
    assert ROOT_PASSWORD not in json.dumps([refused, answered])
