"""The staging store's lifecycle: staged beside committed, delete/undelete, cascades, conflicts."""

from __future__ import annotations

import pytest

from genweb import create_app, store
from genweb.store import db

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def node(node_id: int, **extra) -> dict[str, str]:
    return {"nodeID": str(node_id), "nodeName": f"node{node_id}",
            "privateIP": f"192.168.40.{70 + node_id}", **extra}


def fence(name: str, node_name: str, **extra) -> dict[str, str]:
    return {"fenceName": name, "fenceNodeName": node_name, "fenceAgent": "fence_ether_snmp",
            "fenceDevicePlug": "3", "fenceDeviceIP": "192.168.40.2", "fenceSnmpUser": "private",
            **extra}


def states(name: str, include_hidden: bool = False) -> dict[str, str]:
    listing = store.list_records(name, include_hidden=include_hidden)
    column = listing.items[0].page.index_columns[0] if listing.items else ""
    return {item.values[column]: item.state for item in listing.items}


def test_settings_keep_staged_and_committed_values(ctx):
    saved = store.save_settings("systemConfig", SYSTEM)
    assert saved.values["privateIP"] == "192.168.40.70"
    assert saved.committed["privateIP"] is None
    store.record_commit()
    store.save_settings("systemConfig", {"privateIP": "192.168.40.80"})
    view = store.get_settings("systemConfig")
    assert (view.values["privateIP"], view.committed["privateIP"]) == ("192.168.40.80", "192.168.40.70")
    assert store.has_pending_changes()


def test_a_refused_save_stores_nothing(ctx):
    store.save_settings("systemConfig", SYSTEM)
    with pytest.raises(store.ValidationFailed) as refused:
        store.save_settings("systemConfig", {"systemName": "new-name", "privatePort": "70000"})
    assert "privatePort" in refused.value.errors
    assert store.get_settings("systemConfig").values["systemName"] == ""


def test_second_save_from_a_stale_page_is_refused(ctx):
    opened = store.get_settings("proxyConfig").revision
    store.save_settings("proxyConfig", {"serverHeader": "First"}, revision=opened)
    with pytest.raises(store.Conflict, match="changed by someone else"):
        store.save_settings("proxyConfig", {"serverHeader": "Second"}, revision=opened)
    assert store.get_settings("proxyConfig").values["serverHeader"] == "First"


def test_second_save_of_a_stale_record_is_refused(ctx):
    created = store.create_record("subscribers", {"username": "5000", "domain": "10.9.7.130"})
    store.update_record("subscribers", created.id, {"username": "5001"}, revision=created.revision)
    with pytest.raises(store.Conflict):
        store.update_record("subscribers", created.id, {"username": "5002"},
                            revision=created.revision)
    assert store.get_record("subscribers", created.id).values["username"] == "5001"


def test_secrets_absent_from_changes_are_kept(ctx):
    created = store.create_record("subscribers", {"username": "5000", "domain": "example.com",
                                                  "password": "pw1"})
    store.update_record("subscribers", created.id, {"domain": "example.org"})
    assert store.get_record("subscribers", created.id).values["password"] == "pw1"
    store.update_record("subscribers", created.id, {"password": ""})
    assert store.get_record("subscribers", created.id).values["password"] == ""


def test_delete_removes_a_new_record_and_marks_a_committed_one(ctx):
    first = store.create_record("subscribers", {"username": "5000", "domain": "example.com"})
    assert store.delete_record("subscribers", first.id) is None
    assert store.list_records("subscribers").total == 0
    second = store.create_record("subscribers", {"username": "7000", "domain": "example.com"})
    store.record_commit()
    marked = store.delete_record("subscribers", second.id)
    assert marked is not None and marked.state == "deleted"
    with pytest.raises(store.Refused, match="UnDelete it first"):
        store.update_record("subscribers", second.id, {"domain": "example.org"})
    assert store.undelete_record("subscribers", second.id).state == "committed"
    store.delete_record("subscribers", second.id)
    store.record_commit()
    assert store.list_records("subscribers").total == 0


