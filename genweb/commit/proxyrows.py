"""Writing the proxy database's rows (``Rendered.db_rows``: subscriber, address, uacreg) at
commit, on the active node, in one transaction: Kamailio sees either the old rows or the new
ones, never a half.

One interface, ``ProxyDatabase``, with an implementation per dbEngine (13.1.1):

- ``MysqlDatabase`` (dbEngine MySQL): the ``mariadb`` client on the node as its root (Debian's
  unix_socket login, through sudo; rootPass from a root-only option file where the server
  refuses that login, 13.1.2), the script on standard input, never on a command line.
  It writes to the promoted server only (the node holding the floating IPs, where Pacemaker
  promotes it): each script starts with PRIMARY_GUARD, which fails on a read-only server, and
  is retried until the server is promoted, because root could write to a replica too, and rows
  written there would never reach the others. Replication then carries everything to every
  replica. Before the rows it creates the database and Kamailio's tables when they do not exist
  yet (KAMAILIO_MYSQL_SCHEMA) and the users of 13.0 (``mysql_user_statements``, idempotent).
- ``MssqlDatabase`` (dbEngine MS SQL): through the node's ODBC DSN (database.ODBC_DSN,
  /etc/odbc.ini), as Kamailio reaches the server, with dbrwUser/dbrwPass: a small Python
  program (python3-pyodbc) on the active node runs DELETE and parameterised INSERTs in one
  transaction and rolls back on any error. Credentials and rows reach it on standard input,
  never on a command line, and the values are ODBC parameters, never SQL text. unixODBC's isql
  was the first idea but it goes on after a failed statement (and exits 0), so a bad row would
  still commit the rest. MS SQL itself cannot run here: the tests run this same code, DSN and
  driver manager against MariaDB's ODBC driver (odbc-mariadb); only the identifier quotes
  differ (``OdbcDialect``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..nodes import CommandFailed, Node, NodeError, Result
from .database import (
    KAMAILIO_MYSQL_SCHEMA,
    MYSQL_DATABASE,
    ODBC_DSN,
    is_mysql,
    mysql_script,
    mysql_user_statements,
    odbc_driver,
    sql_literal,
)
from .render import Row
from .snapshot import Snapshot

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# The schema files the commit loads into a new database: database.py's list, and htable's,
# which kamailio.cfg also keeps in the database (rows.KAMAILIO_TABLES) but that list lacks.
HTABLE_SCHEMA = "/usr/share/kamailio/mysql/htable-create.sql"
SCHEMA_FILES = tuple(dict.fromkeys((*KAMAILIO_MYSQL_SCHEMA, HTABLE_SCHEMA)))
MARIADB = ("mariadb", "--batch", "--skip-column-names")
# How long the commit waits for Pacemaker to promote the server beside the floating IPs (the
# agent's promote timeout is 120 s; a first start also creates the data directory).
PROMOTION_TIMEOUT = 150.0
PROMOTION_POLL = 2.0


class NotPromoted(NodeError):
    """The node's database server stayed read-only: it is a replica, not the primary."""


class ProxyDatabase(Protocol):
    name: str

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """Database, tables and users exist as the snapshot says (idempotent)."""

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        """Replace each table's rows with these, in one transaction."""


def for_snapshot(snapshot: Snapshot) -> ProxyDatabase:
    if is_mysql(snapshot):
        return MysqlDatabase(snapshot)
    return MssqlDatabase(snapshot, dialect=odbc_dialect(snapshot))


def odbc_dialect(snapshot: Snapshot) -> OdbcDialect:
    """T-SQL's quotes, unless the tests' override (database.odbc_driver) put MariaDB's driver
    behind the DSN."""
    return MARIADB_ODBC if "mariadb" in odbc_driver(snapshot).lower() else TSQL


def identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a table or column name: {name!r}")
    return f"`{name}`"


def value_sql(value: str | int | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"unexpected row value type {type(value).__name__}")
    return str(value) if isinstance(value, int) else sql_literal(value)


