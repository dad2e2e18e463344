"""The browser pages through HTTP (no JavaScript): save, refusal, conflicts, secrets, CSRF."""

from __future__ import annotations

import re

from genweb import create_app, store
from genweb.store import db

from .conftest import basic_auth

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def revision_of(html: str) -> str:
    return re.search(r'name="revision" value="(\d+)"', html).group(1)


def field_value(html: str, key: str) -> str:
    match = re.search(rf'id="f-{re.escape(key)}" name="{re.escape(key)}" value="([^"]*)"', html)
    return match.group(1) if match else ""


def test_save_stores_and_shows_the_values(client, app):
    html = client.get("/systemConfig").get_data(as_text=True)
    response = client.post("/systemConfig", data={**SYSTEM, "revision": revision_of(html),
                                                  "startAtBoot": "Yes"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Global System Configuration saved" in page
    assert field_value(page, "privateIP") == "192.168.40.70"
    assert re.search(r'name="startAtBoot" value="Yes" checked', page)


def test_second_operator_on_a_stale_page_is_refused_with_edits_kept(client):
    opened = revision_of(client.get("/proxyConfig").get_data(as_text=True))
    first = client.post("/proxyConfig", data={"serverHeader": "First", "revision": opened})
    assert first.status_code == 302
    second = client.post("/proxyConfig", data={"serverHeader": "Second", "revision": opened})
    page = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "changed by someone else" in page
    assert field_value(page, "serverHeader") == "Second"  # the refused edit is still on screen
    with client.application.app_context():
        assert store.get_settings("proxyConfig").values["serverHeader"] == "First"


def test_password_changes_only_when_confirmed_and_is_never_sent_back(client, app):
    client.post("/haNodes/create", data={"nodeID": "1", "nodeName": "node1",
                                         "privateIP": "192.168.40.71", "sshKeyEnable": "No",
                                         "sshPassword": "typed-but-not-confirmed"})
    with app.app_context():
        created = store.list_records("haNodes").items[0]
        assert created.values["sshPassword"] == ""
    edit = f"/haNodes/{created.id}/edit"
    client.post(edit, data={"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71",
                            "sshKeyEnable": "No", "sshPassword": "Pa55word!", "sshPassword__set": "1"})
    html = client.get(edit).get_data(as_text=True)
    assert "Pa55word!" not in html
    assert "A value is set" in html
    client.post(edit, data={"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71",
                            "sshKeyEnable": "No"})  # untouched field
    with app.app_context():
        assert store.get_record("haNodes", created.id).values["sshPassword"] == "Pa55word!"
    client.post(edit, data={"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71",
                            "sshKeyEnable": "No", "sshPassword": "", "sshPassword__set": "1"})
    with app.app_context():
        assert store.get_record("haNodes", created.id).values["sshPassword"] == ""


def test_refused_save_never_echoes_a_secret(client):
    response = client.post("/proxyConfig", data={"dispatchAuthUser": "is", "dispatchAuthRealm": "",
                                                 "dispatchAuthPassword": "TopSecret",
                                                 "dispatchAuthPassword__set": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "TopSecret" not in page
    assert "dispatchAuthRealm is required" in page
    assert "Not saved: type it again" in page


def test_database_page_shows_the_fields_of_the_saved_engine(client):
    names = lambda html: set(re.findall(r'<label for="f-([^"]+)">', html))  # noqa: E731
    mssql = names(client.get("/databaseConfig").get_data(as_text=True))
    assert mssql == {"dbEngine", "dbHost", "kamDatabase", "dbrwUser", "dbrwPass"}
    client.post("/databaseConfig", data={"dbEngine": "MySQL"})
    mysql = names(client.get("/databaseConfig").get_data(as_text=True))
    assert mysql == {"dbEngine", "rootPass", "dbrwPass", "dbroPass", "replicationPass"}


def test_index_shows_only_undelete_for_a_marked_record(client, app):
    with app.app_context():
        created = store.create_record("subscribers", {"username": "5000", "domain": "10.9.7.130"})
        store.record_commit()
    client.post(f"/subscribers/{created.id}/delete")
    row = re.search(rf'<tr data-id="{created.id}".*?</tr>',
                    client.get("/subscribers").get_data(as_text=True), re.S).group(0)
    assert "UnDelete" in row and ">Edit<" not in row and ">Delete<" not in row
    assert "marked for deletion" in row


def test_large_index_is_paginated_and_filterable(client, app):
    with app.app_context():
        for number in range(250):
            store.create_record("subscribers", {"username": f"{number:04d}", "domain": "example.com"})
    first = client.get("/subscribers").get_data(as_text=True)
    assert "page 1 of 3 (250 in all)" in first
    assert first.count("<tr data-id=") == 100
    found = client.get("/subscribers?q=0123").get_data(as_text=True)
    assert found.count("<tr data-id=") == 1 and "0123" in found


def test_forms_need_the_csrf_token(instance):
    app = create_app({"TESTING": True}, instance=instance)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth()["Authorization"]
    refused = client.post("/proxyConfig", data={"serverHeader": "Forged"})
    assert refused.status_code == 400 and "Nothing was saved" in refused.get_data(as_text=True)
    html = client.get("/proxyConfig").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    accepted = client.post("/proxyConfig", data={"serverHeader": "Real", "csrf_token": token})
    assert accepted.status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_wrong_password_is_refused(app):
    response = app.test_client().get("/", headers=basic_auth(password="wrong"))
    assert response.status_code == 401
    assert "Basic" in response.headers["WWW-Authenticate"]
    assert app.test_client().get("/static/genweb.css").status_code == 401
