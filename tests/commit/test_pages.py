"""The Commit Configs and Rebuild Nodes pages, the row actions and the API, through the Flask
client: what an operator sees before and after pressing the button."""

from __future__ import annotations

import hashlib
import re
import threading

import pytest

from genweb import jobs, store
from genweb.commit import apply
from genweb.commit.preview import SECRET_LINE

from .conftest import configure, fence

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def committed(wired, client):
    configure()
    store.create_record("subscribers", {"username": "5000", "domain": "example.com",
                                        "password": "sub-secret-1"})
    job = jobs.wait(apply.start("operator"), 30)
    assert job.status == jobs.SUCCEEDED
    wired.calls.clear()
    return wired


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def section(page: str, node: str) -> str:
    found = re.search(rf'<section class="node-diff" data-node="{re.escape(node)}">(.*?)</section>',
                      page, re.S)
    assert found, node
    return found.group(1)


# -- Commit Configs ---------------------------------------------------------------------------


def test_the_analysis_shows_each_change_its_effect_and_the_diff_per_node_without_secrets(
        committed, client):
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    store.save_settings("databaseConfig", {"dbrwPass": "rw-secret-2"})
    subscriber = store.list_records("subscribers").items[0]
    store.update_record("subscribers", subscriber.id, {"password": "sub-secret-2"})
    page = html(client.get("/commit"))
    for secret in ("rw-secret-1", "rw-secret-2", "sub-secret-1", "sub-secret-2",
                   hashlib.md5(b"5000:example.com:sub-secret-2").hexdigest()):
        assert secret not in page
    assert '<strong>primary switch</strong>' in page
    changes = re.search(r'<table class="index" id="changes">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"serverHeader</td>\s*<td class=\"value-old\"></td>\s*"
                     r"<td class=\"value-new\">Example Proxy</td>", changes)
    assert re.search(r"dbrwPass</td>\s*<td class=\"value-old\">••••••</td>\s*"
                     r"<td class=\"value-new\">••••••</td>", changes)
    assert "Subscribers › 5000 / example.com" in changes
    for node in ("node1", "node2", "node3"):
        diff = section(page, node)
        assert 'data-path="/etc/kamailio/kamailio.cfg"' in diff
        assert re.search(r'<span class="add">\+.*Example Proxy', diff)
        assert "/etc/hosts" not in diff  # unchanged files are not listed
    # dbrwPass is on kamailio.cfg's db_url lines: hidden on both sides, so no change shows.
    assert f"+{SECRET_LINE}" not in section(page, "node1")
    database = section(page, "(proxy database rows)")
    assert "(secret values only)" in database
    assert 'id="commit-button"' in page and 'action="/commit"' in page


def test_nothing_changed_means_a_full_rebuild(committed, client):
    page = html(client.get("/commit"))
    assert 'id="no-changes"' in page and "<strong>full restart</strong>" in page
    assert "No file changes." in section(page, "node1")


def test_the_first_commit_lists_every_file_as_new(wired, client):
    configure()
    page = html(client.get("/commit"))
    assert "First commit" in page and "<strong>full restart</strong>" in page
    node1 = section(page, "node1")
    assert "<code>/etc/hosts</code> — new" in node1
    assert "<code>/etc/corosync/authkey</code> — new" in node1
    authkey = re.search(r'data-path="/etc/corosync/authkey".*?</details>', node1, re.S).group(0)
    assert "+" + "•" * 6 in authkey and "rtpDbPass" not in authkey
    for secret in ("rw-secret-1", "repl-secret-1", store.generated_values({})["rtpDbPass"],
                   store.generated_values({})["corosyncAuthkey"][:40]):
        assert secret not in page


def test_the_commit_button_starts_the_job_and_shows_its_progress(committed, client):
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    response = client.post("/commit")
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    jobs.wait(job_id, 30)
    page = html(client.get(f"/jobs/{job_id}"))
    assert "Status: Commit Initiated" in page and "SUCCESS: Commit Complete!" in page


def test_the_sidebar_links_both_pages(wired, client):
    page = html(client.get("/"))
    assert '<a href="/rebuild"' in page and '<a href="/commit"' in page


# -- Rebuild Nodes -----------------------------------------------------------------------------


def test_rebuild_page_refuses_with_its_message_only(committed, client):
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    page = html(client.get("/rebuild"))
    assert "Nodes cannot be rebuilt while configuration changes are not committed" in page
    assert 'id="rebuild-nodes"' not in page and 'id="rebuild-button"' not in page


def test_rebuild_page_lists_the_nodes_but_the_primary_with_checkboxes(committed, client):
    page = html(client.get("/rebuild"))
    assert 'id="rebuild-button"' in page
    assert re.findall(r'name="node" value="([^"]+)"', page) == ["node2", "node3"]
    assert "the current primary is &#39;node1&#39;" in page
    response = client.post("/rebuild", data={"node": ["node3"]})
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert jobs.wait(job_id, 30).status == jobs.SUCCEEDED


