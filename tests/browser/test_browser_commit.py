"""Commit Configs in a real browser (16.0, Figures 27/28): the analysis, the Commit button, then
the progress lines arriving live and the final SUCCESS or FAILURE. The nodes are a FakeCluster
(a genweb.nodes.Recorder) set in the app's NODE_ACCESS: no real node is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from genweb.nodes import NodeAccess

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.commit.conftest import configure  # noqa: E402
from tests.commit.fakecluster import FakeCluster  # noqa: E402

pytestmark = pytest.mark.browser
SLOW_STEP = 1.5  # s: Kamailio's check is slow on this fake node, so the page sees the job run


@pytest.fixture
def cluster(live) -> FakeCluster:
    """A committed three-node configuration, a running fake cluster, a denyList change."""
    fake = FakeCluster.up()
    fake.delays[("kamailio", "-c")] = SLOW_STEP
    live.app.config["NODE_ACCESS"] = NodeAccess(transport_factory=fake)
    live.call(configure)
    live.commit()
    live.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    return fake


def press_commit(page) -> int:
    page.goto("/commit")
    expect(page.locator("#commit-effect")).to_contain_text("no downtime")
    expect(page.locator("#changes")).to_contain_text("198.51.100.7")
    page.get_by_role("button", name="Commit").click()
    page.wait_for_url("**/jobs/*")
    return page.locator("#progress span").count()


def test_commit_shows_live_progress_then_success(page, cluster):
    shown_at_load = press_commit(page)
    progress = page.locator("#progress")
    expect(progress).to_contain_text("Status: Commit Initiated")
    expect(progress).to_contain_text("Status: Reloading Kamailio on node 'node1' "
                                     "(permissions.addressReload)", timeout=15_000)
    expect(progress).to_contain_text("SUCCESS: Commit Complete!", timeout=15_000)
    expect(page.locator("#job-state")).to_have_text("Finished successfully.")
    lines = page.locator("#progress span").all_inner_texts()
    assert len(lines) > shown_at_load, "no line arrived after the page loaded"
    assert lines.index("Status: Verifying Kamailio configuration on node 'node1'") \
        < lines.index("SUCCESS: Commit Complete!")
    # Committed: the analysis now says a commit would rebuild everything.
    page.goto("/commit")
    expect(page.locator("#no-changes")).to_be_visible()


def test_commit_failure_is_shown_and_the_change_stays_staged(page, cluster):
    cluster.fail(["kamcmd"], stderr="error: 500 - command permissions.addressReload failed")
    press_commit(page)
    progress = page.locator("#progress")
    expect(progress).to_contain_text("FAILURE: Commit Failed: Reloading Kamailio on node "
                                     "'node1' (permissions.addressReload) failed",
                                     timeout=15_000)
    expect(page.locator("#job-state")).to_have_text("Failed.")
    expect(progress.locator(".ev-failure")).to_have_count(1)
    page.goto("/commit")
    expect(page.locator("#changes")).to_contain_text("198.51.100.7")
