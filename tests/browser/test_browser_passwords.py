"""Password fields in a real browser (the manual's notes under 5.2.6, 6.2.13, 7.1.29, 13.1):
type then Enter or Tab to change; Enter on an empty field sets a blank password; an untouched
field keeps its value; leaving or refreshing without Save discards; secrets never reach the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from browserkit import CREDENTIALS, PLACEHOLDER, Live, node, press_save
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

OLD = "Old-Secret-4711"
NEW = "New-Secret-0815 with spaces & <markup>"


def leaks(html: str) -> bool:
    """Whether either secret shows in a page, escaped or not."""
    return "Old-Secret-4711" in html or "New-Secret-0815" in html


@dataclass(frozen=True)
class SecretField:
    """A password field on one page: how to seed it, open it, and read what was stored."""

    label: str
    key: str
    seed: Callable[[Live], str]  # stores OLD, returns the page's URL
    stored: Callable[[Live], str]
    saved_url: str  # where Save lands (glob)
    saved_flash: str
    url: str = ""  # the page, once seeded

    def input(self, page):
        return page.locator(f"#f-{self.key}")

    def state(self, page):
        return page.locator(f"#row-{self.key} [data-secret-state]")


def _seed_setting(name: str, key: str) -> Callable[[Live], str]:
    def seed(live: Live) -> str:
        live.save_settings(name, {key: OLD})
        return f"/{name}"
    return seed


def _seed_node(live: Live) -> str:
    record_id = live.create("haNodes", {**node(1, "node1", "192.168.40.71"), "sshPassword": OLD})
    return f"/haNodes/{record_id}/edit"


def _stored_node(live: Live) -> str:
    (only,) = live.records("haNodes")
    return only.values["sshPassword"]


FIELDS = [
    SecretField("databaseConfig.dbrwPass", "dbrwPass", _seed_setting("databaseConfig", "dbrwPass"),
                lambda live: live.settings("databaseConfig")["dbrwPass"], "**/databaseConfig",
                "Database Configuration saved"),
    SecretField("proxyConfig.dispatchAuthPassword", "dispatchAuthPassword",
                _seed_setting("proxyConfig", "dispatchAuthPassword"),
                lambda live: live.settings("proxyConfig")["dispatchAuthPassword"],
                "**/proxyConfig", "saved"),
    SecretField("haNodes.sshPassword", "sshPassword", _seed_node, _stored_node, "**/haNodes",
                "Node 1 / node1 saved"),
]


@pytest.fixture(params=FIELDS, ids=[f.label for f in FIELDS])
def field(request, live, page):
    """The page with a secret already set to OLD, open in the browser."""
    spec: SecretField = replace(request.param, url=request.param.seed(live))
    page.goto(spec.url)
    expect(spec.input(page)).to_have_attribute("placeholder", PLACEHOLDER)
    expect(spec.input(page)).to_have_value("")
    expect(spec.state(page)).to_have_text("A value is set")
    return spec


def save(page, spec: SecretField) -> None:
    press_save(page)
    page.wait_for_url(spec.saved_url)
    expect(page.locator(".flash.success")).to_contain_text(spec.saved_flash)


def test_type_then_enter_then_save_stores_it(live, page, dialogs, field):
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    field.input(page).fill(NEW)
    field.input(page).press("Enter")
    # Enter confirms the password; it does not submit the page.
    expect(field.state(page)).to_have_text("Will change on Save")
    assert page.url == live.url + field.url and posts == []
    assert field.stored(live) == OLD
    save(page, field)
    assert field.stored(live) == NEW
    assert dialogs.seen == []


def test_type_then_tab_then_save_stores_it(live, page, field):
    field.input(page).fill(NEW)
    field.input(page).press("Tab")
    expect(field.state(page)).to_have_text("Will change on Save")
    expect(field.input(page)).not_to_be_focused()
    save(page, field)
    assert field.stored(live) == NEW


def test_enter_on_an_empty_field_sets_a_blank_password(live, page, field):
    field.input(page).click()
    field.input(page).press("Enter")
    expect(field.state(page)).to_have_text("Will be set blank on Save")
    save(page, field)
    assert field.stored(live) == ""
    page.goto(field.url)
    expect(field.state(page)).to_have_text("Not set")


def test_untouched_field_keeps_its_value_even_when_tabbed_through(live, page, field):
    # The operator tabs through every field of the page without typing a password.
    for box in page.locator("[data-secret-input]").all():
        box.focus()
        box.press("Tab")
    expect(field.state(page)).to_have_text("A value is set")
    save(page, field)
    assert field.stored(live) == OLD


def test_typed_without_enter_or_tab_blocks_save_and_stores_nothing(live, page, dialogs, field):
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    field.input(page).fill(NEW)
    page.get_by_role("button", name="Save").click()
    expect(field.state(page)).to_have_text(
        "Press Enter or Tab to confirm this password, or clear the field")
    expect(field.input(page)).to_be_focused()
    expect(page.locator(".flash")).to_have_count(0)
    assert page.url == live.url + field.url and posts == []
    assert field.stored(live) == OLD
    # Confirming it then lets the same Save go through.
    field.input(page).press("Enter")
    save(page, field)
    assert field.stored(live) == NEW
    assert dialogs.seen == []


def test_confirmed_but_not_saved_is_discarded_by_reload_or_leaving(live, page, dialogs, field):
    field.input(page).fill(NEW)
    field.input(page).press("Enter")
    page.reload()
    assert dialogs.types() == ["beforeunload"]
    expect(field.state(page)).to_have_text("A value is set")
    expect(field.input(page)).to_have_value("")
    assert field.stored(live) == OLD

    field.input(page).fill(NEW)
    field.input(page).press("Enter")
    page.get_by_role("link", name="Subscribers").click()
    page.wait_for_url("**/subscribers")
    assert dialogs.types() == ["beforeunload", "beforeunload"]
    assert field.stored(live) == OLD


def test_secret_never_appears_in_the_page(live, page, field):
    assert not leaks(page.content())
    field.input(page).fill(NEW)
    field.input(page).press("Enter")
    save(page, field)
    assert field.stored(live) == NEW
    for html in (page.content(), page.goto(field.url).text()):
        assert not leaks(html)
    expect(field.input(page)).to_have_value("")
    expect(field.state(page)).to_have_text("A value is set")


def test_refused_save_does_not_send_the_typed_secret_back(live, page):
    """A confirmed password in a save refused for another field: not stored, not echoed."""
    live.save_settings("databaseConfig", {"dbrwPass": OLD})
    page.goto("/databaseConfig")
    page.locator("#f-dbHost").fill("tcp:sql.example.com,99999")
    page.locator("#f-dbrwPass").fill(NEW)
    page.locator("#f-dbrwPass").press("Enter")
    press_save(page)
    expect(page.locator("#error-dbHost")).to_be_visible()
    expect(page.locator("#f-dbHost")).to_have_value("tcp:sql.example.com,99999")
    expect(page.locator("#row-dbrwPass [data-secret-state]")).to_have_text(
        "Not saved: type it again and press Enter")
    assert not leaks(page.content())
    assert live.settings("databaseConfig")["dbrwPass"] == OLD


def test_invalid_hash_secret_gets_a_message_beside_the_field(live, page):
    """HA1 fields are secrets with a grammar (32 hex digits): a bad one is refused, not echoed."""
    page.goto("/proxyConfig")
    bad = "not-a-hash-" + "z" * 21
    page.locator("#f-dispatchAuthHa1").fill(bad)
    page.locator("#f-dispatchAuthHa1").press("Enter")
    press_save(page)
    expect(page.locator("#error-dispatchAuthHa1")).to_contain_text(re.compile("32|hex", re.I))
    assert bad not in page.content()
    assert live.settings("proxyConfig")["dispatchAuthHa1"] == ""


def test_without_javascript_the_change_checkbox_decides(browser, live):
    """No JavaScript: a typed password changes only when its "change" box is ticked."""
    live.save_settings("databaseConfig", {"dbrwPass": OLD, "kamDatabase": "kamailio"})
    ctx = browser.new_context(base_url=live.url, java_script_enabled=False,
                              http_credentials=CREDENTIALS)
    try:
        page = ctx.new_page()
        page.goto("/databaseConfig")
        change = page.locator('input[name="dbrwPass__set"]')
        expect(change).to_be_visible()
        page.locator("#f-dbrwPass").fill(NEW)
        page.locator("#f-kamDatabase").fill("kam_other")
        press_save(page)
        expect(page.locator(".flash.success")).to_be_visible()
        assert live.settings("databaseConfig")["dbrwPass"] == OLD  # typed, not ticked: kept
        assert live.settings("databaseConfig")["kamDatabase"] == "kam_other"

        page.locator("#f-dbrwPass").fill(NEW)
        page.locator('input[name="dbrwPass__set"]').check()
        press_save(page)
        expect(page.locator(".flash.success")).to_be_visible()
        assert live.settings("databaseConfig")["dbrwPass"] == NEW

        page.locator('input[name="dbrwPass__set"]').check()  # ticked, empty: blank password
        press_save(page)
        expect(page.locator(".flash.success")).to_be_visible()
        assert live.settings("databaseConfig")["dbrwPass"] == ""
        assert not leaks(page.content())
    finally:
        ctx.close()


def test_typing_after_enter_needs_a_new_enter(live, page):
    """What Save stores is what the operator confirmed: editing a confirmed password makes it
    unconfirmed again (Save is blocked until Enter/Tab); clearing it leaves the password as it was."""
    live.save_settings("databaseConfig", {"dbrwPass": OLD})
    page.goto("/databaseConfig")
    secret, state = page.locator("#f-dbrwPass"), page.locator("#row-dbrwPass [data-secret-state]")
    secret.fill("first-try")
    secret.press("Enter")
    expect(state).to_have_text("Will change on Save")
    secret.press_sequentially("-typo")
    expect(state).to_have_text("Press Enter or Tab to confirm")
    page.get_by_role("button", name="Save").click()
    expect(state).to_have_text("Press Enter or Tab to confirm this password, or clear the field")
    assert live.settings("databaseConfig")["dbrwPass"] == OLD

    secret.fill("")  # cleared: back to untouched
    expect(state).to_have_text("A value is set")
    press_save(page)
    expect(page.locator(".flash.success")).to_be_visible()
    assert live.settings("databaseConfig")["dbrwPass"] == OLD