def test_node_delete_and_undelete_carry_its_fences(ctx):
    one = store.create_record("haNodes", node(1))
    store.create_record("haNodes", node(2))
    store.create_record("fences", fence("fence1_network", "node1", fencePriority="1"))
    own = store.create_record("fences", fence("fence1_power", "node1", fencePriority="2"))
    store.create_record("fences", fence("fence2_network", "node2"))
    store.record_commit()

    store.delete_record("fences", own.id)  # marked on its own before the node goes
    store.delete_record("haNodes", one.id)
    assert states("haNodes") == {"1": "deleted", "2": "committed"}
    assert states("fences") == {"fence2_network": "committed"}  # the node's fences are hidden
    assert "node1" not in store.node_names()
    with pytest.raises(store.Refused, match="UnDelete the node"):
        hidden = [i for i in store.list_records("fences", include_hidden=True).items
                  if i.values["fenceName"] == "fence1_network"][0]
        store.undelete_record("fences", hidden.id)

    store.undelete_record("haNodes", one.id)
    assert states("fences") == {"fence1_network": "committed", "fence1_power": "deleted",
                                "fence2_network": "committed"}


def test_deleting_a_new_node_removes_its_fences(ctx):
    created = store.create_record("haNodes", node(1))
    store.create_record("fences", fence("fence1_network", "node1"))
    store.delete_record("haNodes", created.id)
    assert store.list_records("fences", include_hidden=True).total == 0


def test_committed_node_identity_cannot_change(ctx):
    created = store.create_record("haNodes", node(1, publicIP="192.168.50.71"))
    store.update_record("haNodes", created.id, {"nodeName": "alpha"})  # fine before a commit
    store.record_commit()
    for key, value in (("nodeID", "5"), ("nodeName", "beta"), ("privateIP", "192.168.40.99"),
                       ("publicIP", "192.168.50.99")):
        with pytest.raises(store.ValidationFailed) as refused:
            store.update_record("haNodes", created.id, {key: value})
        assert "cannot change once the node is committed" in refused.value.errors[key]
    store.update_record("haNodes", created.id, {"sshKeyEnable": "No", "sshPassword": "pw"})
    assert store.get_record("haNodes", created.id).values["sshKeyEnable"] == "No"


def test_renaming_a_new_node_renames_its_fences(ctx):
    created = store.create_record("haNodes", node(1))
    store.create_record("fences", fence("fence1_network", "node1"))
    store.update_record("haNodes", created.id, {"nodeName": "alpha"})
    assert store.list_records("fences").items[0].values["fenceNodeName"] == "alpha"


def test_default_tls_sections_exist_and_cannot_be_deleted(ctx):
    listing = store.list_records("tlsProxyConfigs")
    defaults = {(i.values["tlsDomain"], i.values["tlsRole"]): i for i in listing.items}
    assert set(defaults) == {("default", "client"), ("default", "server")}
    for item in defaults.values():
        with pytest.raises(store.Refused, match="cannot be deleted"):
            store.delete_record("tlsProxyConfigs", item.id)
        with pytest.raises(store.ValidationFailed):
            store.update_record("tlsProxyConfigs", item.id, {"tlsDomain": "192.0.2.1:5061"})
    server = defaults[("default", "server")]
    store.update_record("tlsProxyConfigs", server.id, {"tlsVerify": "On"})
    assert store.get_record("tlsProxyConfigs", server.id).values["tlsVerify"] == "On"
    with pytest.raises(store.ValidationFailed, match="already has"):
        store.create_record("tlsProxyConfigs", {"tlsDomain": "default", "tlsRole": "client"})


def test_uniqueness_counts_records_marked_for_deletion(ctx):
    created = store.create_record("outboundRegistrations", {
        "l_uuid": "kamailioha", "l_username": "u", "l_domain": "example.com",
        "r_username": "u", "r_domain": "example.com"})
    store.record_commit()
    store.delete_record("outboundRegistrations", created.id)
    with pytest.raises(store.ValidationFailed, match="UnDelete it instead"):
        store.create_record("outboundRegistrations", {
            "l_uuid": "kamailioha", "l_username": "v", "l_domain": "example.org",
            "r_username": "v", "r_domain": "example.org"})


def test_saved_values_survive_a_restart(instance):
    first = create_app({"TESTING": True}, instance=instance)
    with first.app_context():
        store.save_settings("systemConfig", SYSTEM)
        store.create_record("haNodes", node(1))
        db.engine.dispose()
    second = create_app({"TESTING": True}, instance=instance)
    with second.app_context():
        assert store.get_settings("systemConfig").values["privateIP"] == "192.168.40.70"
        assert states("haNodes") == {"1": "new"}
        assert store.list_records("tlsProxyConfigs").total == 2  # defaults not duplicated
        db.engine.dispose()
