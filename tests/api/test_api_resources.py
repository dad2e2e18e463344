"""The REST API through HTTP: CRUD, record lifecycle, secrets, ETag/If-Match, errors, the
OpenAPI document and its page."""

from __future__ import annotations

import re

from genweb import create_app, store
from genweb.catalogue import PAGES
from genweb.store import db

from ..conftest import basic_auth

NODE = {"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71"}
FENCE = {"fenceName": "f1", "fenceNodeName": "node1", "fenceAgent": "fence_ether_snmp",
         "fenceDevicePlug": "3", "fenceDeviceIP": "192.168.40.2", "fenceSnmpUser": "private"}
SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def create(client, name: str, values: dict) -> dict:
    response = client.post(f"/api/{name}", json=values)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == f"/api/{name}/{response.get_json()['id']}"
    return response.get_json()


def commit(app) -> None:
    """What a successful commit records (the commit itself comes in a later version)."""
    with app.app_context():
        store.record_commit()


# -- key/value pages -------------------------------------------------------------------------


def test_settings_read_and_patch_one_or_many_keys(client):
    first = client.get("/api/systemConfig")
    assert first.status_code == 200 and first.headers["ETag"] == '"0"'
    assert first.get_json()["values"]["startAtBoot"] == "Default"
    saved = client.patch("/api/systemConfig", json={**SYSTEM, "startAtBoot": "yes"})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["values"]["startAtBoot"] == "Yes"  # stored as the page stores it
    one = client.patch("/api/systemConfig", json={"systemName": "cluster-a"}).get_json()
    assert one["values"]["systemName"] == "cluster-a"
    assert one["values"]["privateIP"] == "192.168.40.70"  # left out: unchanged
    assert one["revision"] == 2


def test_invalid_values_are_422_with_every_message_and_nothing_saved(client, app):
    response = client.patch("/api/systemConfig", json={"privateIP": "10.1", "privatePort": "0"})
    body = response.get_json()
    assert response.status_code == 422
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    errors = body["errors"]["json"]
    assert "is not an IPv4 address" in errors["privateIP"][0]
    assert "is not a port number" in errors["privatePort"][0]
    assert errors["privateSubnet"] == ["privateSubnet is required"]
    with app.app_context():
        assert store.get_settings("systemConfig").revision == 0


def test_wrong_json_types_and_unknown_keys_are_422_in_the_same_shape(client):
    body = client.patch("/api/proxyConfig", json={"denyList": 5, "enableNAT": None,
                                                  "alias": ["x"], "nope": "1"}).get_json()
    assert body["code"] == 422
    assert body["errors"]["json"] == {"denyList": ["Not a valid string."],
                                      "enableNAT": ["Field may not be null."],
                                      "alias": ["Unknown field."], "nope": ["Unknown field."]}
    for bad in ("[]", '"text"', "12", "null"):
        response = client.patch("/api/proxyConfig", data=bad, content_type="application/json")
        assert response.status_code == 422
        assert response.get_json()["errors"]["json"]["_schema"]


def test_bad_bodies_never_give_a_server_error(client):
    cases = {"{": 400, "[" * 100_000: 400, "9" * 5000: 400, '{"denyList": 1e999}': 422,
             '{"denyList": 123456789012345678901234567890}': 422,
             '{"denyList": "\\ud800"}': 422, '{"denyList": "a\\u0000b"}': 422}
    cases['{"denyList": "' + "a" * 5_000_000 + '"}'] = 413  # beyond MAX_CONTENT_LENGTH
    for body, status in cases.items():
        response = client.patch("/api/proxyConfig", data=body, content_type="application/json")
        assert response.status_code == status, body[:40]
        assert response.is_json


def test_writes_need_a_json_content_type(client):
    """A cross-site HTML form cannot send application/json: it cannot write with cached
    credentials even though the API is exempt from the pages' CSRF tokens."""
    for method, url in (("patch", "/api/proxyConfig"), ("post", "/api/subscribers"),
                        ("post", "/api/tlsProxyConfigs/1/undelete")):
        response = getattr(client, method)(url, data={"denyList": "1.2.3.4"})
        assert response.status_code == 415
        assert response.get_json()["code"] == 415
    with client.application.app_context():
        assert store.get_settings("proxyConfig").values["denyList"] == ""


