"""The two default TLS sections always exist and cannot be deleted; their identity is fixed (9.1)."""

from __future__ import annotations

import pytest
from browserkit import press_save, row, row_actions
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def defaults(live) -> dict[str, int]:
    return {r.values["tlsRole"]: r.id for r in live.records("tlsProxyConfigs")
            if r.values["tlsDomain"] == "default"}


@pytest.mark.parametrize("committed", [False, True], ids=["fresh", "after-commit"])
def test_default_sections_have_edit_but_no_delete(live, page, committed):
    if committed:
        live.commit()
    ids = defaults(live)
    assert set(ids) == {"client", "server"}
    page.goto("/tlsProxyConfigs")
    for role, record_id in ids.items():
        cells = row(page, record_id).locator("td").all_inner_texts()
        assert cells[1:3] == ["default", role]
        assert row_actions(page, record_id) == ["Edit"], role


def test_default_section_domain_and_role_cannot_change(live, page):
    record_id = defaults(live)["server"]
    page.goto("/tlsProxyConfigs")
    row(page, record_id).get_by_role("link", name="Edit").click()
    page.wait_for_url(f"**/tlsProxyConfigs/{record_id}/edit")
    expect(page.locator("p.subtitle")).to_contain_text("(default section)")
    for key, value in (("tlsDomain", "default"), ("tlsRole", "server")):
        expect(page.locator(f"#f-{key}")).to_have_value(value)
        expect(page.locator(f"#f-{key}")).not_to_be_editable()

    # Even a page tampered with (readonly removed, the field made submittable) changes nothing.
    page.evaluate("""() => {
        for (const key of ["tlsDomain", "tlsRole"]) {
            const input = document.getElementById("f-" + key);
            input.removeAttribute("readonly");
            input.name = key;
        }
    }""")
    page.locator("#f-tlsDomain").fill("192.0.2.1:5061")
    page.locator("#f-tlsRole").fill("client")
    page.locator("#f-method").select_option("TLSv1.1+")
    press_save(page)
    page.wait_for_url("**/tlsProxyConfigs")
    expect(page.locator(".flash.success")).to_contain_text("saved")
    stored = live.record("tlsProxyConfigs", record_id).values
    assert (stored["tlsDomain"], stored["tlsRole"], stored["method"]) == (
        "default", "server", "TLSv1.1+")


def test_a_forged_delete_of_a_default_section_is_refused(live, page):
    record_id = defaults(live)["client"]
    # Post the form a Delete button would, with a CSRF token of the session (from the edit page;
    # the index has no Delete form for a default section to take one from).
    page.goto(f"/tlsProxyConfigs/{record_id}/edit")
    page.evaluate("""(id) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/tlsProxyConfigs/" + id + "/delete";
        const token = document.querySelector('input[name="csrf_token"]').cloneNode();
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
    }""", record_id)
    page.wait_for_url("**/tlsProxyConfigs")
    expect(page.locator(".flash.error")).to_contain_text("cannot be deleted")
    assert row_actions(page, record_id) == ["Edit"]
    assert set(defaults(live)) == {"client", "server"}


def test_a_created_section_can_be_deleted(live, page, dialogs):
    page.goto("/tlsProxyConfigs")
    page.get_by_role("link", name="Create New").click()
    page.wait_for_url("**/tlsProxyConfigs/create")
    page.locator("#f-tlsDomain").fill("192.0.2.20:5061")
    page.locator("#f-tlsRole").select_option("server")
    press_save(page)
    page.wait_for_url("**/tlsProxyConfigs")
    expect(page.locator(".flash.success")).to_contain_text("created")
    (created,) = [r for r in live.records("tlsProxyConfigs") if r.values["tlsDomain"] != "default"]
    assert (created.values["tlsDomain"], created.values["tlsRole"]) == ("192.0.2.20:5061", "server")
    assert row_actions(page, created.id) == ["Edit", "Delete"]

    # Committed, Delete marks it (UnDelete only) while the defaults keep their Edit.
    live.commit()
    page.reload()
    with page.expect_navigation():
        row(page, created.id).get_by_role("button", name="Delete").click()
    expect(page.locator(".flash.success")).to_contain_text("marked for deletion")
    assert row_actions(page, created.id) == ["UnDelete"]
    assert dialogs.seen == []
    for record_id in defaults(live).values():
        assert row_actions(page, record_id) == ["Edit"]

    # After the next commit it is gone for good; a new one is removed at once (after a confirm).
    live.commit()
    page.reload()
    expect(row(page, created.id)).to_have_count(0)
    page.goto("/tlsProxyConfigs/create")
    page.locator("#f-tlsDomain").fill("192.0.2.21:5061")
    press_save(page)
    page.wait_for_url("**/tlsProxyConfigs")
    (again,) = [r for r in live.records("tlsProxyConfigs") if r.values["tlsDomain"] != "default"]
    with page.expect_navigation():
        row(page, again.id).get_by_role("button", name="Delete").click()
    assert dialogs.types() == ["confirm"]
    expect(page.locator(".flash.success")).to_contain_text("deleted")
    expect(row(page, again.id)).to_have_count(0)
    assert [r.values["tlsDomain"] for r in live.records("tlsProxyConfigs")] == ["default", "default"]
