"""Parity: for every catalogue key, the API and the browser page store and show the same value,
and refuse the same invalid value with the same message.

Each page is filled with the catalogue's examples (valid together), one way then the other;
each key is then given an invalid value through both, starting from the same saved state.
"""

from __future__ import annotations

import pytest

from genweb import store
from genweb.blueprints.settings import shown_keys
from genweb.catalogue import DATABASE_CONFIG, FENCES, PAGES, Key, Kind, Page, database_keys

from .conftest import PageReader, secret_state

NODE_FOR_FENCES = {"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71"}


def rounds(page: Page) -> list[dict[str, str]]:
    """Sets of valid values that cover every key of the page as the page shows it."""
    if page is DATABASE_CONFIG:  # the page shows the keys of the saved dbEngine only (13.1)
        return [{name: ("MS SQL" if name == "dbEngine" else page.key(name).example)
                 for name in database_keys("MS SQL")},
                {name: page.key(name).example for name in database_keys("MySQL")}]
    return [{key.name: key.example for key in page.keys}]


def invalid_value(key: Key) -> str:
    """A value every checker of this kind refuses."""
    if key.kind in (Kind.TRISTATE, Kind.CHOICE):
        return "bogus-choice"
    if key.kind is Kind.INTEGER:
        return "12x"
    if key.secret:
        return "two\nlines"  # neither a single line nor a hash: every secret refuses it
    return 'bad "value"'


def form_data(page: Page, values: dict[str, str]) -> dict[str, str]:
    """What the browser posts: the values, with the Enter/Tab flag on each typed password."""
    data = dict(values)
    data.update({f"{name}__set": "1" for name in values if page.key(name).secret})
    return data


def setup_page(client, page: Page) -> None:
    if page is FENCES:
        assert client.post("/api/haNodes", json=NODE_FOR_FENCES).status_code == 201


def write_api(client, page: Page, values: dict[str, str], record_id: int | None) -> dict:
    if not page.collection:
        response = client.patch(f"/api/{page.name}", json=values)
    elif record_id is None:
        response = client.post(f"/api/{page.name}", json=values)
    else:
        response = client.patch(f"/api/{page.name}/{record_id}", json=values)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def html_url(page: Page, record_id: int | None) -> str:
    if not page.collection:
        return page.url
    return f"{page.url}/create" if record_id is None else f"{page.url}/{record_id}/edit"


def read_html(client, page: Page, record_id: int | None) -> tuple[str, PageReader]:
    html = client.get(html_url(page, record_id)).get_data(as_text=True)
    return html, PageReader(html)


def assert_page_shows(client, page: Page, values: dict[str, str], record_id: int | None,
                      api_body: dict) -> None:
    html, shown = read_html(client, page, record_id)
    with client.application.app_context():
        stored = (store.get_settings(page.name) if not page.collection
                  else store.get_record(page.name, record_id))
    names = [key.name for key in shown_keys(page, stored.values)] if not page.collection \
        else list(values)
    assert set(values) <= set(names)
    for name in values:
        key = page.key(name)
        if key.secret:
            assert api_body["secretsSet"][name] is True
            assert secret_state(html, name) == "A value is set"
            assert values[name] not in html
        else:
            assert shown.values[name] == api_body["values"][name] == key.clean(values[name]), name


def record_ids(client, page: Page) -> set[int]:
    return {item["id"] for item in client.get(f"/api/{page.name}").get_json()["items"]}


@pytest.mark.parametrize("name", PAGES)
def test_written_through_the_api_read_through_the_page(client, name):
    page = PAGES[name]
    setup_page(client, page)
    covered: set[str] = set()
    for values in rounds(page):
        body = write_api(client, page, values, None)
        record_id = body.get("id")
        assert_page_shows(client, page, values, record_id, body)
        covered |= set(values)
    assert covered == set(page.key_map)


@pytest.mark.parametrize("name", PAGES)
def test_written_through_the_page_read_through_the_api(client, name):
    page = PAGES[name]
    setup_page(client, page)
    for values in rounds(page):
        if page is DATABASE_CONFIG:  # the operator saves the engine first, then its keys (13.1)
            assert client.post(page.url, data={"dbEngine": values["dbEngine"]}).status_code == 302
        before = record_ids(client, page) if page.collection else set()
        posted = client.post(html_url(page, None), data=form_data(page, values))
        assert posted.status_code == 302, PageReader(posted.get_data(as_text=True)).errors
        record_id = (record_ids(client, page) - before).pop() if page.collection else None
        url = f"/api/{page.name}" + (f"/{record_id}" if record_id else "")
        body = client.get(url).get_json()
        for name_, value in values.items():
            key = page.key(name_)
            if key.secret:
                assert body["secretsSet"][name_] is True
                with client.application.app_context():
                    view = (store.get_record(page.name, record_id) if record_id
                            else store.get_settings(page.name))
                assert view.values[name_] == value  # the page stored what was typed
            else:
                assert body["values"][name_] == key.clean(value), name_
        assert_page_shows(client, page, values, record_id, body)


@pytest.mark.parametrize("name", PAGES)
def test_the_same_invalid_value_gets_the_same_message(client, name):
    page = PAGES[name]
    setup_page(client, page)
    for values in rounds(page):
        record_id = write_api(client, page, values, None).get("id")
        for key_name in values:
            bad = invalid_value(page.key(key_name))
            api = client.patch(f"/api/{page.name}" + (f"/{record_id}" if record_id else ""),
                               json={key_name: bad})
            assert api.status_code == 422, (key_name, bad)
            api_message = api.get_json()["errors"]["json"][key_name][0]
            html = client.post(html_url(page, record_id),
                               data=form_data(page, {**values, key_name: bad}))
            assert html.status_code == 422, key_name
            shown = PageReader(html.get_data(as_text=True))
            assert shown.errors[key_name] == api_message, key_name
