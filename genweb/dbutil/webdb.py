"""The web interface's database (the SQLite staging store) read as it is: every table, every row.

Read straight from the file with ``sqlite3``, read-only, in one read transaction: the result is
one consistent snapshot even while the server saves (WAL lets the reader and the writer go on
together), no Flask application is needed (dbShow --instance, cpsshkeys), and tables added
later to the store appear without a change here.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogue import DATABASE_CONFIG, HA_NODES, PAGES

STORE_FILE = "genweb.sqlite"
# The store's own tables first, in the order a reader meets them; others follow by name.
FIRST_TABLES = ("setting", "page_state", "record", "record_key", "generated")
# Rows in the order the pages list them; other tables by primary key.
ORDER_BY = {"setting": ("page", "key"), "record": ("kind", "sort_key", "id")}


class StoreUnreadable(Exception):
    """The store file is missing or cannot be opened; the message says which and why."""


@dataclass
class Table:
    """One table: its columns in schema order and its rows (values decoded, nothing masked)."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def store_file(instance: Path) -> Path:
    return instance / STORE_FILE


def read_store(path: Path) -> dict[str, Table]:
    """Every table of the store at ``path``, unmasked: callers must mask before showing."""
    if not path.is_file():
        raise StoreUnreadable(f"no genweb store at {path} (wrong --instance?)")
    try:
        with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                                     timeout=30)) as connection:
            connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
            connection.execute("BEGIN")  # one snapshot for all tables
            return {name: _read_table(connection, name) for name in _table_names(connection)}
    except sqlite3.Error as exc:
        raise StoreUnreadable(f"cannot read the genweb store {path}: {exc}") from None


def _table_names(connection: sqlite3.Connection) -> list[str]:
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    first = [name for name in FIRST_TABLES if name in names]
    return first + sorted(name for name in names if name not in FIRST_TABLES)


def _read_table(connection: sqlite3.Connection, name: str) -> Table:
    info = connection.execute(f"PRAGMA table_info({_quoted(name)})").fetchall()
    columns = [row[1] for row in info]
    decoders = {row[1]: _decoder(row[2]) for row in info}
    keys = ORDER_BY.get(name) or tuple(row[1] for row in sorted(info, key=lambda r: r[5])
                                       if row[5] > 0)
    order = f" ORDER BY {', '.join(_quoted(k) for k in keys)}" if keys else ""
    cursor = connection.execute(f"SELECT {', '.join(_quoted(c) for c in columns)} "
                                f"FROM {_quoted(name)}{order}")
    rows = [{column: decoders[column](value) for column, value in zip(columns, row, strict=True)}
            for row in cursor]
    return Table(name, columns, rows)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _decoder(declared: str) -> Callable[[Any], Any]:
    """Decode by the declared column type SQLAlchemy wrote (JSON, BOOLEAN), so new tables work."""
    kind = declared.upper()
    if kind == "JSON":
        return _json
    if kind == "BOOLEAN":
        return lambda value: None if value is None else bool(value)
    return _plain


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # shown as stored rather than refused


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    return value


# -- what other tools need from the store ----------------------------------------------------


def records(tables: dict[str, Table], kind: str) -> list[dict[str, Any]]:
    """The rows of one collection (haNodes, subscribers ...), in index order."""
    table = tables.get("record")
    return [row for row in (table.rows if table else []) if row.get("kind") == kind]


def record_state(row: dict[str, Any]) -> str:
    """new, committed, changed or deleted, as the index pages say (store.RecordView.state)."""
    if row.get("marked") or row.get("marked_by_node"):
        return "deleted"
    if row.get("committed") is None:
        return "new"
    return "committed" if row.get("committed") == row.get("data") else "changed"


def ha_nodes(tables: dict[str, Table]) -> list[dict[str, str]]:
    """The HA Nodes' values in nodeID order, marked ones included (they run until the commit).

    Staged values: the node identity cannot change once committed, and the credentials
    (sshKeyEnable, sshPassword) take effect without a commit (5.2.5, 5.2.6).
    """
    keys = HA_NODES.initial_values()
    return [{**keys, **(row.get("data") or {})} for row in records(tables, HA_NODES.name)]


def setting(tables: dict[str, Table], page: str, key: str, *, committed: bool = False) -> str:
    """A key/value page's stored value ('' when never saved); the committed one if asked and
    there is one."""
    table = tables.get("setting")
    for row in table.rows if table else []:
        if row.get("page") == page and row.get("key") == key:
            if committed and row.get("committed") is not None:
                return row["committed"]
            return row.get("staged") or ""
    return PAGES[page].key(key).initial()


def system_name(tables: dict[str, Table]) -> str:
    value = setting(tables, "systemConfig", "systemName")
    return PAGES["systemConfig"].key("systemName").effective(value)


def db_engine(tables: dict[str, Table]) -> str:
    """The dbEngine the nodes run: the committed one, else the saved one (13.1.1)."""
    value = setting(tables, DATABASE_CONFIG.name, "dbEngine", committed=True)
    return DATABASE_CONFIG.key("dbEngine").effective(value)


def catalogue_summary() -> dict[str, dict[str, Any]]:
    """Per page: title, index columns and secret keys, for readers of the file (dbShow)."""
    summary: dict[str, dict[str, Any]] = {}
    for page in PAGES.values():
        entry: dict[str, Any] = {"title": page.title, "sidebar": page.sidebar,
                                 "section": page.section, "collection": page.collection,
                                 "secretKeys": list(page.secret_keys)}
        if page.collection:
            entry["indexColumns"] = list(page.index_columns)
            entry["shownColumns"] = list(SHOWN_RECORD_KEYS.get(page.name, page.index_columns))
        summary[page.name] = entry
    return summary


# The keys dbShow shows for each kind of record: the index columns and what tells them apart.
SHOWN_RECORD_KEYS = {
    "haNodes": ("nodeID", "nodeName", "privateIP", "publicIP", "sshKeyEnable"),
    "fences": ("fenceName", "fenceNodeName", "fencePriority", "fenceAgent"),
    "tlsProxyConfigs": ("tlsDomain", "tlsRole", "method", "tlsCertificate"),
    "notifies": ("notifyURL", "notifyUser", "notifyTlsVersion"),
    "subscribers": ("username", "domain", "password", "ha1", "ha1b"),  # masked: set or blank
    "outboundRegistrations": ("l_uuid", "l_username", "l_domain", "r_domain", "auth_proxy"),
}