def test_api_writes_work_with_csrf_enabled_and_pages_still_need_the_token(instance):
    app = create_app({"TESTING": True}, instance=instance)  # CSRF on, as in production
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth()["Authorization"]
    assert client.patch("/api/proxyConfig", json={"denyList": "198.51.100.7"}).status_code == 200
    assert client.post("/proxyConfig", data={"denyList": ""}).status_code == 400
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- errors ----------------------------------------------------------------------------------


def test_401_404_405_are_json_and_the_pages_keep_html(app, client):
    anonymous = app.test_client().get("/api/systemConfig")
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == 401
    assert "Basic" in anonymous.headers["WWW-Authenticate"]
    assert client.get("/api/haNodes/12345").get_json() == {
        "code": 404, "status": "Not Found", "message": "no node with id 12345"}
    assert client.get(f"/api/haNodes/{2**70}").status_code == 404
    assert client.get("/api/noSuchPage").get_json()["code"] == 404
    put = client.put("/api/systemConfig", json={})
    assert put.status_code == 405 and put.get_json()["code"] == 405
    assert "PATCH" in put.headers["Allow"]
    assert client.get("/noSuchPage").mimetype == "text/html"


def test_a_server_fault_is_a_json_500_that_says_so(app, client, monkeypatch):
    """Not "no such resource": an operator's script must tell a fault from a wrong URL."""
    from genweb import store

    def broken(name):
        raise RuntimeError("disk on fire")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the 500 handler answers
    monkeypatch.setattr(store, "get_settings", broken)
    response = client.get("/api/systemConfig")
    assert response.status_code == 500 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == 500 and "server log" in body["message"], body
    assert "fire" not in response.get_data(as_text=True)


def test_bad_pagination_parameters_are_422(client):
    for query in ("limit=0", "limit=1001", "offset=-1", "offset=" + "9" * 40, "limit=x",
                  "colour=red"):
        response = client.get("/api/subscribers?" + query)
        assert response.status_code == 422, query
        assert response.get_json()["errors"]["query"], query


# -- collections and their lifecycle ---------------------------------------------------------


def test_create_read_update_delete_a_never_committed_record(client):
    created = create(client, "subscribers", {"username": "5000", "domain": "example.com"})
    assert created["state"] == "new" and created["values"]["username"] == "5000"
    url = f"/api/subscribers/{created['id']}"
    assert client.get(url).get_json() == created
    changed = client.patch(url, json={"domain": "sip.example.com"}).get_json()
    assert changed["values"] == {"username": "5000", "domain": "sip.example.com"}
    assert changed["revision"] == created["revision"] + 1
    gone = client.delete(url)
    assert gone.status_code == 204 and gone.data == b""
    assert client.get(url).status_code == 404


def test_uniqueness_and_required_keys_are_the_pages_rules(client):
    create(client, "haNodes", NODE)
    again = client.post("/api/haNodes", json={**NODE, "nodeID": "2", "privateIP": "192.168.40.72"})
    assert again.status_code == 422
    assert again.get_json()["errors"]["json"]["nodeName"] == ["another node already has nodeName 'node1'"]
    missing = client.post("/api/haNodes", json={}).get_json()["errors"]["json"]
    assert missing == {"nodeID": ["nodeID is required"], "nodeName": ["nodeName is required"],
                       "privateIP": ["privateIP is required"]}
    fence = client.post("/api/fences", json={**FENCE, "fenceNodeName": "node9"})
    assert "'node9' is not a defined node" in fence.get_json()["errors"]["json"]["fenceNodeName"][0]


