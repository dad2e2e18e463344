"""Database Config shows the MS SQL or the MySQL fields according to the saved dbEngine (13.1.1)."""

from __future__ import annotations

import pytest
from browserkit import press_save
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

MSSQL = ["dbEngine", "dbHost", "kamDatabase", "dbrwUser", "dbrwPass"]
MYSQL = ["dbEngine", "rootPass", "dbrwPass", "dbroPass", "replicationPass"]
ALL = set(MSSQL) | set(MYSQL)


def shown_keys(page) -> list[str]:
    return [name.strip() for name in page.locator("table.keys td.name").all_inner_texts()]


def save(page) -> None:
    press_save(page)
    expect(page.locator(".flash.success")).to_contain_text("Database Configuration saved")


def assert_fields(page, names: list[str]) -> None:
    assert shown_keys(page) == names
    for hidden in ALL - set(names):
        expect(page.locator(f"#f-{hidden}")).to_have_count(0)


def test_switching_engines_shows_the_engines_fields(live, page, dialogs):
    page.goto("/databaseConfig")
    assert_fields(page, MSSQL)
    expect(page.locator("#f-dbEngine")).to_have_value("Default")
    page.locator("#f-dbHost").fill("tcp:sql.example.com,1433")
    save(page)
    assert live.settings("databaseConfig")["dbHost"] == "tcp:sql.example.com,1433"

    # Choosing MySQL shows nothing new until Save (the page says so) ...
    page.locator("#f-dbEngine").select_option("MySQL")
    assert_fields(page, MSSQL)
    save(page)
    expect(page.locator("#f-dbEngine")).to_have_value("MySQL")
    assert_fields(page, MYSQL)
    assert live.settings("databaseConfig")["dbEngine"] == "MySQL"

    # ... and the MySQL passwords follow the usual Enter rule.
    page.locator("#f-rootPass").fill("root-secret-1")
    page.locator("#f-rootPass").press("Enter")
    save(page)
    assert live.settings("databaseConfig")["rootPass"] == "root-secret-1"
    assert_fields(page, MYSQL)

    # Switching back: the MS SQL fields again, with what was saved for them.
    page.locator("#f-dbEngine").select_option("MS SQL")
    save(page)
    assert_fields(page, MSSQL)
    expect(page.locator("#f-dbHost")).to_have_value("tcp:sql.example.com,1433")
    stored = live.settings("databaseConfig")
    assert stored["dbEngine"] == "MS SQL" and stored["rootPass"] == "root-secret-1"

    # "Default" is MS SQL (13.1.1).
    page.locator("#f-dbEngine").select_option("MySQL")
    save(page)
    assert_fields(page, MYSQL)
    page.locator("#f-dbEngine").select_option("Default")
    save(page)
    assert_fields(page, MSSQL)
    assert dialogs.seen == []


def test_switch_and_password_in_one_save(live, page):
    """dbrwPass belongs to both engines: a confirmed one is kept across the switch."""
    page.goto("/databaseConfig")
    page.locator("#f-dbEngine").select_option("MySQL")
    page.locator("#f-dbrwPass").fill("rw-secret-2")
    page.locator("#f-dbrwPass").press("Tab")
    save(page)
    assert_fields(page, MYSQL)
    expect(page.locator("#row-dbrwPass [data-secret-state]")).to_have_text("A value is set")
    stored = live.settings("databaseConfig")
    assert (stored["dbEngine"], stored["dbrwPass"]) == ("MySQL", "rw-secret-2")
    assert "rw-secret-2" not in page.content()