def rows_script(rows: Mapping[str, Sequence[Row]]) -> str:
    """DELETE then INSERT per table inside one transaction (the client stops at the first
    error, so the connection closes without COMMIT and nothing changes)."""
    lines = ["SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');",
             "START TRANSACTION;"]
    for table in sorted(rows):
        lines.append(f"DELETE FROM {identifier(table)};")
        for row in rows[table]:
            columns = ", ".join(identifier(column) for column in row)
            values = ", ".join(value_sql(value) for value in row.values())
            lines.append(f"INSERT INTO {identifier(table)} ({columns}) VALUES ({values});")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


# First statement of every script the commit runs on the primary: on a read-only server (a
# replica, or the primary before its promotion) it fails with this word in the error, and
# nothing else of the script runs. Part of the same client call, so no extra command.
NOT_PRIMARY = "genweb_not_the_primary_yet"
PRIMARY_GUARD = (f"SET SESSION sql_mode = IF(@@global.read_only, '{NOT_PRIMARY}', "
                 "@@SESSION.sql_mode);")


def on_primary(node: Node, action: Callable[[], object], timeout: float | None = None) -> None:
    """Run ``action`` (a guarded script) until the server takes it, i.e. until the cluster has
    promoted it; NotPromoted after ``timeout``. Other failures (a server that does not answer
    yet: the commit retries those itself) are raised at once."""
    deadline = time.monotonic() + (PROMOTION_TIMEOUT if timeout is None else timeout)
    while True:
        try:
            action()
            return
        except CommandFailed as exc:
            if NOT_PRIMARY not in exc.result.stderr:
                raise
        if time.monotonic() >= deadline:
            raise NotPromoted(node.name, "the proxy database is still read-only: it is a "
                              "replica, not the primary (see the cluster status: is db_clone "
                              "promoted beside the floating IPs?)")
        time.sleep(PROMOTION_POLL)


# rootPass (13.1.2), for a server whose root does not take the OS root's unix_socket login
# (Debian's default, and what the agent's mariadb-install-db creates): a root-only option file,
# so the password is on no command line. sudoers lets genweb write /etc/genproxy files, not
# remove them: it stays, rewritten whenever it is needed.
ROOT_OPTION_FILE = "/etc/genproxy/mysql-root.cnf"
ROOT_REFUSED = "Access denied for user 'root'"
_OPTION_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                   "\b": "\\b"}


def root_option_file(password: str) -> str:
    """A [client] option file with the password quoted as MariaDB reads option values."""
    quoted = "".join(_OPTION_ESCAPES.get(char, char) for char in password)
    return f'[client]\nuser=root\npassword="{quoted}"\n'


class MysqlDatabase:
    name = "MySQL"

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.root_password = snapshot.value("databaseConfig", "rootPass") if snapshot else ""
        self.option_file = False  # root needs rootPass on this server (found on first refusal)

    def root(self, node: Node, args: Sequence[str], stdin: str | None = None,
             timeout: float = 120) -> Result:
        """The mariadb client as the server's root: the OS root's unix_socket login (through
        sudo), or, where the server refuses it, rootPass from ROOT_OPTION_FILE."""
        def run() -> Result:
            first = [f"--defaults-extra-file={ROOT_OPTION_FILE}"] if self.option_file else []
            return node.run([MARIADB[0], *first, *MARIADB[1:], *args], sudo=True, check=True,
                            stdin=stdin, secret_stdin=stdin is not None, timeout=timeout)
        try:
            return run()
        except CommandFailed as exc:
            if self.option_file or ROOT_REFUSED not in exc.result.stderr:
                raise
        node.write_file(ROOT_OPTION_FILE, root_option_file(self.root_password), mode=0o600,
                        secret=True)
        self.option_file = True
        return run()

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        self.root_password = snapshot.value("databaseConfig", "rootPass")
        script = PRIMARY_GUARD + "\n" + mysql_script(mysql_user_statements(snapshot, previous))
        on_primary(node, lambda: self.root(node, [], script))
        tables = self.root(node, [f"--database={MYSQL_DATABASE}",
                                  "--execute=SHOW TABLES LIKE 'version'"])
        if tables.stdout.strip():
            return
        for schema in SCHEMA_FILES:
            self.root(node, [f"--database={MYSQL_DATABASE}", f"--execute=SOURCE {schema}"])

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        script = PRIMARY_GUARD + "\n" + rows_script(rows)
        on_primary(node, lambda: self.root(node, [f"--database={MYSQL_DATABASE}"], script,
                                           timeout=300))