def test_deleting_a_committed_node_marks_it_and_its_fences_and_undelete_restores(app, client):
    node = create(client, "haNodes", NODE)
    fence = create(client, "fences", FENCE)
    commit(app)
    assert client.get(f"/api/haNodes/{node['id']}").get_json()["state"] == "committed"

    marked = client.delete(f"/api/haNodes/{node['id']}")
    assert marked.status_code == 200 and marked.get_json()["state"] == "deleted"
    assert client.get(f"/api/fences/{fence['id']}").get_json()["state"] == "deleted"
    assert client.get("/api/fences").get_json()["total"] == 0  # hidden, as in the browser
    refused = client.post(f"/api/fences/{fence['id']}/undelete", json={})
    assert refused.status_code == 409 and "UnDelete the node" in refused.get_json()["message"]
    edit = client.patch(f"/api/haNodes/{node['id']}", json={"sshKeyEnable": "No"})
    assert edit.status_code == 409 and "UnDelete it first" in edit.get_json()["message"]
    assert client.delete(f"/api/haNodes/{node['id']}").status_code == 409  # already marked

    back = client.post(f"/api/haNodes/{node['id']}/undelete", json={})
    assert back.status_code == 200 and back.get_json()["state"] == "committed"
    assert client.get(f"/api/fences/{fence['id']}").get_json()["state"] == "committed"
    assert client.post(f"/api/haNodes/{node['id']}/undelete").status_code == 415  # no type


def test_deleting_a_never_committed_node_removes_its_fences(client):
    node = create(client, "haNodes", NODE)
    fence = create(client, "fences", FENCE)
    assert client.delete(f"/api/haNodes/{node['id']}").status_code == 204
    assert client.get(f"/api/fences/{fence['id']}").status_code == 404


