"""The proxy database rows written at commit, against a real MariaDB (a throw-away server on a
unix socket): tables created once, users, rows replaced in one transaction; only on a promoted
(writable) server.

MS SQL (``MssqlDatabase``): MS SQL itself cannot run here. The same code path, the rendered
ODBC DSN, unixODBC's driver manager and pyodbc, runs against MariaDB's ODBC driver
(odbc-mariadb) and the same throw-away MariaDB; only the driver name and the identifier quotes
(``proxyrows.MARIADB_ODBC`` instead of ``TSQL``) differ from a node that talks to MS SQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from genweb.commit import database, proxyrows
from genweb.commit.proxyrows import MssqlDatabase, MysqlDatabase, NotPromoted, rows_script
from genweb.commit.snapshot import Snapshot
from genweb.nodes import CommandFailed, Node, Result, Target
from tests.render.kamailio_helpers import MariaDB

pytestmark = pytest.mark.skipif(not shutil.which("mariadbd"), reason="needs mariadb-server")

NODES = [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"}]
SNAPSHOT = Snapshot.build(
    {"databaseConfig": {"dbEngine": "MySQL", "dbrwPass": "rw'pass\\1", "dbroPass": "ro",
                        "replicationPass": "repl"}},
    {"haNodes": NODES})


class LocalTransport:
    """Runs the commands here, the mariadb client pointed at the test server's socket."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        assert argv[0] == "mariadb", argv
        argv = [argv[0], "--no-defaults", f"--socket={self.socket}", "--user=root", *argv[1:]]
        done = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout)
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    yield db
    db.stop()


@pytest.fixture
def node(server) -> Node:
    return Node(Target("node1", "127.0.0.1", user="root"),
                LocalTransport(str(server.socket_path)), 60)


def test_prepare_creates_database_tables_and_users_then_rows_replace_in_one_go(server, node):
    database = MysqlDatabase()
    database.prepare(node, SNAPSHOT, None)
    database.prepare(node, SNAPSHOT, None)  # again: nothing fails, nothing doubles
    tables = {row[0] for row in server.rows("SHOW TABLES", "kamailio")}
    assert {"version", "subscriber", "address", "uacreg", "dispatcher", "htable",
            "location"} <= tables
    users = server.rows("SELECT user, host FROM mysql.user WHERE user LIKE 'amtelco%'", "mysql")
    assert sorted(map(tuple, users)) == [("amtelco", "127.0.0.1"), ("amtelco", "localhost"),
                                          ("amtelcoro", "127.0.0.1"), ("amtelcoro", "localhost")]
    rows = {"address": [{"grp": 1, "ip_addr": "198.51.100.7", "mask": 32, "port": 0,
                         "tag": "it's \\ quoted"}],
            "subscriber": [{"username": "5000", "domain": "example.com", "password": "",
                            "ha1": "a" * 32, "ha1b": "b" * 32}],
            "uacreg": []}
    database.write_rows(node, rows)
    assert server.rows("SELECT grp, ip_addr, tag FROM address", "kamailio") == [
        ["1", "198.51.100.7", "it's \\\\ quoted"]]
    database.write_rows(node, {**rows, "address": []})
    assert server.rows("SELECT COUNT(*) FROM address", "kamailio") == [["0"]]
    assert server.rows("SELECT username FROM subscriber", "kamailio") == [["5000"]]


def test_a_bad_row_changes_nothing(server, node):
    database = MysqlDatabase()
    database.prepare(node, SNAPSHOT, None)
    good = {"address": [{"grp": 2, "ip_addr": "192.0.2.1", "mask": 32, "port": 0, "tag": ""}]}
    database.write_rows(node, good)
    bad = {"address": [{"grp": 2, "ip_addr": "192.0.2.9", "mask": 32, "port": 0, "tag": ""}],
           "subscriber": [{"username": "x", "no_such_column": "y"}]}
    with pytest.raises(Exception, match="no_such_column"):
        database.write_rows(node, bad)
    assert server.rows("SELECT ip_addr FROM address", "kamailio") == [["192.0.2.1"]]


