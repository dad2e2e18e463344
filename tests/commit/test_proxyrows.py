"""The proxy database rows written at commit, against a real MariaDB (a throw-away server on a
unix socket): tables created once, users, rows replaced in one transaction."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from genweb.commit.proxyrows import MssqlDatabase, MysqlDatabase, NotSupported, rows_script
from genweb.commit.snapshot import Snapshot
from genweb.nodes import Node, Result, Target
from tests.render.kamailio_helpers import MariaDB

pytestmark = pytest.mark.skipif(not shutil.which("mariadbd"), reason="needs mariadb-server")

SNAPSHOT = Snapshot.build(
    {"databaseConfig": {"dbEngine": "MySQL", "dbrwPass": "rw'pass\\1", "dbroPass": "ro",
                        "replicationPass": "repl"}},
    {"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"}]})


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


def test_identifiers_are_checked_and_ms_sql_says_it_is_not_implemented(node):
    with pytest.raises(ValueError):
        rows_script({"address; DROP TABLE x": []})
    with pytest.raises(NotSupported, match="not implemented"):
        MssqlDatabase().write_rows(node, {"address": []})
