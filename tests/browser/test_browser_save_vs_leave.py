"""Nothing is stored until Save; leaving a page with unsaved edits asks first (manual 2.0)."""

from __future__ import annotations

import pytest
from browserkit import SYSTEM_BASE, press_save
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_leaving_with_unsaved_edits_warns_and_discards_then_save_stores(live, page, dialogs):
    live.save_settings("systemConfig", SYSTEM_BASE)
    page.goto("/systemConfig")
    name = page.locator("#f-systemName")
    name.fill("edited-system")

    # Leaving through the sidebar: the browser asks; "Stay" keeps the page and the edit.
    dialogs.accept = False
    page.get_by_role("link", name="HA Nodes").click()
    assert dialogs.wait_for(1) == ["beforeunload"]
    expect(name).to_have_value("edited-system")
    assert page.url.endswith("/systemConfig")

    # "Leave" leaves, and the edit is gone: nothing was stored.
    dialogs.accept = True
    page.get_by_role("link", name="HA Nodes").click()
    page.wait_for_url("**/haNodes")
    assert dialogs.types() == ["beforeunload", "beforeunload"]
    assert live.settings("systemConfig")["systemName"] == ""
    page.goto("/systemConfig")
    expect(page.locator("#f-systemName")).to_have_value("")

    # Save stores it: a flash message, the value after a reload, and in the store.
    page.locator("#f-systemName").fill("edited-system")
    press_save(page)
    expect(page.locator(".flash.success")).to_contain_text("System Configuration saved")
    page.reload()
    expect(page.locator("#f-systemName")).to_have_value("edited-system")
    assert live.settings("systemConfig")["systemName"] == "edited-system"
    # Saving is not "leaving with unsaved edits", and a saved page leaves without a question.
    page.get_by_role("link", name="Fences").click()
    page.wait_for_url("**/fences")
    assert dialogs.types() == ["beforeunload", "beforeunload"]


def test_an_untouched_page_leaves_without_a_question(live, page, dialogs):
    page.goto("/proxyConfig")
    page.get_by_role("link", name="Proxy Media Config").click()
    page.wait_for_url("**/mediaConfig")
    page.locator("#f-rtpList").click()  # focus alone is not an edit
    page.get_by_role("link", name="Database Config").click()
    page.wait_for_url("**/databaseConfig")
    assert dialogs.seen == []


def test_reload_with_unsaved_edits_warns_and_discards(live, page, dialogs):
    live.save_settings("systemConfig", SYSTEM_BASE)
    page.goto("/systemConfig")
    page.locator("#f-privatePing").fill("192.168.40.254")
    page.reload()
    assert dialogs.types() == ["beforeunload"]
    expect(page.locator("#f-privatePing")).to_have_value("192.168.40.1")
    assert live.settings("systemConfig")["privatePing"] == "192.168.40.1"
