"""Database Utilities in Chromium (14.0, Figure 24): the sidebar link, the Download Database
button, and the file the browser saves."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_dbutil import FILE_NAME, leaked, seed_store

pytestmark = pytest.mark.browser


def test_download_database_saves_the_gzip_file_without_secrets(live, page, dialogs, tmp_path):
    secrets = live.call(seed_store, 5)
    page.goto("/")
    page.get_by_role("link", name="Database Utilities").click()
    page.wait_for_url("**/databaseUtilities")
    expect(page.get_by_role("heading", name="Database Utilities")).to_be_visible()
    expect(page.locator("main")).to_contain_text("node1 (198.18.0.11), node2 (198.18.0.12)")

    with page.expect_download() as pending:
        page.get_by_role("button", name="Download Database").click()
    download = pending.value
    assert download.failure() is None
    name = download.suggested_filename
    assert FILE_NAME.fullmatch(name) and FILE_NAME.fullmatch(name)["system"] == "dumptest2"
    saved = tmp_path / name
    download.save_as(saved)

    text = gzip.decompress(saved.read_bytes()).decode("utf-8")
    assert not leaked(text, secrets)
    document = json.loads(text)
    assert document["format"] == "genweb-database-dump"
    assert document["requestedBy"] == "operator"
    tables = document["webInterface"]["tables"]
    assert {"setting", "page_state", "record", "record_key", "generated"} <= set(tables)
    assert sum(row["kind"] == "subscribers" for row in tables["record"]["rows"]) == 6
    assert [a["node"] for a in document["proxy"]["attempts"]] == ["node1", "node2", "node3"]

    expect(page).to_have_url(f"{live.url}/databaseUtilities")  # the page stays
    assert dialogs.seen == []
    assert Path(download.path()).stat().st_size == saved.stat().st_size
