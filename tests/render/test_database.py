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
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from genweb.commit import database, proxyrows
from genweb.commit.render import render
from genweb.commit.snapshot import Snapshot
from genweb.nodes import Node, Result, Target
from tests.render import test_cluster, test_kamailio
from tests.render.kamailio_helpers import SipClient, odbc_environment
from tests.render.media_helpers import Process, free_port, run, wait_for

crm_env = test_cluster.crm_env  # the fixture: crmsh with genweb's own agents' metadata

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
        assert set(files) == {database.MYSQL_CNF, database.REPLICATION_PASSWORD_FILE}
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
    elsewhere = db_snapshot(nodes=[{"nodeID": "1", "nodeName": "node1", "privateIP": "198.18.0.11"}])
    hosts = {params[1] for sql, params in database.mysql_user_statements(elsewhere)
             if sql.startswith("CREATE USER")}
    assert hosts == {"198.18.0.11", "127.0.0.1", "localhost"}  # Kamailio's db_url uses 127.0.0.1
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
    # replication may only replicate; the resource agent promotes as root over the socket
    assert "denied" in server.sql("SET GLOBAL read_only = OFF;", "replication", tcp=True,
                                  check=False)
    server.sql("SET GLOBAL read_only = OFF; SHOW SLAVE STATUS;")
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


# -- the cluster's resources (MySQL), checked offline by crmsh, crm_verify and crm_simulate ----

CLUSTER_TOOLS = ("crm", "cibadmin", "crm_verify", "crm_simulate", "crm_mon")
needs_cluster_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in CLUSTER_TOOLS),
    reason="needs crmsh and pacemaker (scripts/test.sh installs them)")


def cluster_snapshot(config: dict[str, str] | None = None) -> Snapshot:
    """Three nodes on loopback with the whole service (IPs, Kamailio, media) and MySQL."""
    from tests.render.test_cluster import GENERATED, SYSTEM, node
    return Snapshot.build({"systemConfig": dict(SYSTEM),
                           "databaseConfig": {"dbEngine": "MySQL", **PASSWORDS, **(config or {})}},
                          {"haNodes": [node(n) for n in (1, 2, 3)]}, GENERATED)


def load_full_crm(snap: Snapshot, folder: Path, env: dict[str, str]) -> Path:
    """The whole rendered crm script (every engine's part) in a CIB file with the snapshot's
    nodes, checked by crmsh (parameter names against the agents' metadata) and crm_verify."""
    import xml.etree.ElementTree as ET

    from tests.render.test_cluster import EXPECTED_NOISE
    from tests.render.test_cluster import run as crm_run
    cib = folder / "cib.xml"
    cib.write_text(crm_run(["cibadmin", "--empty"], env).stdout)
    env = {**env, "CIB_file": str(cib)}
    for record in snap.nodes:
        element = ET.Element("node", id=record["nodeID"], uname=record["nodeName"])
        crm_run(["cibadmin", "--create", "-o", "nodes", "-X", ET.tostring(element, encoding="unicode")], env)
    script = folder / "all.crm"
    script.write_text(render(snap).crm)
    loaded = crm_run(["crm", "-D", "plain", "configure", "load", "update", str(script)], env)
    complaints = [line for line in loaded.stderr.splitlines()
                  if line.strip() and not any(noise in line for noise in EXPECTED_NOISE)]
    assert complaints == [], "crmsh complained:\n" + "\n".join(complaints)
    online = folder / "online.xml"
    crm_run(["crm_simulate", "--xml-file", str(cib), "--quorum", "true", "--save-output", str(online),
             *(arg for record in snap.nodes for arg in ("--node-up", record["nodeName"]))], env)
    crm_run(["crm_verify", "--xml-file", str(online), "-V"], env)
    return cib


@needs_cluster_tools
def test_mysql_resources_load_verify_and_keep_passwords_out(tmp_path: Path, crm_env) -> None:
    snap = cluster_snapshot()
    crm = render(snap).crm
    assert f"primitive {database.DB_PRIM} {database.MYSQL_AGENT}" in crm
    assert f"colocation col_db_with_ip inf: {database.DB_CLONE}:Promoted ip_group" in crm
    assert "ord_db_before_kam" not in crm  # Kamailio does not wait for the promotion
    for password in PASSWORDS.values():
        assert password not in crm and database.sql_literal(password) not in crm
    cib = load_full_crm(snap, tmp_path, crm_env).read_text()
    assert 'type="genproxy-mysql"' in cib and 'name="notify" value="true"' in cib
    # the replicas' copy of replicationPass: root only, a literal the agent puts into SQL
    files = {file.path: file for file in render(snap).files["node2"]}
    secret = files[database.REPLICATION_PASSWORD_FILE]
    assert secret.mode == 0o600 and secret.owner == "root"
    assert secret.content == database.sql_literal(PASSWORDS["replicationPass"]) + "\n"
    assert database.database_object_ids(snap) == (database.DB_PRIM, database.DB_CLONE,
                                                  "col_db_with_ip")


