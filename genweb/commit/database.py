"""The proxy database (13.0): MariaDB on every node (dbEngine MySQL) or an external MS SQL server
reached over ODBC (dbEngine MS SQL, the default). docs/database.md tells the whole design.

MySQL: one primary, on the active node, and every other node a read-only replica of it (binary
log, GTID, asynchronous). Kamailio writes on the active node only, to its local server, so a
single writer never conflicts and a promoted replica has every row the primary had sent;
multi-primary replication would add write conflicts and auto-increment clashes for nothing.
Pacemaker runs the servers as a promotable clone (``db_clone`` of ``db_prim``, agent
ocf:amtelco:genproxy-mysql: the stock ocf:heartbeat:mysql with GTID positioning, a data
directory created on first start, and no password in the CIB or on a command line), the primary
colocated with ``ip_group`` (``database_crm``); Kamailio starts beside the IPs
without waiting for the promotion (its writes are refused until then). Every server
starts read-only; promotion clears read_only on the primary alone.

The users (13.0) are created by statements the commit runs as root on the primary, from where
replication carries them to every replica: ``mysql_user_statements`` gives them with
parameters, ``mysql_script`` as text for the ``mariadb`` client over SSH. Passwords never appear
in either: the server is given the mysql_native_password hash, computed here. The replicas'
copy of replicationPass is a root-only file (REPLICATION_PASSWORD_FILE) the agent reads.

MS SQL: /etc/odbc.ini holds the DSN ``genproxy`` (server and database, no credentials); Kamailio
names it in its db_url with dbrwUser/dbrwPass. The tables are created by an administrator with
genweb/sql/mssql-kamailio.sql (13.1.4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..catalogue.pages import DB_MYSQL
from .cluster import (
    IP_GROUP,
    CrmObject,
    colocation,
    on_fail,
    op,
    primitive,
    promotable,
)
from .render import File, crm_renderer, node_renderer
from .snapshot import Snapshot
from .templating import render_template

MYSQL_CNF = "/etc/mysql/mariadb.conf.d/90-genproxy.cnf"
MYSQL_DATABASE = "kamailio"  # kamDatabase is for MS SQL only (13.1.4)
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"  # Debian's: the mariadb client and Kamailio find it
# replicationPass as a MariaDB string literal, for the agent only (root, 0600): never in the CIB
REPLICATION_PASSWORD_FILE = "/etc/genproxy/mysql-replication-password"
REPLICATION_USER = "replication"

# The database's cluster objects (Figure 4 has none: the manual leaves the arrangement to us).
DB_PRIM, DB_CLONE = "db_prim", "db_clone"
MYSQL_AGENT_NAME = "genproxy-mysql"  # genweb/agents/ocf/genproxy-mysql
MYSQL_AGENT = f"ocf:amtelco:{MYSQL_AGENT_NAME}"
# The Kamailio tables genproxy uses, from kamailio-mysql-modules, loaded once by the commit
# (as root, into MYSQL_DATABASE, when its `version` table does not exist yet).
KAMAILIO_MYSQL_SCHEMA = tuple(
    f"/usr/share/kamailio/mysql/{module}-create.sql"
    # htable keeps the current primary dispatch set across restarts and failovers (7.1.17)
    for module in ("standard", "auth_db", "usrloc", "permissions", "uac", "dispatcher", "htable")
)

ODBC_INI = "/etc/odbc.ini"
ODBC_DSN = "genproxy"
MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"
MSSQL_PORT = "1433"
# Test-only (tests/lab/test_odbc_lab.py): MS SQL and Microsoft's driver cannot run here, so the
# lab's web server sets this to MariaDB's driver ("MariaDB Unicode") and the DSN points at a
# MariaDB stand-in. Unset (production) the DSN always names MSSQL_DRIVER.
# The app's ODBC_DRIVER (tests only: tests/lab/test_odbc_lab.py puts MariaDB's driver behind
# the DSN) reaches render as this generated value: render stays a function of the snapshot.
ODBC_DRIVER_KEY = "odbcDriver"
# What an administrator runs on the MS SQL server before committing (13.1.4).
MSSQL_TABLE_SCRIPT = Path(__file__).resolve().parent.parent / "sql" / "mssql-kamailio.sql"

Statement = tuple[str, tuple[str, ...]]  # SQL with %s placeholders (DB-API "format"), parameters


@dataclass(frozen=True)
class MysqlUser:
    name: str
    password_key: str  # the databaseConfig key holding its password
    grants: str  # privileges, without the account
    on: str  # what they apply to


# amtelco writes Kamailio's data, amtelcoro only reads it (13.1.6, 13.1.7). replication is what
# replicas connect to the primary as, nothing more: the resource agent switches roles as root
# over the unix socket (genweb/agents/ocf/genproxy-mysql), so it needs no administrative rights.
MYSQL_USERS = (
    MysqlUser("amtelco", "dbrwPass", "SELECT, INSERT, UPDATE, DELETE, LOCK TABLES",
              f"`{MYSQL_DATABASE}`.*"),
    MysqlUser("amtelcoro", "dbroPass", "SELECT", f"`{MYSQL_DATABASE}`.*"),
    MysqlUser(REPLICATION_USER, "replicationPass", "REPLICATION SLAVE, REPLICATION CLIENT", "*.*"),
)


def is_mysql(snapshot: Snapshot) -> bool:
    return snapshot.value("databaseConfig", "dbEngine") == DB_MYSQL


# -- MySQL: server configuration -------------------------------------------------------------

def mysql_cnf(node: Mapping[str, str]) -> str:
    # dict.fromkeys: one bind address when a test puts the node on loopback
    bind = ",".join(dict.fromkeys(("127.0.0.1", node["privateIP"])))
    return render_template("genweb.commit", "mariadb-genproxy.cnf.j2", node=node, bind=bind)


# -- MySQL: users ----------------------------------------------------------------------------

def mysql_native_hash(password: str) -> str:
    """The mysql_native_password hash: what the server stores, so it is all it needs to be told."""
    if not password:
        return ""  # a blank password (13.1.x allow one) is stored as an empty hash
    inner = hashlib.sha1(password.encode()).digest()
    return "*" + hashlib.sha1(inner).hexdigest().upper()


def mysql_user_hosts(snapshot: Snapshot) -> tuple[str, ...]:
    """Every node's privateIP (13.0), where the replicas connect from; 127.0.0.1, where
    Kamailio's db_url reaches its own node's server over TCP (skip_name_resolve: a 'localhost'
    account matches the unix socket only); localhost, the socket (tools on the node)."""
    return tuple(dict.fromkeys((*(node["privateIP"] for node in snapshot.nodes), "127.0.0.1",
                                "localhost")))


def mysql_user_statements(snapshot: Snapshot, previous: Snapshot | None = None) -> list[Statement]:
    """Create or update the users for every node address; drop those of nodes since removed.

    Idempotent, so every commit can run it. Run on the primary only: replicas get it by
    replication (running it there too would make replication fail on duplicate users).
    """
    hosts = mysql_user_hosts(snapshot)
    statements: list[Statement] = [
        (f"CREATE DATABASE IF NOT EXISTS `{MYSQL_DATABASE}`", ()),
    ]
    for user in MYSQL_USERS:
        password = mysql_native_hash(snapshot.value("databaseConfig", user.password_key))
        for host in hosts:
            account = (user.name, host)
            statements += [
                ("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY PASSWORD %s", (*account, password)),
                ("ALTER USER %s@%s IDENTIFIED BY PASSWORD %s", (*account, password)),
                (f"GRANT {user.grants} ON {user.on} TO %s@%s", account),
            ]
    gone = [host for host in (mysql_user_hosts(previous) if previous else ()) if host not in hosts]
    statements += [("DROP USER IF EXISTS %s@%s", (user.name, host))
                   for host in gone for user in MYSQL_USERS]
    return statements


_SQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\0": "\\0", "\n": "\\n", "\r": "\\r",
                "\x1a": "\\Z"}


def sql_literal(value: str) -> str:
    """A MariaDB string literal (default sql_mode, which the script sets)."""
    return "'" + "".join(_SQL_ESCAPES.get(char, char) for char in value) + "'"


def mysql_script(statements: Sequence[Statement]) -> str:
    """The statements as one script for the ``mariadb`` client (on its standard input, never its
    command line). It first clears NO_BACKSLASH_ESCAPES, which sql_literal relies on."""
    lines = ["SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');"]
    for sql, params in statements:
        lines.append(sql % tuple(sql_literal(param) for param in params) + ";")
    return "\n".join(lines) + "\n"


# -- MS SQL: ODBC ----------------------------------------------------------------------------

def mssql_server(db_host: str) -> tuple[str, str]:
    """(host, port) from dbHost ``[<protocol>:]<host>[,<port>]`` (13.1.3); tcp is the only protocol."""
    address = db_host.partition(":")[2] if ":" in db_host else db_host
    host, _, port = address.partition(",")
    return host, port or MSSQL_PORT


def odbc_ini(snapshot: Snapshot, driver: str = MSSQL_DRIVER) -> str:
    """The DSN. Microsoft's driver takes the port in Server (``tcp:host,port``); others (the
    MariaDB driver the tests use) take ``Server`` and ``Port`` apart."""
    host, port = mssql_server(snapshot.value("databaseConfig", "dbHost"))
    if "\n" in driver or "]" in driver:
        raise ValueError(f"not an ODBC driver name: {driver!r}")
    return render_template("genweb.commit", "odbc.ini.j2", dsn=ODBC_DSN, driver=driver,
                           microsoft=driver.startswith("ODBC Driver "), host=host, port=port,
                           database=snapshot.value("databaseConfig", "kamDatabase"))


def odbc_driver(snapshot: Snapshot) -> str:
    """The DSN's driver: Microsoft's, unless the app's ODBC_DRIVER (tests only) says otherwise."""
    return snapshot.generated.get(ODBC_DRIVER_KEY, "").strip() or MSSQL_DRIVER


