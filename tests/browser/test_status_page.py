"""System Status in Chromium (4.0, Figure 4): the page renders the cluster beside its picture,
refreshes itself without reloading, and shows a node going away while it is open.

The nodes are a genweb.nodes Recorder answering as real nodes do (the crm_mon and kamcmd
answers of tests/test_status.py), or real TCP connections to loopback ports that refuse.
tests/lab/test_status_lab.py does the same against a real cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from genweb import store
from genweb.nodes import NodeAccess

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.test_status import Cluster, closed_port, loopback_connector, record_keys  # noqa: E402

pytestmark = pytest.mark.browser
REFRESHED_WITHIN_MS = 20_000  # the page asks every 5 s; a read is reused for 3 s


def three_nodes() -> None:
    store.save_settings("systemConfig", {"systemName": "browserstatus", "privateIP": "198.18.0.100",
                                         "privateSubnet": "24", "privatePing": "198.18.0.2"})
    for n in (1, 2, 3):
        store.create_record("haNodes", {"nodeID": str(n), "nodeName": f"node{n}",
                                        "privateIP": f"198.18.0.{10 + n}"})
    store.record_commit()


def test_the_page_follows_a_node_going_away_without_reloading(live, page):
    cluster = Cluster()
    live.app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    live.call(three_nodes)

    page.goto("/")
    page.get_by_role("link", name="System Status").click()
    page.wait_for_url("**/systemStatus")
    expect(page.get_by_role("heading", name="Current System Status")).to_be_visible()
    expect(page.locator("#commit-status")).to_contain_text("Current")
    expect(page.locator("#answered-by")).to_have_text("Cluster status as reported by node1.")
    expect(page.locator("#node-list")).to_contain_text("Online: [ node1 node2 ]")
    expect(page.locator("#node-list")).to_contain_text("Fenced: [ node3 ]")
    expect(page.locator("#resources")).to_contain_text("rtpeng_prim (ocf:amtelco:rtpengine): "
                                                       "Promoted node1")
    rows = page.locator("#dispatcher tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("0 (Backup)")
    expect(rows.nth(1)).to_contain_text("1 (Primary)")
    expect(rows.nth(1)).to_contain_text("Inactive")
    picture = page.locator("svg.cluster-picture")
    expect(picture).to_be_visible()
    expect(picture.locator('[data-node="node1"]')).to_contain_text("rtpeng_prim: Promoted")
    expect(picture).to_contain_text("198.18.0.100 → node1")
    expect(page.locator("#unreachable")).to_have_count(0)

    page.evaluate("window.notReloaded = true")
    cluster.down = {"node1"}  # node1 goes away while the page is open
    live.save_settings("systemConfig", {"systemName": "renamed"})
    expect(page.locator("#unreachable")).to_contain_text(
        "Node node1 (198.18.0.11) unreachable: cannot connect to 198.18.0.11:22",
        timeout=REFRESHED_WITHIN_MS)
    expect(page.locator("#answered-by")).to_have_text("Cluster status as reported by node2.")
    expect(page.locator("#commit-status")).to_contain_text("Changes pending")
    expect(picture.locator('[data-node="node1"] .node-state')).to_contain_text("unreachable")

    cluster.down = {"node1", "node2", "node3"}  # nobody answers: the last state stays
    expect(page.locator("#answered-by")).to_contain_text(
        "No node answered now: showing the last status, reported by node2",
        timeout=REFRESHED_WITHIN_MS)
    expect(page.locator("#node-list")).to_contain_text("Online: [ node1 node2 ]")
    expect(page.locator("#unreachable")).to_contain_text("Node node3 (198.18.0.13) unreachable")
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#status-refresh")).to_contain_text("Read at")


def test_unreachable_nodes_are_said_clearly(live, page):
    live.call(three_nodes)
    record_keys(live.app)
    refused = closed_port()
    live.app.config["NODE_ACCESS"] = NodeAccess.for_instance(
        live.instance, connector=loopback_connector({f"198.18.0.{10 + n}": refused
                                                     for n in (1, 2, 3)}))
    page.goto("/systemStatus")
    alert = page.get_by_role("alert")
    for n in (1, 2, 3):
        expect(alert).to_contain_text(f"Node node{n} (198.18.0.{10 + n}) unreachable: cannot "
                                      f"connect to 198.18.0.{10 + n}:22")
    expect(page.locator("#no-cluster")).to_have_text(
        "No node answered: the cluster status is unknown.")
    expect(page.locator("#dispatcher-message")).to_contain_text("No node answered")
    expect(page.locator("svg.cluster-picture [data-node]")).to_have_count(3)
    # the next refresh says the same, and says when it read
    expect(page.locator("#status-refresh")).to_contain_text("refreshes every 5 s",
                                                            timeout=REFRESHED_WITHIN_MS)
    expect(alert).to_contain_text("Node node3 (198.18.0.13) unreachable")


def test_a_failed_refresh_keeps_the_last_status_and_says_so(live, page):
    cluster = Cluster()
    live.app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    live.call(three_nodes)
    page.goto("/systemStatus")
    expect(page.locator("#answered-by")).to_have_text("Cluster status as reported by node1.")
    live.app.config["NODE_ACCESS"] = "not a node access"  # the server now fails (500)
    expect(page.locator("#status-refresh")).to_contain_text(
        "Refresh failed (the server answered 500): showing the status read at",
        timeout=REFRESHED_WITHIN_MS)
    expect(page.locator("#answered-by")).to_have_text("Cluster status as reported by node1.")
    expect(page.locator("#node-list")).to_contain_text("Online: [ node1 node2 ]")