@needs_cluster_tools
def test_ms_sql_has_no_database_resource(tmp_path: Path, crm_env) -> None:
    snap = cluster_snapshot({"dbEngine": "MS SQL", "dbHost": "sql.example.com"})
    assert database.database_crm(snap) == "" and database.database_object_ids(snap) == ()
    cib = load_full_crm(snap, tmp_path, crm_env).read_text()
    assert "db_prim" not in cib and "mysql" not in cib


def graph_edges(dotfile: Path) -> dict[str, set[str]]:
    """crm_simulate's transition graph: action -> the actions that wait for it."""
    edges: dict[str, set[str]] = {}
    for first, then in re.findall(r'^"([^"]+)" -> "([^"]+)"', dotfile.read_text(), re.MULTILINE):
        edges.setdefault(first, set()).add(then)
    return edges


def waits_for(edges: Mapping[str, set[str]], then: str, first: str) -> bool:
    seen, todo = set(), [first]
    while todo:
        for following in edges.get(todo.pop(), ()):
            if following == then:
                return True
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return False


@needs_cluster_tools
def test_the_primary_database_follows_the_ips_and_kamailio_does_not_wait_for_its_promotion(
        tmp_path: Path, crm_env) -> None:
    """On a failover Kamailio starts once the IPs are up, beside the database's promotion: the
    replica there answers its reads, and waiting for the promotion cost seconds (docs/benchmarks)."""
    from tests.render.test_cluster import placement, simulate

    def active_node(where: dict[tuple[str, str], set[str]]) -> str:
        holders = [where.get(key, set()) for key in (
            ("failover_ip1", "Started"), ("kam_heartbeats", "Started"),
            ("redis_prim", "Promoted"), ("rtpeng_prim", "Promoted"))]
        assert all(len(nodes) == 1 for nodes in holders) and len(set.union(*holders)) == 1
        return holders[0].copy().pop()

    cib = load_full_crm(cluster_snapshot(), tmp_path, crm_env)
    simulate(cib, crm_env, "--node-up", "node1", "--node-up", "node2", "--node-up", "node3")
    where = placement(cib, crm_env)
    active = active_node(where)
    assert where[(database.DB_PRIM, "Promoted")] == {active}
    assert where[(database.DB_PRIM, "Unpromoted")] == {"node1", "node2", "node3"} - {active}

    dot = tmp_path / "failover.dot"
    transition = simulate(cib, crm_env, "--node-fail", active, "--save-dotfile", str(dot))
    where = placement(cib, crm_env)
    survivor = active_node(where)
    assert survivor != active and where[(database.DB_PRIM, "Promoted")] == {survivor}
    edges = graph_edges(dot)
    kamailio = f"kam_heartbeats_start_0 {survivor}"
    promote = next(action for action in edges
                   if action.startswith(f"{database.DB_PRIM}_promote_0") and survivor in action)
    assert kamailio in {then for followers in edges.values() for then in followers}, transition
    assert waits_for(edges, kamailio, f"failover_ip1_start_0 {survivor}")
    assert not waits_for(edges, kamailio, promote), "Kamailio waits for the promotion"


# -- dbEngine change (13.1.1): a full restart, announced before the commit ----------------------

