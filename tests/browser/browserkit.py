"""Helpers shared by the real-browser tests: the live server handle, dialog recording, data."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from genweb import store as gstore
from genweb.store import db

CHROMIUM = os.environ.get("GENWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
USER, PASSWORD = "operator", "browser pass 1"
CREDENTIALS = {"username": USER, "password": PASSWORD}  # a context's http_credentials
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 10_000
PLACEHOLDER = "Type password & press Enter to change"


@dataclass
class Live:
    """A running genweb on 127.0.0.1, and direct access to its store.

    Each store call runs in its own short application context: a long-lived one would keep a
    SQLite transaction (the app begins them IMMEDIATE) and block the server thread's writes.
    """

    app: object
    url: str
    instance: Path

    def call(self, fn, *args, **kwargs):
        with self.app.app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    def settings(self, name: str) -> dict[str, str]:
        """The staged values of a key/value page, secrets included."""
        return self.call(lambda: dict(gstore.get_settings(name).values))

    def save_settings(self, name: str, values: dict[str, str]) -> None:
        self.call(gstore.save_settings, name, values)

    def create(self, name: str, values: dict[str, str]) -> int:
        return self.call(lambda: gstore.create_record(name, values).id)

    def record(self, name: str, record_id: int) -> gstore.RecordView:
        return self.call(gstore.get_record, name, record_id)

    def records(self, name: str, **kwargs) -> list[gstore.RecordView]:
        return self.call(lambda: gstore.list_records(name, **kwargs).items)

    def commit(self) -> None:
        """What a successful Commit Configs leaves behind."""
        self.call(gstore.record_commit)


class Dialogs:
    """Records every dialog the page opens (type, message) and accepts or dismisses it."""

    def __init__(self, page, accept: bool = True):
        self.seen: list[tuple[str, str]] = []
        self.accept = accept
        self._page = page
        page.on("dialog", self._on_dialog)

    def wait_for(self, count: int, timeout_ms: int = TIMEOUT_MS) -> list[str]:
        """Wait until ``count`` dialogs were seen (a dismissed one leaves nothing else to wait
        for) and return their types."""
        waited = 0
        while len(self.seen) < count and waited < timeout_ms:
            self._page.wait_for_timeout(25)  # lets Playwright deliver pending events
            waited += 25
        return self.types()

    def _on_dialog(self, dialog) -> None:
        self.seen.append((dialog.type, dialog.message))
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()

    def types(self) -> list[str]:
        return [kind for kind, _ in self.seen]


# -- data used by several tests ----------------------------------------------------------------

SYSTEM_BASE = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def node(node_id: int, name: str, ip: str) -> dict[str, str]:
    return {"nodeID": str(node_id), "nodeName": name, "privateIP": ip}


def fence(name: str, node_name: str, plug: str = "1") -> dict[str, str]:
    return {"fenceName": name, "fenceNodeName": node_name, "fenceAgent": "fence_ether_snmp",
            "fenceDevicePlug": plug, "fenceDeviceIP": "192.168.40.2", "fenceSnmpUser": "private"}


def row(page, record_id: int):
    """The index row of one record."""
    return page.locator(f'tr[data-id="{record_id}"]')


def row_actions(page, record_id: int) -> list[str]:
    """The actions an operator sees on an index row (Edit, Delete, UnDelete)."""
    cell = row(page, record_id).locator("td.row-actions")
    return [text.strip() for text in cell.locator("a, button").all_inner_texts()]


def index_names(page) -> list[str]:
    """The first column of every row of an index page."""
    return [text.strip() for text in page.locator("table.index tbody tr[data-id] td:nth-child(2)")
            .all_inner_texts()]


def press_save(page) -> None:
    """Press Save and wait until the page it leads to has loaded (often the same URL)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()


@contextlib.contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app served on 127.0.0.1 (a free port) in a thread; yields its base URL and stops it
    (and its database engine) afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="genweb-live", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