def test_rows_go_to_the_promoted_server_only(server, node, monkeypatch):
    """A replica is read-only but root could still write to it: the commit waits for the
    promotion (the cluster clears read_only on the primary) and refuses a replica."""
    monkeypatch.setattr(proxyrows, "PROMOTION_POLL", 0.2)
    database = MysqlDatabase()
    database.prepare(node, SNAPSHOT, None)
    database.write_rows(node, {"address": []})
    rows = {"address": [{"grp": 3, "ip_addr": "192.0.2.3", "mask": 32, "port": 0, "tag": ""}]}
    server.sql("SET GLOBAL read_only = ON")
    try:
        monkeypatch.setattr(proxyrows, "PROMOTION_TIMEOUT", 1.0)
        with pytest.raises(NotPromoted, match="still read-only"):
            database.write_rows(node, rows)
        assert server.rows("SELECT COUNT(*) FROM address", "kamailio") == [["0"]]
        monkeypatch.setattr(proxyrows, "PROMOTION_TIMEOUT", 30.0)
        promote = threading.Timer(1.5, lambda: server.sql("SET GLOBAL read_only = OFF"))
        promote.start()
        database.write_rows(node, rows)
        promote.join()
        assert server.rows("SELECT ip_addr FROM address", "kamailio") == [["192.0.2.3"]]
    finally:
        server.sql("SET GLOBAL read_only = OFF")


def test_identifiers_are_checked(node):
    with pytest.raises(ValueError):
        rows_script({"address; DROP TABLE x": []})
    with pytest.raises(ValueError):
        proxyrows.odbc_statements({"address": [{"ip_addr]; DROP TABLE x; --": "1"}]}, proxyrows.TSQL)


# -- MS SQL over ODBC, exercised against MariaDB's ODBC driver ---------------------------------

ODBC_PASSWORD = "rw;pa}ss'{x} \\ = \u00fc"
HOSTILE_TAG = "it's; \\ \"quoted\" ]] `x` \u20ac"


class OdbcTransport:
    """Runs the commands here with the rendered DSN as the user's ODBCINI (the machine's
    /etc/odbc.ini is left alone) and Debian's python3 (pyodbc); records every command line."""

    def __init__(self, ini: Path) -> None:
        self.ini = ini
        self.argvs: list[list[str]] = []

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        self.argvs.append(list(argv))
        env = {"PATH": "/usr/bin:/bin", "ODBCINI": str(self.ini), "HOME": os.environ.get("HOME", "/")}
        done = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout, env=env)
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def odbc_server(tmp_path_factory):
    if not (shutil.which("odbcinst") and _has_pyodbc()):
        pytest.skip("needs unixodbc, odbc-mariadb and python3-pyodbc (scripts/test.sh installs them)")
    db = MariaDB(tmp_path_factory.mktemp("mariadb-odbc")).start()
    db.create_kamailio_database("kam_db", "amtelco", ODBC_PASSWORD)
    yield db
    db.stop()


def _has_pyodbc() -> bool:
    return subprocess.run(["/usr/bin/python3", "-c", "import pyodbc"], capture_output=True).returncode == 0


def odbc_setup(server, tmp_path: Path, password: str) -> tuple[MssqlDatabase, Node, OdbcTransport]:
    snapshot = Snapshot.build({"databaseConfig": {
        "dbEngine": "MS SQL", "dbHost": f"tcp:127.0.0.1,{server.port}", "kamDatabase": "kam_db",
        "dbrwUser": "amtelco", "dbrwPass": password}})
    ini = tmp_path / "odbc.ini"
    ini.write_text(database.odbc_ini(snapshot, driver="MariaDB Unicode"))  # the rendered DSN
    transport = OdbcTransport(ini)
    node = Node(Target("node1", "127.0.0.1", user="root"), transport, 60)
    mssql = proxyrows.for_snapshot(snapshot)
    assert isinstance(mssql, MssqlDatabase)
    mssql.dialect = proxyrows.MARIADB_ODBC  # the one difference from MS SQL: identifier quotes
    mssql.prepare(node, snapshot, None)
    return mssql, node, transport


ODBC_ROWS = {
    "address": [{"grp": 1, "ip_addr": "198.51.100.7", "mask": 32, "port": 0, "tag": HOSTILE_TAG},
                {"grp": 2, "ip_addr": "192.0.2.1", "mask": 32, "port": 5060, "tag": None}],
    "subscriber": [{"username": "5000", "domain": "example.com", "password": "",
                    "ha1": "a" * 32, "ha1b": "b" * 32}],
    "uacreg": [{"l_uuid": "reg1", "l_username": "5000", "l_domain": "example.com",
                "r_username": "5000", "r_domain": "sip.example.com", "realm": "sip.example.com",
                "auth_username": "5000", "auth_password": "p'w;\\", "auth_proxy": "sip:sip.example.com",
                "expires": 3600}],
}


