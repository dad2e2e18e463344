"""Deleting and undeleting nodes with their fences in the index pages (manual 5.1.3, 5.1.5, 6.1.5)."""

from __future__ import annotations

import pytest
from browserkit import fence, index_names, node, row, row_actions
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def cluster(live):
    """Two committed nodes with two fences each."""
    ids = {
        "node1": live.create("haNodes", node(1, "node1", "192.168.40.71")),
        "node2": live.create("haNodes", node(2, "node2", "192.168.40.72")),
        "fence1_network": live.create("fences", fence("fence1_network", "node1", "1")),
        "fence1_power": live.create("fences", fence("fence1_power", "node1", "2")),
        "fence2_network": live.create("fences", fence("fence2_network", "node2", "3")),
        "fence2_power": live.create("fences", fence("fence2_power", "node2", "4")),
    }
    live.commit()
    return ids


def click_action(page, record_id: int, action: str) -> None:
    """Press Delete or UnDelete on a row and wait for the index it leads back to."""
    with page.expect_navigation():
        row(page, record_id).get_by_role("button", name=action, exact=True).click()
    expect(page.locator(".flash")).to_be_visible()


def state(page, record_id: int) -> str:
    return row(page, record_id).locator("td.state").inner_text().strip()


def test_deleting_a_committed_node_marks_it_and_hides_its_fences(live, page, dialogs, cluster):
    page.goto("/haNodes")
    assert row_actions(page, cluster["node1"]) == ["Edit", "Delete"]
    click_action(page, cluster["node1"], "Delete")
    expect(page.locator(".flash.success")).to_contain_text(
        "Node 1 / node1 marked for deletion with its fences")
    assert row_actions(page, cluster["node1"]) == ["UnDelete"]
    assert state(page, cluster["node1"]) == "marked for deletion"
    assert row_actions(page, cluster["node2"]) == ["Edit", "Delete"]
    assert dialogs.seen == []  # a committed record is only marked: no confirmation needed

    page.get_by_role("link", name="Fences").click()
    page.wait_for_url("**/fences")
    assert index_names(page) == ["fence2_network", "fence2_power"]

    # A fence of node2 deleted on its own: shown, with UnDelete only.
    click_action(page, cluster["fence2_power"], "Delete")
    assert row_actions(page, cluster["fence2_power"]) == ["UnDelete"]
    assert state(page, cluster["fence2_power"]) == "marked for deletion"
    assert row_actions(page, cluster["fence2_network"]) == ["Edit", "Delete"]

    # UnDelete node1: its fences are back, as they were.
    page.get_by_role("link", name="HA Nodes").click()
    click_action(page, cluster["node1"], "UnDelete")
    expect(page.locator(".flash.success")).to_contain_text("Node 1 / node1 undeleted")
    assert row_actions(page, cluster["node1"]) == ["Edit", "Delete"]
    assert state(page, cluster["node1"]) == "committed"
    page.get_by_role("link", name="Fences").click()
    page.wait_for_url("**/fences")
    assert index_names(page) == ["fence1_network", "fence1_power", "fence2_network", "fence2_power"]
    for name in ("fence1_network", "fence1_power", "fence2_network"):
        assert row_actions(page, cluster[name]) == ["Edit", "Delete"], name
    assert row_actions(page, cluster["fence2_power"]) == ["UnDelete"]

    # And in the store: only fence2_power is still marked.
    marked = {r.values["fenceName"] for r in live.records("fences") if r.state == "deleted"}
    assert marked == {"fence2_power"}
    assert live.record("haNodes", cluster["node1"]).state == "committed"


def test_fence_marked_before_its_node_stays_marked_after_the_node_is_undeleted(
        live, page, cluster):
    """6.1.5: the fence's own deletion flag survives the node's delete and undelete."""
    page.goto("/fences")
    click_action(page, cluster["fence1_power"], "Delete")
    assert row_actions(page, cluster["fence1_power"]) == ["UnDelete"]

    page.goto("/haNodes")
    click_action(page, cluster["node1"], "Delete")
    page.goto("/fences")
    assert index_names(page) == ["fence2_network", "fence2_power"]

    page.goto("/haNodes")
    click_action(page, cluster["node1"], "UnDelete")
    page.goto("/fences")
    assert index_names(page) == ["fence1_network", "fence1_power", "fence2_network", "fence2_power"]
    assert row_actions(page, cluster["fence1_network"]) == ["Edit", "Delete"]
    assert row_actions(page, cluster["fence1_power"]) == ["UnDelete"]
    assert state(page, cluster["fence1_power"]) == "marked for deletion"

    # It is still available for undeletion.
    click_action(page, cluster["fence1_power"], "UnDelete")
    assert row_actions(page, cluster["fence1_power"]) == ["Edit", "Delete"]
    assert live.record("fences", cluster["fence1_power"]).state == "committed"


def test_edit_of_a_marked_node_is_refused(live, page, cluster):
    page.goto("/haNodes")
    click_action(page, cluster["node1"], "Delete")
    page.goto(f"/haNodes/{cluster['node1']}/edit")
    page.wait_for_url("**/haNodes")
    expect(page.locator(".flash.error")).to_contain_text("marked for deletion: UnDelete it first")


def test_deleting_a_never_committed_node_asks_and_removes_it_with_its_fences(live, page, dialogs):
    node1 = live.create("haNodes", node(1, "node1", "192.168.40.71"))
    node2 = live.create("haNodes", node(2, "node2", "192.168.40.72"))
    live.create("fences", fence("fence1_network", "node1"))
    live.create("fences", fence("fence2_network", "node2"))
    page.goto("/haNodes")
    assert state(page, node1) == "new (not committed)"

    # "Cancel" keeps everything.
    dialogs.accept = False
    row(page, node1).get_by_role("button", name="Delete").click()
    assert dialogs.wait_for(1) == ["confirm"]
    expect(row(page, node1)).to_be_visible()
    assert "never committed" in dialogs.seen[0][1] and "with its fences" in dialogs.seen[0][1]
    assert len(live.records("haNodes")) == 2

    # "OK" removes the node and its fences for good.
    dialogs.accept = True
    click_action(page, node1, "Delete")
    expect(page.locator(".flash.success")).to_contain_text("Node 1 / node1 deleted")
    expect(row(page, node1)).to_have_count(0)
    assert row_actions(page, node2) == ["Edit", "Delete"]
    assert [r.values["nodeName"] for r in live.records("haNodes")] == ["node2"]
    assert [r.values["fenceName"] for r in live.records("fences", include_hidden=True)] == [
        "fence2_network"]
    page.get_by_role("link", name="Fences").click()
    page.wait_for_url("**/fences")
    assert index_names(page) == ["fence2_network"]
