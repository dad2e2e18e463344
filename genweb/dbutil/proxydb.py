"""The proxy's database (MariaDB on the nodes, dbEngine MySQL), read over node access.

The HA Nodes are tried in order; the first whose MariaDB is writable (the primary, on the active
node) answers. If only read-only replicas answer, the first of them does, and the file says so.
Nothing here ever fails the download: a node that cannot be reached, or has no running MariaDB,
becomes a line in ``attempts`` with the reason.

Secret columns (subscriber password/ha1/ha1b, uacreg auth_password/auth_ha1, any column named like
a password or hash) are masked by the SQL itself, so their values never leave the node. Rows come
out as one ``JSON_OBJECT`` per line (``--raw``: no escaping to undo; NULL stays distinct from
'NULL'). The SQL is built only from identifiers the node's own information_schema returns, checked
against a strict pattern, and reaches the client as one argument, never through a shell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..commit.database import MYSQL_DATABASE
from ..nodes import MASK, Node, NodeAccess, NodeError, Result, Target, redact
from .masking import is_secret_name

ROW_LIMIT = 10_000  # per table: a diagnostic file, not a backup (14.0)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
COLUMNS_SQL = ("SELECT @@read_only, @@version; "
               "SELECT table_name, column_name, column_key FROM information_schema.columns "
               "WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position")
# The columns dbShow shows for Kamailio's tables; the file holds them all.
SHOWN_COLUMNS = {
    "subscriber": ("id", "username", "domain", "password", "ha1", "ha1b"),  # set or blank
    "location": ("username", "contact", "expires", "user_agent"),
    "location_attrs": ("username", "domain", "aname", "avalue"),
    "address": ("grp", "ip_addr", "mask", "port", "tag"),
    "dispatcher": ("setid", "destination", "flags", "priority", "description"),
    "uacreg": ("l_uuid", "l_username", "l_domain", "r_username", "r_domain", "auth_proxy"),
    "htable": ("key_name", "key_value", "expires"),
    "version": ("table_name", "table_version"),
}


class ProxyDbUnavailable(Exception):
    """The node answered but its MariaDB could not be read; the message says why."""


@dataclass
class Schema:
    read_only: bool
    version: str
    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns in order
    keys: dict[str, list[str]] = field(default_factory=dict)  # table -> primary key columns


def read_proxy(targets: Sequence[Target], access: NodeAccess, *,
               root_password: str | None = None, row_limit: int = ROW_LIMIT) -> dict[str, Any]:
    """The proxy database section of the dump: which node answered, or why none did.

    A node whose host key was never recorded (cpsshkeys) is not contacted at all: the host key
    check would refuse it after the handshake anyway, and an address nobody vouched for gets
    no traffic.
    """
    attempts: list[dict[str, str]] = []
    replica: Target | None = None
    for target in targets:
        if not access.known_hosts.lookup(target):
            attempts.append(_attempt(target, "not contacted: host key not recorded; run "
                                     f"cpsshkeys (known hosts: {access.known_hosts.path})"))
            continue
        try:
            with access.open(target) as node:
                client = MariaDB(node, root_password)
                schema = client.schema()
                if not schema.read_only:
                    tables = client.tables(schema, row_limit)
                    attempts.append(_attempt(target, "answered: primary (writable)"))
                    return _section(target, "primary", schema, tables, attempts, row_limit)
                attempts.append(_attempt(target, "reached: read-only replica, looking for the "
                                         "primary"))
                replica = replica or target
        except (NodeError, ProxyDbUnavailable) as exc:
            attempts.append(_attempt(target, _reason(exc, target)))
    if replica is not None:
        return _from_replica(replica, access, root_password, row_limit, attempts)
    return unavailable(_none_reason(targets), attempts)


def _from_replica(target: Target, access: NodeAccess, root_password: str | None,
                  row_limit: int, attempts: list[dict[str, str]]) -> dict[str, Any]:
    try:
        with access.open(target) as node:
            client = MariaDB(node, root_password)
            schema = client.schema()
            tables = client.tables(schema, row_limit)
            attempts.append(_attempt(target, "answered: replica (no primary answered)"))
            return _section(target, "replica", schema, tables, attempts, row_limit)
    except (NodeError, ProxyDbUnavailable) as exc:
        attempts.append(_attempt(target, _reason(exc, target)))
        return unavailable("no node answered", attempts)


def unavailable(reason: str, attempts: list[dict[str, str]] | None = None,
                status: str = "unavailable") -> dict[str, Any]:
    return {"status": status, "reason": reason, "database": MYSQL_DATABASE,
            "attempts": attempts or [], "tables": {}}


def _none_reason(targets: Sequence[Target]) -> str:
    if not targets:
        return "no HA Nodes are configured: there is no node to read the proxy database from"
    return "no node could be read (see attempts)"


def _section(target: Target, role: str, schema: Schema, tables: dict[str, Any],
             attempts: list[dict[str, str]], row_limit: int) -> dict[str, Any]:
    return {"status": "ok", "node": target.name, "host": target.host, "role": role,
            "server": f"MariaDB {schema.version}", "database": MYSQL_DATABASE,
            "rowLimit": row_limit, "attempts": attempts, "tables": tables}


def _attempt(target: Target, outcome: str) -> dict[str, str]:
    return {"node": target.name, "host": target.host, "outcome": outcome}


def _reason(exc: Exception, target: Target) -> str:
    text = str(exc)
    prefix = f"{target.name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# -- the MariaDB client on a node ------------------------------------------------------------


class MariaDB:
    """The ``mariadb`` client run on the node as root (Debian's unix_socket login), with rootPass
    as a fallback handed over on standard input (never on a command line)."""

    def __init__(self, node: Node, root_password: str | None = None) -> None:
        self.node = node
        self.root_password = root_password or None
        self._use_password = False

    def schema(self) -> Schema:
        lines = self.query(COLUMNS_SQL).splitlines()
        if not lines:
            raise ProxyDbUnavailable("MariaDB gave no answer to SELECT @@read_only")
        read_only, _, version = lines[0].partition("\t")
        schema = Schema(read_only=read_only.strip() != "0", version=version.strip())
        for line in lines[1:]:
            table, column, key = (line.split("\t") + ["", ""])[:3]
            if not (IDENTIFIER.match(table) and IDENTIFIER.match(column)):
                continue  # never splice an unusual name into SQL
            schema.columns.setdefault(table, []).append(column)
            if key == "PRI":
                schema.keys.setdefault(table, []).append(column)
        return schema

    def tables(self, schema: Schema, row_limit: int) -> dict[str, Any]:
        """Every table's rows, secret columns masked by the SQL (their values stay on the node)."""
        if not schema.columns:
            return {}
        return _parse_tables(self.query(dump_sql(schema, row_limit)), schema, row_limit)

    def query(self, sql: str) -> str:
        result = self._run(sql)
        if result.rc != 0 and not self._use_password and self.root_password \
                and "Access denied" in result.stderr:
            self._use_password = True
            result = self._run(sql)
        if result.rc != 0:
            raise ProxyDbUnavailable(self._explain(result))
        return result.stdout

    def _run(self, sql: str) -> Result:
        argv = ["mariadb", "--batch", "--skip-column-names", "--raw",
                f"--database={MYSQL_DATABASE}", f"--execute={sql}"]
        stdin = None
        if self._use_password:
            argv.insert(1, "--defaults-extra-file=/dev/stdin")  # must be the first option
            stdin = f"[client]\nuser=root\npassword={self.root_password}\n"
        return self.node.run(argv, sudo=True, stdin=stdin, secret_stdin=True, timeout=120)

    def _explain(self, result: Result) -> str:
        error = redact(result.stderr.strip(), [self.root_password]).splitlines()
        last = error[-1] if error else f"exit status {result.rc}"
        if result.rc == 127 or "command not found" in last:
            return "the mariadb client is not installed on this node"
        if "sudo" in last and "password" in last:
            return f"genweb cannot use sudo on this node: {last}"
        if "Can't connect" in last or "(2002" in last or "(2003" in last:
            return f"MariaDB is not running on this node: {last}"
        if "Unknown database" in last:
            return f"the proxy database {MYSQL_DATABASE} does not exist on this node: {last}"
        return f"MariaDB refused the query: {last}"


def dump_sql(schema: Schema, row_limit: int) -> str:
    """Per table: a ["table", name, row count] line, then one JSON object per row."""
    return "; ".join(_table_sql(table, columns, schema.keys.get(table, []), row_limit)
                     for table, columns in schema.columns.items())


def _q(identifier: str) -> str:
    return f"`{identifier}`"


def _table_sql(table: str, columns: list[str], keys: list[str], row_limit: int) -> str:
    marker = f"SELECT JSON_ARRAY('table', '{table}', COUNT(*)) FROM {_q(table)}"
    fields = ", ".join(f"'{column}', {_column_sql(column)}" for column in columns)
    order = f" ORDER BY {', '.join(_q(k) for k in keys)}" if keys else ""
    rows = f"SELECT JSON_OBJECT({fields}) FROM {_q(table)}{order} LIMIT {row_limit + 1}"
    return f"{marker}; {rows}"


def _column_sql(column: str) -> str:
    if is_secret_name(column):  # the value never leaves the node
        return f"IF({_q(column)} IS NULL, NULL, IF({_q(column)} = '', '', '{MASK}'))"
    return _q(column)


def _parse_tables(output: str, schema: Schema, row_limit: int) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            raise ProxyDbUnavailable(f"unexpected output from mariadb: {line[:80]!r}") from None
        if isinstance(value, list):  # ["table", name, count]
            name, columns = value[1], schema.columns[value[1]]
            shown = [column for column in SHOWN_COLUMNS.get(name, columns) if column in columns]
            current = tables[name] = {"columns": columns, "rowCount": value[2],
                                      "truncated": False, "shownColumns": shown, "rows": []}
        elif current is not None:
            if len(current["rows"]) < row_limit:
                current["rows"].append(value)
            else:
                current["truncated"] = True
    return tables