def test_ms_sql_rows_are_written_over_odbc_in_one_transaction(odbc_server, tmp_path):
    password = ODBC_PASSWORD
    mssql, node, transport = odbc_setup(odbc_server, tmp_path, password)
    mssql.write_rows(node, ODBC_ROWS)
    assert odbc_server.rows("SELECT grp, ip_addr, port, HEX(CONVERT(tag USING utf8mb4)) FROM address ORDER BY grp", "kam_db") == [
        ["1", "198.51.100.7", "0", HOSTILE_TAG.encode().hex().upper()], ["2", "192.0.2.1", "5060", "NULL"]]
    assert odbc_server.rows("SELECT username, ha1 FROM subscriber", "kam_db") == [["5000", "a" * 32]]
    assert odbc_server.rows("SELECT HEX(CONVERT(auth_password USING utf8mb4)) FROM uacreg", "kam_db") == [
        [ODBC_ROWS["uacreg"][0]["auth_password"].encode().hex().upper()]]
    # replaced, not added to
    mssql.write_rows(node, {**ODBC_ROWS, "address": ODBC_ROWS["address"][1:]})
    assert odbc_server.rows("SELECT COUNT(*) FROM address", "kam_db") == [["1"]]
    # a bad row: an error, and nothing of the transaction is kept
    with pytest.raises(CommandFailed, match="nothing changed"):
        mssql.write_rows(node, {"address": [], "subscriber": [{"username": "x", "no_such_column": "y"}]})
    assert odbc_server.rows("SELECT COUNT(*) FROM address", "kam_db") == [["1"]]
    assert odbc_server.rows("SELECT COUNT(*) FROM subscriber", "kam_db") == [["1"]]
    # the password never was on a command line
    assert transport.argvs and not any(password in " ".join(argv) for argv in transport.argvs)


def test_ms_sql_wrong_password_is_refused_and_not_shown(odbc_server, tmp_path):
    mssql, node, _ = odbc_setup(odbc_server, tmp_path, "wrong-pass-1")
    with pytest.raises(CommandFailed) as failure:
        mssql.write_rows(node, ODBC_ROWS)
    assert "Access denied" in str(failure.value) and "wrong-pass-1" not in str(failure.value)
    assert odbc_server.rows("SELECT COUNT(*) FROM subscriber", "kam_db")[0][0] in ("0", "1")


# -- rootPass (13.1.2): where the server refuses the OS root's socket login -------------------

ROOT_PASS = 'r"o\\o t#;\'pw\\'


class RootPassTransport:
    """mariadb and genweb's file writes here, with ROOT_OPTION_FILE moved to a temporary path;
    records every command line."""

    def __init__(self, socket: str, option_file: Path) -> None:
        self.socket, self.option_file = socket, option_file
        self.argvs: list[list[str]] = []

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        self.argvs.append(list(argv))
        argv = [arg.replace(proxyrows.ROOT_OPTION_FILE, str(self.option_file)) for arg in argv]
        if argv[0] == "mariadb":
            first = argv[1] if argv[1].startswith("--defaults-extra-file=") else "--no-defaults"
            rest = argv[2:] if first == argv[1] else argv[1:]
            argv = ["mariadb", first, f"--socket={self.socket}", *rest]
        done = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout)
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def close(self) -> None:
        pass


def root_snapshot(root_pass: str) -> Snapshot:
    return Snapshot.build({"databaseConfig": {**SNAPSHOT.settings["databaseConfig"],
                                              "rootPass": root_pass}}, {"haNodes": NODES})


def test_root_pass_is_used_where_the_socket_login_is_refused(tmp_path):
    db = MariaDB(tmp_path / "db").start()
    try:
        db.sql(f"ALTER USER root@localhost IDENTIFIED BY {database.sql_literal(ROOT_PASS)}")
        option_file = tmp_path / "mysql-root.cnf"
        transport = RootPassTransport(str(db.socket_path), option_file)
        node = Node(Target("node1", "127.0.0.1", user="root"), transport, 60)
        snapshot = root_snapshot(ROOT_PASS)
        writer = proxyrows.for_snapshot(snapshot)
        writer.prepare(node, snapshot, None)
        writer.write_rows(node, {"address": [{"grp": 1, "ip_addr": "192.0.2.9", "mask": 32,
                                              "port": 0, "tag": ""}]})
        assert writer.root(node, ["--execute=SELECT ip_addr FROM kamailio.address"]).stdout \
            == "192.0.2.9\n"
        assert option_file.stat().st_mode & 0o777 == 0o600
        assert not any(ROOT_PASS in " ".join(argv) for argv in transport.argvs)
        # a wrong rootPass: refused, and said so
        wrong = root_snapshot("wrong")
        with pytest.raises(CommandFailed, match="Access denied for user 'root'"):
            proxyrows.for_snapshot(wrong).prepare(node, wrong, None)
    finally:
        db.stop()