@node_renderer
def database_files(snapshot: Snapshot, node: Mapping[str, str]) -> Iterable[File]:
    # Only the replication password file holds a password (root only): the others live with
    # the users and in Kamailio's db_url.
    if is_mysql(snapshot):
        yield File(MYSQL_CNF, mysql_cnf(node))
        yield File(REPLICATION_PASSWORD_FILE, replication_password_file(snapshot), mode=0o600)
    else:
        yield File(ODBC_INI, odbc_ini(snapshot, odbc_driver(snapshot)))


# -- MySQL: the cluster's resources ------------------------------------------------------------

def replication_password_file(snapshot: Snapshot) -> str:
    """replicationPass as the agent puts it into CHANGE MASTER TO ... MASTER_PASSWORD=: a string
    literal on one line (sql_literal escapes line breaks), so any password is carried as is."""
    return sql_literal(snapshot.value("databaseConfig", "replicationPass")) + "\n"


def mysql_resource(snapshot: Snapshot) -> CrmObject:
    """The server on every node, through genweb's wrapper of the stock mysql agent.

    binary is mariadbd itself, not mysqld_safe: a server that dies must be seen by the monitor
    (and fail over), not restarted behind Pacemaker's back as a read-only replica. The agent's
    own SQL goes through the wrapper as root over the socket, so no password is a parameter:
    a password change (13.1.6-13.1.8) leaves the CIB as it is and restarts nothing. Only the
    promoted role gets onFailMode, as for redis: a replica that fails must not evict a node.
    """
    return primitive(DB_PRIM, MYSQL_AGENT, {
        "binary": "/usr/sbin/mariadbd",
        "client_binary": f"/usr/lib/ocf/resource.d/amtelco/{MYSQL_AGENT_NAME} --client",
        "config": "/etc/mysql/my.cnf",  # Debian's, which includes MYSQL_CNF
        "datadir": "/var/lib/mysql",
        "user": "mysql",
        "group": "mysql",
        "pid": "/run/mysqld/mysqld.pid",
        "socket": MYSQL_SOCKET,
        "log": "/var/log/mysql/error.log",
        "replication_user": REPLICATION_USER,
        "replication_port": "3306",
    }, [
        op("start", timeout="120s", interval="0s"),
        op("stop", timeout="120s", interval="0s"),
        op("promote", timeout="120s", interval="0s"),
        op("demote", timeout="120s", interval="0s"),
        op("notify", timeout="90s", interval="0s"),
        op("monitor", interval="10s", timeout="30s", role="Promoted", on_fail=on_fail(snapshot)),
        op("monitor", interval="15s", timeout="30s", role="Unpromoted"),
    ])