@pytest.mark.parametrize(("old", "new"), [("MS SQL", "MySQL"), ("MySQL", "MS SQL")])
def test_changing_db_engine_is_a_full_restart_that_moves_every_engine_part(ctx, old, new) -> None:
    from genweb import store
    from genweb.catalogue import Effect
    from genweb.commit.plan import make_plan

    store.save_settings("systemConfig", {"privateIP": "192.168.40.70", "privateSubnet": "24",
                                         "privatePing": "192.168.40.1"})
    store.save_settings("databaseConfig", {"dbEngine": old, "dbHost": "sql.example.com"})
    store.record_commit()
    store.save_settings("databaseConfig", {"dbEngine": new})
    plan = make_plan()
    change = next(c for c in plan.changes if c.key == "dbEngine")
    assert (change.old, change.new, change.effect) == (old, new, Effect.RESTART)
    assert plan.effect is Effect.RESTART and "full restart" in plan.summary()

    # what the restart then installs: the other engine's files, resources and Kamailio module
    before, after = cluster_snapshot({"dbEngine": old, "dbHost": "sql.example.com"}), \
        cluster_snapshot({"dbEngine": new, "dbHost": "sql.example.com"})
    mysql, mssql = (after, before) if new == "MySQL" else (before, after)
    paths = {file.path for file in render(mysql).files["node1"]}
    assert {database.MYSQL_CNF, database.REPLICATION_PASSWORD_FILE} <= paths
    assert database.ODBC_INI not in paths
    assert database.ODBC_INI in {file.path for file in render(mssql).files["node1"]}
    assert database.DB_CLONE in render(mysql).crm and database.DB_CLONE not in render(mssql).crm
    cfg_mysql, cfg_mssql = (render(snap).file("node1", "/etc/kamailio/kamailio.cfg").content
                            for snap in (mysql, mssql))
    assert 'loadmodule "db_mysql.so"' in cfg_mysql and "mysql://amtelco:" in cfg_mysql
    assert 'loadmodule "db_unixodbc.so"' in cfg_mssql and "unixodbc://amtelco:" in cfg_mssql
    # MySQL -> MS SQL: the ids the commit must delete from the CIB (load update never deletes)
    assert set(database.database_object_ids(mysql)) - set(database.database_object_ids(mssql)) \
        == {database.DB_PRIM, database.DB_CLONE, "col_db_with_ip"}


# -- MS SQL end to end: the commit's ODBC row writes, then Kamailio over the same DSN -----------

kamailio_mariadb = test_kamailio.mariadb  # fixtures: a throw-away MariaDB, and stop-by-PID
stopper = test_kamailio.stopper


class OdbcHere:
    """The node's side, here: commands run with the test's unixODBC files (the DSN database.py
    renders, on MariaDB's driver) instead of /etc/odbc.ini, and Debian's python3 (pyodbc)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {"PATH": "/usr/bin:/bin", **env}

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        done = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout,
                              env=self.env)
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def close(self) -> None:
        pass


def test_kamailio_over_odbc_authenticates_a_subscriber_the_commit_wrote_over_odbc(
        tmp_path: Path, kamailio_mariadb, stopper) -> None:
    """MS SQL itself cannot run here: MariaDB's ODBC driver stands in for Microsoft's, behind
    the same DSN name, driver manager and code (proxyrows.MssqlDatabase, Kamailio's
    db_unixodbc). The subscriber exists only because MssqlDatabase wrote it."""
    if subprocess.run(["/usr/bin/python3", "-c", "import pyodbc"], capture_output=True).returncode:
        pytest.skip("needs python3-pyodbc (scripts/test.sh installs it)")
    ports = test_kamailio.Ports()
    priv = test_kamailio.PRIV
    snapshot = Snapshot.build(
        {"systemConfig": test_kamailio.system(ports),
         "proxyConfig": {"enableRegAuth": "Yes"},
         "databaseConfig": {"dbEngine": "MS SQL", "dbrwUser": "kamrw",
                            "dbrwPass": test_kamailio.DB_PASS}},
        {"haNodes": test_kamailio.NODES[:1],
         "subscribers": [{"username": "5000", "domain": priv, "password": "phonepw"}]},
        test_kamailio.GENERATED)
    kamailio, name = test_kamailio.deploy(snapshot, tmp_path, kamailio_mariadb, start=False)
    kamailio_mariadb.sql("DELETE FROM subscriber", name)  # deploy's own copy of the rows: gone
    odbc = OdbcHere(odbc_environment(tmp_path / "odbc", database.ODBC_DSN, kamailio_mariadb, name))
    node = Node(Target("node1", priv, user="root"), odbc, 60)
    writer = proxyrows.for_snapshot(snapshot)
    assert isinstance(writer, proxyrows.MssqlDatabase)
    writer.dialect = proxyrows.MARIADB_ODBC  # the one difference from MS SQL: identifier quotes
    writer.prepare(node, snapshot, None)
    writer.write_rows(node, render(snapshot).db_rows)
    assert kamailio_mariadb.rows("SELECT username FROM subscriber", name) == [["5000"]]

    kamailio.start()
    stopper.append(kamailio)
    phone = SipClient(priv)
    stopper.append(phone)
    reply = test_kamailio.register(phone, "5000", "phonepw", ports.private)
    assert reply and reply.code == 200, reply and reply.raw
    # and its registration went back in over ODBC
    wait_for(lambda: kamailio_mariadb.rows("SELECT username FROM location", name) == [["5000"]],
             timeout=10, what="the location row")
    assert test_kamailio.register(phone, "5000", "wrong", ports.private).code in (401, 403)