# -- row actions ---------------------------------------------------------------------------------


def test_start_system_and_unfence_are_row_actions(committed, client):
    nodes = html(client.get("/haNodes"))
    assert nodes.count(">Start System</button>") == 3
    store.create_record("fences", fence(1, fenceName="fence1_power", fenceDevicePlug="4"))
    fences = html(client.get("/fences"))
    assert fences.count(">UnFence</button>") == 3  # not on the fence never committed
    node2 = next(i for i in store.list_records("haNodes").items if i.values["nodeName"] == "node2")
    response = client.post(f"/haNodes/{node2.id}/startSystem")
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert jobs.wait(job_id, 30).status == jobs.SUCCEEDED
    assert committed.actions() == ["node2: crm cluster start"]


# -- the API ---------------------------------------------------------------------------------------


def test_api_commit_analysis_then_commit_and_follow_the_job(committed, client):
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    store.save_settings("databaseConfig", {"dbrwPass": "rw-secret-2"})
    analysis = client.get("/api/commit")
    assert analysis.status_code == 200
    body = analysis.get_json()
    assert body["effect"] == "switch" and body["effectLabel"] == "primary switch"
    assert {c["key"] for c in body["changes"]} == {"serverHeader", "dbrwPass"}
    assert "rw-secret" not in analysis.get_data(as_text=True)
    node1 = next(n for n in body["nodes"] if n["node"] == "node1")
    cfg = next(f for f in node1["files"] if f["path"] == "/etc/kamailio/kamailio.cfg")
    assert cfg["status"] == "changed" and "+" in cfg["diff"] and "Example Proxy" in cfg["diff"]

    assert client.post("/api/commit").status_code == 415  # JSON only: no cross-site form
    started = client.post("/api/commit", headers=JSON, data="{}")
    assert started.status_code == 202
    location = started.headers["Location"]
    assert started.get_json()["location"] == location
    job_id = started.get_json()["jobId"]
    jobs.wait(job_id, 30)
    done = client.get(location).get_json()
    assert done["status"] == "succeeded" and done["kind"] == "commit"
    assert done["events"][0]["line"] == "Status: Commit Initiated"
    assert done["events"][-1]["line"] == "SUCCESS: Commit Complete!"
    assert "serverHeader" in done["summary"] and "rw-secret" not in done["summary"]
    later = client.get(f"{location}?after={done['lastSeq'] - 1}").get_json()
    assert [e["line"] for e in later["events"]] == ["SUCCESS: Commit Complete!"]
    assert client.get("/api/jobs/999999").status_code == 404


def test_api_refuses_a_second_job_while_one_runs(committed, client):
    release = threading.Event()
    committed.delays[("true",)] = 0  # keep the fake cluster quick; the job below blocks itself
    blocker = jobs.start("rebuild", "operator", "Rebuild", lambda progress: release.wait(10)
                         and "done")
    try:
        busy = client.post("/api/commit", headers=JSON, data="{}")
        assert busy.status_code == 409
        assert busy.headers["Location"] == f"/api/jobs/{blocker}"
        page = client.post("/commit")
        assert page.headers["Location"] == f"/jobs/{blocker}"
    finally:
        release.set()
        jobs.wait(blocker, 10)


def test_api_rebuild_start_system_and_unfence(committed, client):
    choice = client.get("/api/rebuild").get_json()
    assert choice["refused"] == "" and choice["nodes"] == ["node2", "node3"]
    started = client.post("/api/rebuild", headers=JSON, json={"nodes": ["node3"]})
    assert started.status_code == 202
    assert jobs.wait(started.get_json()["jobId"], 30).status == jobs.SUCCEEDED
    node3 = next(i for i in store.list_records("haNodes").items if i.values["nodeName"] == "node3")
    started = client.post(f"/api/haNodes/{node3.id}/startSystem", headers=JSON, json={})
    assert started.status_code == 202
    assert jobs.wait(started.get_json()["jobId"], 30).status == jobs.SUCCEEDED
    assert client.post("/api/haNodes/999999/startSystem", headers=JSON, json={}).status_code == 404
    new = store.create_record("fences", fence(2, fenceName="fence2_power"))
    refused = client.post(f"/api/fences/{new.id}/unfence", headers=JSON, json={})
    assert refused.status_code == 409 and "committed" in refused.get_json()["message"]
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    assert client.get("/api/rebuild").get_json()["refused"]
    refused = client.post("/api/rebuild", headers=JSON, json={"nodes": ["node3"]})
    assert refused.status_code == 409