def database_objects(snapshot: Snapshot) -> list[CrmObject]:
    """MySQL: the clone, its primary beside the floating IPs. No order before Kamailio's start:
    on a failover the replica beside the IPs already answers Kamailio's reads, its writes are
    refused (read_only) until the promotion a moment later, and waiting for that promotion
    (behind the clone's notifications and the transition its CIB updates abort) cost seconds of
    outage; Kamailio's agent waits for the local server to answer (agents/ocf/kamailio).
    MS SQL: nothing (the server is not ours)."""
    if not is_mysql(snapshot):
        return []
    prim = mysql_resource(snapshot)
    return [
        prim,
        # notify: the stock agent points the replicas at a new primary on post-promote
        promotable(prim, DB_CLONE, notify=True),
        colocation("col_db_with_ip", f"{DB_CLONE}:Promoted", IP_GROUP),
    ]


def database_object_ids(snapshot: Snapshot) -> tuple[str, ...]:
    """The CIB ids database_crm defines (the commit deletes those a new snapshot drops, e.g.
    after dbEngine changes from MySQL to MS SQL)."""
    return tuple(obj.id for obj in database_objects(snapshot) if obj.id)


@crm_renderer
def database_crm(snapshot: Snapshot) -> str:
    objects = database_objects(snapshot)
    return "\n".join(obj.text for obj in objects) + "\n" if objects else ""
