"""The commit plan: what changed, masked secrets, and the effect of the whole commit."""

from __future__ import annotations

from genweb import store
from genweb.catalogue import Effect
from genweb.commit.plan import MASK, make_plan

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def committed_system():
    store.save_settings("systemConfig", SYSTEM)
    store.record_commit()


def test_nothing_changed_means_a_full_rebuild(ctx):
    committed_system()
    plan = make_plan()
    assert plan.changes == () and plan.full_rebuild
    assert plan.effect is Effect.RESTART
    assert "rebuilds the whole" in plan.summary()


def test_list_change_is_live_and_secret_is_masked(ctx):
    committed_system()
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7",
                                        "dispatchAuthPassword": "hunter2"})
    plan = make_plan()
    by_key = {change.key: change for change in plan.changes}
    assert by_key["denyList"].effect is Effect.LIVE
    assert (by_key["denyList"].old, by_key["denyList"].new) == ("", "198.51.100.7")
    assert by_key["dispatchAuthPassword"].new == MASK
    assert "hunter2" not in repr(plan)
    assert plan.effect is Effect.SWITCH  # the password reaches Kamailio's configuration


def test_only_root_pass_needs_no_commit(ctx):
    committed_system()
    store.save_settings("databaseConfig", {"rootPass": "r00t"})
    plan = make_plan()
    assert [c.key for c in plan.changes] == ["rootPass"] and plan.effect is Effect.NONE


def test_records_created_changed_and_deleted(ctx):
    committed_system()
    node = store.create_record("haNodes", {"nodeID": "1", "nodeName": "node1",
                                           "privateIP": "192.168.40.71"})
    subscriber = store.create_record("subscribers", {"username": "5000", "domain": "example.com"})
    store.record_commit()
    store.update_record("subscribers", subscriber.id, {"password": "pw"})
    store.delete_record("haNodes", node.id)
    plan = make_plan()
    summary = {(c.page, c.record, c.action, c.key): c for c in plan.changes}
    assert summary[("subscribers", "5000 / example.com", "changed", "password")].new == MASK
    assert summary[("haNodes", "1 / node1", "deleted", "")].effect is Effect.RESTART
    assert plan.effect is Effect.RESTART
