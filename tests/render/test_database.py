"""The proxy database (13.0): MariaDB with the rendered server config and the commit's user
statements, the ODBC DSN for MS SQL, and the MS SQL table script.

One throw-away MariaDB serves the module: the rendered 90-genproxy.cnf is included unchanged
from a small file that gives it a temporary datadir, socket and a free port; the node's
privateIP is 127.0.0.1 in the snapshot itself.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genweb.commit import database
from genweb.commit.render import render
from genweb.commit.snapshot import Snapshot
from tests.render.media_helpers import Process, free_port, run, wait_for

HOSTILE = "rw'\"\\;--$(id) `x` %s \u00fc"
PASSWORDS = {"rootPass": "root'pw\\", "dbrwPass": HOSTILE, "dbroPass": "ro pass; DROP DATABASE kamailio",
             "replicationPass": "repl#1\"'"}
NODES = [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"},
         {"nodeID": "2", "nodeName": "node2", "privateIP": "127.0.0.3"}]
MSSQL_TABLES = ("version", "subscriber", "location", "address", "uacreg", "dispatcher",
                "htable")


def db_snapshot(config: dict[str, str] | None = None, nodes: list[dict[str, str]] | None = None) -> Snapshot:
    system = {"privateIP": "127.0.0.1", "privateSubnet": "8", "privatePing": "127.0.0.1"}
    return Snapshot.build({"systemConfig": system,
                           "databaseConfig": {"dbEngine": "MySQL", **PASSWORDS, **(config or {})}},
                          {"haNodes": NODES if nodes is None else nodes},
                          {"rtpDbPass": "Zq3_x-9TfL0wNs7uVbYc2dEe"})


# -- unit ------------------------------------------------------------------------------------

def test_mysql_nodes_get_their_own_server_id_and_no_odbc() -> None:
    snapshot = db_snapshot()
    for node in snapshot.nodes:
        files = {file.path: file for file in database.database_files(snapshot, node)}
        assert set(files) == {database.MYSQL_CNF}
        text = files[database.MYSQL_CNF].content
        assert f"\nserver_id = {node['nodeID']}\n" in text
        assert f"\nreport_host = {node['nodeName']}\n" in text
    assert "\nbind_address = 127.0.0.1,127.0.0.3\n" in database.mysql_cnf(snapshot.nodes[1])


@pytest.mark.parametrize(("db_host", "server"), [
    ("sql.example.com", "tcp:sql.example.com,1433"),
    ("tcp:192.0.2.5,1444", "tcp:192.0.2.5,1444"),
    ("sql.example.com,2000", "tcp:sql.example.com,2000"),
])
def test_mssql_gets_the_dsn_from_db_host(db_host: str, server: str) -> None:
    snapshot = db_snapshot({"dbEngine": "MS SQL", "dbHost": db_host, "kamDatabase": "kam_db"})
    files = list(database.database_files(snapshot, snapshot.nodes[0]))
    assert [file.path for file in files] == [database.ODBC_INI]
    text = files[0].content
    assert "\n[genproxy]\n" in text and "\nDriver = ODBC Driver 18 for SQL Server\n" in text
    assert f"\nServer = {server}\n" in text and "\nDatabase = kam_db\n" in text
    assert "Port" not in text and HOSTILE not in text and "amtelco" not in text


def test_no_password_is_ever_in_sql_text() -> None:
    statements = database.mysql_user_statements(db_snapshot())
    script = database.mysql_script(statements)
    for password in PASSWORDS.values():
        assert password not in script
        assert all(password not in sql and password not in params for sql, params in statements)
    assert database.mysql_native_hash(HOSTILE) in script


def test_statements_cover_every_node_address_and_drop_removed_nodes() -> None:
    snapshot = db_snapshot()
    accounts = {params[:2] for sql, params in database.mysql_user_statements(snapshot)
                if sql.startswith("CREATE USER")}
    assert accounts == {(user, host) for user in ("amtelco", "amtelcoro", "replication")
                        for host in ("127.0.0.1", "127.0.0.3", "localhost")}
    bigger = db_snapshot(nodes=[*NODES, {"nodeID": "3", "nodeName": "node3", "privateIP": "127.0.0.4"}])
    drops = [params for sql, params in database.mysql_user_statements(snapshot, previous=bigger)
             if sql.startswith("DROP USER")]
    assert sorted(drops) == [("amtelco", "127.0.0.4"), ("amtelcoro", "127.0.0.4"),
                             ("replication", "127.0.0.4")]


def test_render_is_deterministic_and_switches_with_the_engine() -> None:
    mysql, mssql = db_snapshot(), db_snapshot({"dbEngine": "MS SQL", "dbHost": "sql.example.com"})
    for snapshot in (mysql, mssql):
        assert render(snapshot).files == render(snapshot).files
    paths = {file.path for file in render(mysql).files["node2"]}
    assert database.MYSQL_CNF in paths and database.ODBC_INI not in paths
    paths = {file.path for file in render(mssql).files["node2"]}
    assert database.ODBC_INI in paths and database.MYSQL_CNF not in paths


# -- the MS SQL table script, checked against Kamailio's own MySQL schema ---------------------

@dataclass
class Table:
    columns: dict[str, str]  # name -> the rest of its definition
    uniques: dict[str, tuple[str, ...]]
    indexes: dict[str, tuple[str, ...]]
    version: int


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip(" `[]") for name in text.split(","))


def parse_schema(sql: str, quote: str) -> dict[str, Table]:
    """Tables, columns, keys, indexes and version rows of a Kamailio-style schema script."""
    q_open, q_close = quote
    ident = rf"\{q_open}?(\w+)\{q_close}?"
    tables: dict[str, Table] = {}
    for name, body in re.findall(rf"CREATE TABLE {ident} \((.*?)\n\);", sql, re.DOTALL):
        table = tables[name] = Table({}, {}, {}, -1)
        for line in body.strip().splitlines():
            line = line.strip().rstrip(",")
            if unique := re.fullmatch(rf"CONSTRAINT {ident} UNIQUE \((.*)\)", line):
                table.uniques[unique.group(1)] = _names(unique.group(2))
            else:
                column = re.fullmatch(rf"\{q_open}(\w+)\{q_close} (.*)", line)
                assert column, line
                table.columns[column.group(1)] = column.group(2)
    for name, table_name, columns in re.findall(rf"CREATE INDEX {ident} ON {ident} \((.*?)\);", sql):
        tables[table_name].indexes[name] = _names(columns)
    for table_name, version in re.findall(r"VALUES \('(\w+)', ?'?(\d+)'?\);", sql, re.IGNORECASE):
        tables[table_name].version = int(version)
    return tables


def expected_tsql(mysql_definition: str) -> tuple[str, bool, str | None]:
    """(T-SQL type, NOT NULL, default) that a MySQL column definition translates to."""
    definition = mysql_definition.upper()
    if "AUTO_INCREMENT" in definition:
        return "INT IDENTITY(1,1)", True, None
    varchar = re.match(r"VARCHAR\((\d+)\)", definition)
    kind = (f"VARCHAR({varchar.group(1)})" if varchar else "DATETIME" if definition.startswith("DATETIME")
            else "REAL" if definition.startswith("FLOAT") else "INT")
    default = re.search(r"DEFAULT ('[^']*'|[\w.]+)", mysql_definition)
    return kind, "NOT NULL" in definition, default.group(1) if default else None


def tsql_column(definition: str) -> tuple[str, bool, str | None]:
    kind = re.match(r"(INT IDENTITY\(1,1\)|VARCHAR\(\d+\)|DATETIME|REAL|INT)", definition).group(1)
    default = re.search(r"DEFAULT ('[^']*'|[\w.]+)", definition)
    return kind, "NOT NULL" in definition, default.group(1) if default else None


def test_mssql_script_has_every_table_column_key_and_version_kamailio_has() -> None:
    mysql_sql = "\n".join(Path(path).read_text() for path in database.KAMAILIO_MYSQL_SCHEMA
                          if Path(path).exists())
    if not mysql_sql:
        pytest.skip("needs kamailio-mysql-modules (scripts/test.sh installs it)")
    kamailio = parse_schema(mysql_sql, "``")
    tsql_text = database.MSSQL_TABLE_SCRIPT.read_text()
    ours = parse_schema(tsql_text, "[]")
    assert set(ours) == set(MSSQL_TABLES)
    for name in MSSQL_TABLES:
        theirs, mine = kamailio[name], ours[name]
        assert list(mine.columns) == list(theirs.columns), name
        for column, definition in theirs.columns.items():
            assert tsql_column(mine.columns[column]) == expected_tsql(definition), (name, column)
        assert mine.uniques == theirs.uniques and mine.indexes == theirs.indexes, name
        assert mine.version == theirs.version > 0, name
        assert "PRIMARY KEY" in mine.columns["id"]
    assert not re.search(r"`|AUTO_INCREMENT|UNSIGNED|ENGINE=", tsql_text.split("SET NOCOUNT ON")[1])


# -- engine: a throw-away MariaDB ------------------------------------------------------------

@dataclass
class Server:
    folder: Path
    port: int
    socket: Path
    snapshot: Snapshot

    def sql(self, sql: str, user: str = "root", password: str | None = None, tcp: bool = False,
            database_name: str = "", check: bool = True) -> str:
        """Run SQL with the ``mariadb`` client; the password goes in the environment, not argv."""
        where = ["-h", "127.0.0.1", "-P", str(self.port)] if tcp else ["-S", str(self.socket)]
        if password is None:
            password = self.snapshot.value("databaseConfig",
                                           {"root": "rootPass", "amtelco": "dbrwPass",
                                            "amtelcoro": "dbroPass"}.get(user, "replicationPass"))
        result = run(["mariadb", "--no-defaults", *where, "-u", user, "-N", "-B",
                      *([database_name] if database_name else [])],
                     env={"MYSQL_PWD": password}, stdin=sql, check=check)
        return (result.stdout + result.stderr).strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not all(shutil.which(tool) for tool in ("mariadbd", "mariadb-install-db", "mariadb")):
        pytest.skip("needs mariadb-server (scripts/test.sh installs it)")
    folder = tmp_path_factory.mktemp("mariadb")
    snapshot = db_snapshot()
    rendered = folder / "90-genproxy.cnf"
    rendered.write_text(database.mysql_cnf(snapshot.nodes[0]))
    port, sock = free_port(), folder / "mysqld.sock"
    main = folder / "my.cnf"
    main.write_text(f"[mysqld]\ndatadir = {folder / 'data'}\nsocket = {sock}\nport = {port}\n"
                    f"pid_file = {folder / 'mysqld.pid'}\nlog_error = {folder / 'error.log'}\n"
                    f"user = root\n!include {rendered}\n")
    run(["mariadb-install-db", f"--defaults-file={main}", "--auth-root-authentication-method=normal",
         "--skip-test-db"])
    process = Process(["mariadbd", f"--defaults-file={main}"], folder / "stdout.log")
    try:
        wait_for(lambda: "ready for connections" in (folder / "error.log").read_text(errors="replace")
                 if (folder / "error.log").exists() else False, timeout=30, what="mariadbd")
        server = Server(folder, port, sock, snapshot)
        # a node as installed: root has the operator's rootPass
        root_pass = database.sql_literal(snapshot.value("databaseConfig", "rootPass"))
        server.sql(f"ALTER USER root@localhost IDENTIFIED BY {root_pass};", password="")
        # what the commit runs on the primary: the users, then (first time only) the schema
        server.sql(database.mysql_script(database.mysql_user_statements(snapshot)))
        for path in database.KAMAILIO_MYSQL_SCHEMA:
            server.sql(Path(path).read_text(), database_name=database.MYSQL_DATABASE)
        yield server
    finally:
        process.stop()


def test_server_runs_the_rendered_replication_settings(server: Server) -> None:
    values = server.sql("SELECT @@server_id, @@log_bin, @@binlog_format, @@log_slave_updates, "
                        "@@gtid_strict_mode, @@read_only, @@skip_name_resolve, @@bind_address;")
    assert values.split("\t") == ["1", "1", "ROW", "1", "1", "1", "1", "127.0.0.1"]


def test_users_exist_for_every_node_address(server: Server) -> None:
    rows = server.sql("SELECT user, host FROM mysql.user WHERE user LIKE 'amtelco%' "
                      "OR user = 'replication';").splitlines()
    assert {tuple(row.split("\t")) for row in rows} == {
        (user, host) for user in ("amtelco", "amtelcoro", "replication")
        for host in ("127.0.0.1", "127.0.0.3", "localhost")}


def test_read_only_until_promoted_then_amtelco_writes_and_amtelcoro_cannot(server: Server) -> None:
    insert = "INSERT INTO subscriber (username, domain, ha1) VALUES ('alice', 'example.com', 'x');"
    kamailio = database.MYSQL_DATABASE
    assert "read-only" in server.sql(insert, "amtelco", tcp=True, database_name=kamailio, check=False)
    # what the mysql resource agent does on promotion, as the replication user
    server.sql("SET GLOBAL read_only = OFF; SHOW SLAVE STATUS;", "replication", tcp=True)
    server.sql(insert, "amtelco", tcp=True, database_name=kamailio)
    denied = server.sql(insert.replace("alice", "mallory"), "amtelcoro", tcp=True,
                        database_name=kamailio, check=False)
    assert "INSERT command denied" in denied
    assert server.sql("SELECT username FROM subscriber;", "amtelcoro", tcp=True,
                      database_name=kamailio) == "alice"
    assert server.sql("SELECT COUNT(*) FROM subscriber;", "amtelcoro", database_name=kamailio) == "1"
    assert "Access denied" in server.sql("SELECT 1;", "amtelco", password="wrong", tcp=True, check=False)


def test_kamailio_schema_versions_loaded(server: Server) -> None:
    rows = server.sql("SELECT table_name, table_version FROM version;",
                      database_name=database.MYSQL_DATABASE).splitlines()
    versions = dict(row.split("\t") for row in rows)
    assert {name: versions[name] for name in MSSQL_TABLES} == {
        "version": "1", "subscriber": "7", "location": "9", "address": "6", "uacreg": "5",
        "dispatcher": "4", "htable": "2"}


def test_statements_rerun_cleanly_and_change_passwords(server: Server) -> None:
    changed = db_snapshot({"dbroPass": "new ro 'pass'"})
    server.sql(database.mysql_script(database.mysql_user_statements(changed, previous=server.snapshot)))
    assert "Access denied" in server.sql("SELECT 1;", "amtelcoro", tcp=True, check=False)
    assert server.sql("SELECT 1;", "amtelcoro", password="new ro 'pass'", tcp=True) == "1"
    server.sql(database.mysql_script(database.mysql_user_statements(server.snapshot)))
    assert server.sql("SELECT 1;", "amtelcoro", tcp=True) == "1"


def test_sql_literal_round_trips_any_text(server: Server) -> None:
    rng = random.Random(4)
    alphabet = "'\"\\%_;`$()\n\r\t\0\x1a -#/*aZ9\u00fc\u20ac\U0001f600"
    texts = [HOSTILE, "", "\\'", "'; DROP TABLE version; --"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(60)]
    statements = [("SELECT HEX(%s)", (text,)) for text in texts]
    script = database.mysql_script(statements)
    hexes = server.sql(script).splitlines()[-len(texts):]
    assert hexes == [text.encode().hex().upper() for text in texts]


def test_odbc_dsn_reaches_the_database(server: Server, tmp_path: Path) -> None:
    """MS SQL itself cannot run here: this runs the same unixODBC path (the rendered DSN, isql,
    the driver manager) against MariaDB's ODBC driver and this module's MariaDB instead of
    Microsoft's driver and server."""
    if not shutil.which("isql"):
        pytest.skip("needs unixodbc (scripts/test.sh installs it)")
    snapshot = db_snapshot({"dbEngine": "MS SQL", "dbHost": f"tcp:127.0.0.1,{server.port}",
                            "kamDatabase": database.MYSQL_DATABASE})
    ini = tmp_path / "odbc.ini"
    ini.write_text(database.odbc_ini(snapshot, driver="MariaDB Unicode"))
    result = run(["isql", "-b", "-v", database.ODBC_DSN, "amtelco",
                  server.snapshot.value("databaseConfig", "dbrwPass")],
                 env={"ODBCINI": str(ini)}, stdin="SELECT COUNT(*) FROM version\n")
    assert re.search(r"^\|\s*\d+\s*\|$", result.stdout, re.MULTILINE), result.stdout
