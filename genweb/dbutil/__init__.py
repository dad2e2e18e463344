"""Database Utilities (manual 14.0): a diagnostic picture of both databases, secrets masked.

One JSON document, gzip-compressed: a header (what it is, when, which genweb), the web
interface's database (every table of the store: staged and committed values, lifecycle flags)
and the proxy's database (read from the active node over node access, or the reason it could
not be). ``bin/dbShow`` displays it; so does any text editor once uncompressed. It is not a
backup, and nothing reads it back in.
"""

from __future__ import annotations

import gzip
import json
import logging
import platform
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..catalogue.pages import DB_MYSQL
from ..nodes import NodeAccess, Target
from . import proxydb, webdb
from .masking import MASK, Masker
from .webdb import StoreUnreadable, Table

__all__ = ["FORMAT", "FORMAT_VERSION", "StoreUnreadable", "build_dump", "dump_filename",
           "encode", "read_proxy_section"]

log = logging.getLogger("genweb.dbutil")

FORMAT = "genweb-database-dump"
FORMAT_VERSION = 1
TITLE = ("genweb database dump: the web interface's database and the proxy's database "
         "(Database Utilities, manual 14.0)")
PURPOSE = (f"For diagnostics, not a backup. Every password, HA1 hash and generated secret is "
           f"replaced by {MASK} (left blank when nothing is set). Display it with: dbShow FILE")
# The columns dbShow shows for the store's own tables (the file holds them all).
SHOWN_WEB_COLUMNS = {
    "setting": ("page", "key", "staged", "committed"),
    "page_state": ("page", "revision", "updated_at"),
    "record_key": ("kind", "name", "value", "record_id"),
    "generated": ("name", "value", "created_at"),
    "job": ("id", "kind", "status", "user", "started_at", "title"),
    "job_event": ("job_id", "seq", "level", "at", "message"),
}


def build_dump(store: Path, access: NodeAccess | None, *, now: datetime | None = None,
               requested_by: str | None = None, proxy_note: str = "") -> dict[str, Any]:
    """The whole document. ``access`` None: the proxy database is not read (``proxy_note`` says
    why). Raises StoreUnreadable only; the cluster being away is a section of the file."""
    now = now or datetime.now(UTC)
    raw = webdb.read_store(store)
    masker = Masker()
    web = web_section(store, raw, masker)
    if access is None:
        proxy = proxydb.unavailable(proxy_note or "not asked for", status="not read")
    else:
        proxy = read_proxy_section(raw, access)
    document = {
        "format": FORMAT, "formatVersion": FORMAT_VERSION, "title": TITLE, "purpose": PURPOSE,
        "createdAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "genwebVersion": __version__,
        "webServer": platform.node(), "requestedBy": requested_by,
        "systemName": webdb.system_name(raw), "webInterface": web, "proxy": proxy,
    }
    return masker.scrub(document)  # a secret copied into any other text goes too


def web_section(store: Path, raw: dict[str, Table], masker: Masker) -> dict[str, Any]:
    states = {row["id"]: webdb.record_state(row) for row in raw.get("record", Table("", [])).rows}
    tables = {}
    for name, table in masker.tables(raw).items():
        entry: dict[str, Any] = {"columns": table.columns, "rowCount": len(table.rows)}
        if name in SHOWN_WEB_COLUMNS:
            entry["shownColumns"] = [c for c in SHOWN_WEB_COLUMNS[name] if c in table.columns]
        if name == "record":  # the index pages' state, derived before masking hid the values
            entry["derivedColumns"] = ["state"]
            entry["rows"] = [{**row, "state": states.get(row.get("id"))} for row in table.rows]
        else:
            entry["rows"] = table.rows
        tables[name] = entry
    return {"store": str(store), "tables": tables, "pages": webdb.catalogue_summary()}


def read_proxy_section(raw: dict[str, Table], access: NodeAccess) -> dict[str, Any]:
    """The proxy database from the HA Nodes, or why not; never raises."""
    engine = webdb.db_engine(raw)
    if engine != DB_MYSQL:
        host = webdb.setting(raw, "databaseConfig", "dbHost") or "(dbHost not set)"
        database = webdb.setting(raw, "databaseConfig", "kamDatabase") or "kamailio"
        return proxydb.unavailable(
            f"dbEngine is {engine}, so the proxy database is database {database} on "
            f"the external MS SQL server {host}; use that server's own tools (14.0)",
            status="not read")
    targets = [Target.from_node(node) for node in webdb.ha_nodes(raw) if node.get("privateIP")]
    root_password = webdb.setting(raw, "databaseConfig", "rootPass")
    try:
        return proxydb.read_proxy(targets, access, root_password=root_password)
    except Exception as exc:  # a download must not fail because of the cluster (14.0)
        log.exception("reading the proxy database failed")
        return proxydb.unavailable(f"reading failed unexpectedly: {type(exc).__name__} "
                                   "(details in the web server's log)")


def dump_filename(document: dict[str, Any]) -> str:
    """genweb-database-<systemName>-<UTC timestamp>.json.gz"""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(document.get("systemName") or "genweb"))
    stamp = re.sub(r"[-:]", "", str(document.get("createdAt", "")))
    return f"genweb-database-{name}-{stamp}.json.gz"


def encode(document: dict[str, Any]) -> bytes:
    """The file's bytes: indented JSON (readable in an editor), gzip-compressed."""
    text = json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n"
    # "replace": a proxy row with bytes that are not UTF-8 must not cost the whole file.
    return gzip.compress(text.encode("utf-8", "replace"), compresslevel=6)