def test_a_committed_node_keeps_its_identity(app, client):
    node = create(client, "haNodes", NODE)
    commit(app)
    url = f"/api/haNodes/{node['id']}"
    assert client.get(url).get_json()["locked"] == ["nodeID", "nodeName", "privateIP", "publicIP"]
    refused = client.patch(url, json={"nodeID": "2", "privateIP": "192.168.40.99"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["json"]["nodeID"] == [
        "nodeID cannot change once the node is committed: delete the node and create a new one "
        "with the new value"]
    same = client.patch(url, json={**NODE, "sshKeyEnable": "No"})  # unchanged identity is fine
    assert same.status_code == 200 and same.get_json()["state"] == "changed"


def test_the_default_tls_sections_cannot_be_deleted_or_renamed(client):
    sections = client.get("/api/tlsProxyConfigs").get_json()["items"]
    assert [(s["values"]["tlsDomain"], s["values"]["tlsRole"]) for s in sections] == [
        ("default", "client"), ("default", "server")]
    for section in sections:
        url = f"/api/tlsProxyConfigs/{section['id']}"
        refused = client.delete(url)
        assert refused.status_code == 409
        assert "cannot be deleted" in refused.get_json()["message"]
        assert section["locked"] == ["tlsDomain", "tlsRole"]
        renamed = client.patch(url, json={"tlsDomain": "192.0.2.1:5061"})
        assert renamed.status_code == 422
        assert client.patch(url, json={"method": "TLSv1.1+"}).status_code == 200


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_are_write_only_absent_keeps_present_sets(app, client):
    node = create(client, "haNodes", {**NODE, "sshPassword": "Pa55-node-secret"})
    url = f"/api/haNodes/{node['id']}"
    client.patch("/api/proxyConfig", json={"dispatchAuthPassword": "Pa55-dispatch-secret"})
    answers = [client.get(url), client.get("/api/haNodes"), client.get("/api/proxyConfig"),
               client.patch(url, json={"sshKeyEnable": "No"}), client.get("/openapi/openapi.json")]
    for answer in answers:
        assert b"Pa55-" not in answer.data
    assert answers[0].get_json()["secretsSet"] == {"sshPassword": True}
    assert "sshPassword" not in answers[0].get_json()["values"]
    with app.app_context():
        assert store.get_record("haNodes", node["id"]).values["sshPassword"] == "Pa55-node-secret"
    cleared = client.patch(url, json={"sshPassword": ""}).get_json()
    assert cleared["secretsSet"] == {"sshPassword": False}
    hashed = client.post("/api/subscribers", json={"username": "1", "domain": "example.com",
                                                   "ha1": "not-a-hash-Pa55-"})
    assert hashed.status_code == 422 and b"Pa55-" not in hashed.data


# -- ETag / If-Match -------------------------------------------------------------------------


def test_if_match_stops_a_second_client_overwriting_the_first(client, app):
    etag = client.get("/api/proxyConfig").headers["ETag"]
    first = client.patch("/api/proxyConfig", json={"serverHeader": "First"},
                         headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    second = client.patch("/api/proxyConfig", json={"serverHeader": "Second"},
                          headers={"If-Match": etag})
    assert second.status_code == 409
    assert second.get_json()["status"] == "Conflict"
    assert client.get("/api/proxyConfig").get_json()["values"]["serverHeader"] == "First"
    again = client.patch("/api/proxyConfig", json={"serverHeader": "Second"},
                         headers={"If-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert client.patch("/api/proxyConfig", json={"userAgent": "x"},
                        headers={"If-Match": "*"}).status_code == 200


def test_if_match_on_records_for_patch_delete_and_undelete(client, app):
    node = create(client, "haNodes", NODE)
    url = f"/api/haNodes/{node['id']}"
    stale = client.get(url).headers["ETag"]
    assert client.patch(url, json={"sshKeyEnable": "No"}, headers={"If-Match": stale}).status_code == 200
    for weak_or_stale in (stale, f"W/{client.get(url).headers['ETag']}", '"abc"'):
        assert client.patch(url, json={"sshKeyEnable": "Yes"},
                            headers={"If-Match": weak_or_stale}).status_code == 409
        assert client.delete(url, headers={"If-Match": weak_or_stale}).status_code == 409
    commit(app)
    current = client.get(url).headers["ETag"]
    assert client.delete(url, headers={"If-Match": current}).status_code == 200
    assert client.post(url + "/undelete", json={}, headers={"If-Match": current}).status_code == 409
    marked = client.get(url).headers["ETag"]
    assert client.post(url + "/undelete", json={}, headers={"If-Match": marked}).status_code == 200


# -- the OpenAPI document and its page -------------------------------------------------------


def test_openapi_document_is_derived_from_the_catalogue(client):
    doc = client.get("/openapi/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http", "scheme": "basic",
        "description": "the web users of genweb (genweb passwd USER)"}
    assert doc["security"] == [{"basicAuth": []}]
    schemas = doc["components"]["schemas"]
    for page in PAGES.values():
        values = schemas[page.name[0].upper() + page.name[1:] + "Values"]["properties"]
        assert list(values) == [key.name for key in page.keys]
        for key in page.keys:
            prop = values[key.name]
            assert prop["description"].startswith(key.description)
            assert prop.get("writeOnly", False) == key.secret
            assert prop.get("enum", []) == list(key.choices)
        path = f"/api/{page.name}"
        assert set(doc["paths"][path]) == ({"get", "post"} if page.collection else {"get", "patch"})
        if page.collection:
            one = doc["paths"][path + "/{record_id}"]
            assert set(one) == {"parameters", "get", "patch", "delete"}
            assert one["parameters"][0]["schema"] == {"type": "integer", "minimum": 0,
                                                      "maximum": 2**63 - 1}
            assert set(doc["paths"][path + "/{record_id}/undelete"]) == {"parameters", "post"}
    assert schemas["SystemConfigValues"]["properties"]["privateIP"]["format"] == "ipv4"
    assert schemas["HaNodesNew"]["required"] == ["nodeID", "nodeName", "privateIP"]
    assert schemas["HaNodesRecord"]["properties"]["state"]["readOnly"] is True


def test_openapi_page_is_readable_offline(client):
    page = client.get("/openapi/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    for key in (key for p in PAGES.values() for key in p.keys):
        assert f"<code>{key.name}</code>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another host
    assert 'data-method="PATCH" data-path="/api/systemConfig"' in html
    assert client.get("/openapi").status_code in (301, 308)


def test_api_index_lists_every_page(client):
    index = client.get("/api/").get_json()
    assert index["openapi"] == "/openapi/openapi.json"
    assert index["pages"] == {name: f"/api/{name}" for name in PAGES}


def test_stored_node_addresses_are_data_the_test_app_never_contacts(app, client):
    """The 192.168.40.x addresses of these tests are configuration only (DESIGN §5): a TESTING
    app without NODE_ACCESS or a lab connector refuses to connect, and says so."""
    with app.app_context():
        store.save_settings("systemConfig", SYSTEM)
        store.create_record("haNodes", NODE)
        store.record_commit()
    body = client.get("/api/status").get_json()
    assert body["unreachable"] == ["node1"], body
    node = body["nodes"][0]
    assert node["host"] == "192.168.40.71" and not node["reachable"]
    assert "not contacted" in node["message"], node
