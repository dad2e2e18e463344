"""Field-level messages with nothing else lost, and committed node identity read-only (5.1.2)."""

from __future__ import annotations

import pytest
from browserkit import ARTIFACTS, CREDENTIALS, SYSTEM_BASE, node, press_save, row
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TYPED = {"systemName": "edge-proxy", "privateIP": "192.168.40.300", "privateSubnet": "24",
         "privatePing": "192.168.40.1", "alias": "proxy.example.com\nproxy.example.com:5061"}


def test_invalid_private_ip_gets_a_message_beside_it_and_keeps_the_rest(live, page, dialogs):
    page.goto("/systemConfig")
    for key, value in TYPED.items():
        page.locator(f"#f-{key}").fill(value)
    page.locator("#f-onFailMode").select_option("Fence")
    press_save(page)

    message = page.locator("#error-privateIP")
    expect(message).to_be_visible()
    expect(message).to_contain_text("192.168.40.300")
    # The message sits in privateIP's row, beside the field, and only there.
    expect(page.locator("#row-privateIP .error")).to_have_count(1)
    expect(page.locator("#row-privateIP")).to_have_class("has-error")
    expect(page.locator(".error[id^=error-]")).to_have_count(1)
    expect(page.locator("#refused")).to_contain_text("Nothing was saved: 1 value to correct")
    # Everything typed is still on the page, the wrong value included.
    for key, value in TYPED.items():
        expect(page.locator(f"#f-{key}")).to_have_value(value)
    expect(page.locator("#f-onFailMode")).to_have_value("Fence")
    # Nothing was stored.
    stored = live.settings("systemConfig")
    assert stored["systemName"] == "" and stored["privateIP"] == "" and stored["alias"] == ""
    assert stored["onFailMode"] == "Default"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "systemConfig-invalid-privateIP.png"), full_page=True)

    # Correcting the one value saves everything typed.
    page.locator("#f-privateIP").fill("192.168.40.70")
    press_save(page)
    expect(page.locator(".flash.success")).to_contain_text("System Configuration saved")
    expect(page.locator(".error")).to_have_count(0)
    stored = live.settings("systemConfig")
    assert {key: stored[key] for key in TYPED} == {**TYPED, "privateIP": "192.168.40.70"}
    assert stored["onFailMode"] == "Fence"
    assert dialogs.seen == []


def test_leaving_a_refused_page_warns_that_the_typed_values_are_not_saved(live, page, dialogs):
    """After "Nothing was saved", the operator's values are on the page but not stored: leaving
    them is leaving unsaved edits (2.0), so the browser asks first."""
    page.goto("/systemConfig")
    for key, value in TYPED.items():
        page.locator(f"#f-{key}").fill(value)
    press_save(page)
    expect(page.locator("#error-privateIP")).to_be_visible()
    dialogs.accept = False
    page.get_by_role("link", name="HA Nodes").click()
    assert dialogs.wait_for(1) == ["beforeunload"]
    expect(page.locator("#f-systemName")).to_have_value("edge-proxy")


def test_committed_node_identity_is_read_only(live, page):
    record_id = live.create("haNodes", {**node(3, "node3", "192.168.40.73"),
                                        "publicIP": "192.168.50.73"})
    page.goto(f"/haNodes/{record_id}/edit")
    for key in ("nodeID", "nodeName", "privateIP", "publicIP"):
        expect(page.locator(f"#f-{key}")).to_be_editable()  # not committed yet: editable

    live.commit()
    page.goto("/haNodes")
    row(page, record_id).get_by_role("link", name="Edit").click()
    page.wait_for_url(f"**/haNodes/{record_id}/edit")
    expected = {"nodeID": "3", "nodeName": "node3", "privateIP": "192.168.40.73",
                "publicIP": "192.168.50.73"}
    for key, value in expected.items():
        field = page.locator(f"#f-{key}")
        expect(field).to_have_value(value)
        expect(field).not_to_be_editable()
        expect(page.locator(f"#row-{key} .hint")).to_contain_text("Committed: cannot change")
    # The rest of the node still changes.
    page.locator('#f-sshKeyEnable input[value="No"]').check()
    press_save(page)
    page.wait_for_url("**/haNodes")
    expect(page.locator(".flash.success")).to_contain_text("Node 3 / node3 saved")
    stored = live.record("haNodes", record_id).values
    assert stored["sshKeyEnable"] == "No"
    assert {key: stored[key] for key in expected} == expected


def test_second_operator_saving_the_same_page_is_refused_not_overwritten(live, browser, page,
                                                                         dialogs):
    live.save_settings("systemConfig", SYSTEM_BASE)
    other_ctx = browser.new_context(base_url=live.url, http_credentials=CREDENTIALS)
    try:
        other = other_ctx.new_page()
        page.goto("/systemConfig")
        other.goto("/systemConfig")
        other.locator("#f-systemName").fill("first-operator")
        press_save(other)
        expect(other.locator(".flash.success")).to_be_visible()

        page.locator("#f-systemName").fill("second-operator")
        press_save(page)
        expect(page.locator("#refused")).to_contain_text("changed by someone else")
        expect(page.locator("#f-systemName")).to_have_value("second-operator")  # not lost
        assert live.settings("systemConfig")["systemName"] == "first-operator"
        # Opening the page again shows the other operator's values; it discards this operator's
        # edits, so it asks first. (The browser's reload would re-post the refused form.)
        page.locator("#load-current").click()
        page.wait_for_url("**/systemConfig")
        assert dialogs.types() == ["beforeunload"]
        expect(page.locator("#refused")).to_have_count(0)
        expect(page.locator("#f-systemName")).to_have_value("first-operator")
    finally:
        other_ctx.close()