@dataclass(frozen=True)
class OdbcDialect:
    """What differs between the servers behind the DSN: how a table or column name is quoted."""

    name: str
    open_quote: str
    close_quote: str

    def identifier(self, name: str) -> str:
        identifier(name)  # the same check as MySQL's: letters, digits, _
        return f"{self.open_quote}{name}{self.close_quote}"


TSQL = OdbcDialect("Microsoft SQL Server", "[", "]")
# The tests' stand-in for MS SQL (MS SQL cannot run here): MariaDB behind its own ODBC driver.
MARIADB_ODBC = OdbcDialect("MariaDB (tests only)", "`", "`")

# Runs on the node as the SSH user (no sudo: /etc/odbc.ini is world-readable). It reads one JSON
# object on standard input: the connection string and the statements with their parameters.
ODBC_WRITER = """\
import json, sys
import pyodbc
job = json.load(sys.stdin)
connection = pyodbc.connect(job["connect"], autocommit=False)
try:
    cursor = connection.cursor()
    for sql, rows in job["statements"]:
        if rows:
            cursor.executemany(sql, rows)
        else:
            cursor.execute(sql)
    connection.commit()
except pyodbc.Error as exc:
    connection.rollback()
    sys.exit("the proxy database rows were not written (nothing changed): %s" % exc)
finally:
    connection.close()
"""


def odbc_braced(value: str) -> str:
    """A connection string value in braces (ODBC's quoting: a '}' is doubled), so ';' '=' and
    spaces in a password stay in it."""
    if "\0" in value:
        raise ValueError("an ODBC connection value cannot hold a NUL character")
    return "{" + value.replace("}", "}}") + "}"


def odbc_statements(rows: Mapping[str, Sequence[Row]], dialect: OdbcDialect
                    ) -> list[tuple[str, list[list[str | int | None]]]]:
    """DELETE then one parameterised INSERT per table and set of columns."""
    statements: list[tuple[str, list[list[str | int | None]]]] = []
    for table in sorted(rows):
        name = dialect.identifier(table)
        statements.append((f"DELETE FROM {name}", []))
        by_columns: dict[tuple[str, ...], list[list[str | int | None]]] = {}
        for row in rows[table]:
            for value in row.values():
                value_sql(value)  # the same type check as MySQL's
            by_columns.setdefault(tuple(row), []).append(list(row.values()))
        for columns, values in by_columns.items():
            names = ", ".join(dialect.identifier(column) for column in columns)
            marks = ", ".join("?" for _ in columns)
            statements.append((f"INSERT INTO {name} ({names}) VALUES ({marks})", values))
    return statements


class MssqlDatabase:
    name = "MS SQL"

    def __init__(self, snapshot: Snapshot | None = None, dsn: str = ODBC_DSN,
                 dialect: OdbcDialect = TSQL) -> None:
        self.user = snapshot.value("databaseConfig", "dbrwUser") if snapshot else ""
        self.password = snapshot.value("databaseConfig", "dbrwPass") if snapshot else ""
        self.dsn = dsn
        self.dialect = dialect

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """The administrator creates the database, tables and users on the server (13.1.4)."""
        self.user = snapshot.value("databaseConfig", "dbrwUser")
        self.password = snapshot.value("databaseConfig", "dbrwPass")

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        job = {"connect": f"DSN={odbc_braced(self.dsn)};UID={odbc_braced(self.user)};"
                          f"PWD={odbc_braced(self.password)}",
               "statements": odbc_statements(rows, self.dialect)}
        node.run(["python3", "-c", ODBC_WRITER], stdin=json.dumps(job), secret_stdin=True,
                 check=True, timeout=300)
