"""Writing the proxy database's rows (``Rendered.db_rows``: subscriber, address, uacreg) at
commit, on the active node, in one transaction: Kamailio sees either the old rows or the new
ones, never a half.

One interface, ``ProxyDatabase``, with an implementation per dbEngine (13.1.1):

- ``MysqlDatabase`` (dbEngine MySQL): the ``mariadb`` client on the node as its root (Debian's
  unix_socket login, through sudo), the script on standard input, never on a command line.
  Before the rows it creates the database and Kamailio's tables when they do not exist yet
  (KAMAILIO_MYSQL_SCHEMA) and the users of 13.0 (``mysql_user_statements``, idempotent).
- ``MssqlDatabase`` (dbEngine MS SQL): NOT IMPLEMENTED. Writing would go through the node's
  ODBC DSN (isql or a small ODBC client); neither MS SQL nor its driver can run here, so the
  commit says plainly, as a warning, that the rows were not written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..nodes import Node
from .database import (
    KAMAILIO_MYSQL_SCHEMA,
    MYSQL_DATABASE,
    is_mysql,
    mysql_script,
    mysql_user_statements,
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


class NotSupported(Exception):
    """This engine cannot be written from here (the message says what to do instead)."""


class ProxyDatabase(Protocol):
    name: str

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """Database, tables and users exist as the snapshot says (idempotent)."""

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        """Replace each table's rows with these, in one transaction."""


def for_snapshot(snapshot: Snapshot) -> ProxyDatabase:
    return MysqlDatabase() if is_mysql(snapshot) else MssqlDatabase()


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


class MysqlDatabase:
    name = "MySQL"

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        node.run([*MARIADB], sudo=True, check=True, secret_stdin=True, stdin=mysql_script(
            mysql_user_statements(snapshot, previous)), timeout=120)
        tables = node.run([*MARIADB, f"--database={MYSQL_DATABASE}",
                           "--execute=SHOW TABLES LIKE 'version'"], sudo=True, check=True)
        if tables.stdout.strip():
            return
        for schema in SCHEMA_FILES:
            node.run([*MARIADB, f"--database={MYSQL_DATABASE}", f"--execute=SOURCE {schema}"],
                     sudo=True, check=True, timeout=120)

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        node.run([*MARIADB, f"--database={MYSQL_DATABASE}"], sudo=True, check=True,
                 stdin=rows_script(rows), secret_stdin=True, timeout=300)


class MssqlDatabase:
    name = "MS SQL"

    def prepare(self, node: Node, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """The administrator creates the database, tables and users on the server (13.1.4)."""

    def write_rows(self, node: Node, rows: Mapping[str, Sequence[Row]]) -> None:
        raise NotSupported(
            "writing the proxy rows (" + ", ".join(sorted(rows)) + ") to MS SQL over ODBC is "
            "not implemented in this version: enter them on the MS SQL server, or use dbEngine "
            "MySQL")
