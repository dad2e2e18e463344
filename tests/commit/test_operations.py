"""Rebuild Nodes (15.0), Start System (5.1.4) and UnFence (6.1.4): the commands they send and
what an operator reads."""

from __future__ import annotations

import pytest

from genweb import jobs, store
from genweb.commit import apply, operations
from genweb.commit.access import node_access
from genweb.nodes import MASK

from .conftest import configure, fence
from .fakecluster import FakeCluster


def run(job_id: int) -> tuple[jobs.Job, list[str]]:
    job = jobs.wait(job_id, 30)
    jobs.db.session.expire_all()
    return job, [event.line() for event in jobs.events(job_id)]


@pytest.fixture
def committed(wired) -> FakeCluster:
    configure()
    job, shown = run(apply.start("operator"))
    assert job.status == jobs.SUCCEEDED, shown
    wired.calls.clear()
    return wired


def record_id(page: str, name_key: str, name: str) -> int:
    return next(item.id for item in store.list_records(page).items
                if item.values[name_key] == name)


# -- Rebuild Nodes ------------------------------------------------------------------------------


def test_rebuild_lists_every_node_but_the_primary(committed):
    committed.primary = "node2"
    choice = operations.rebuild_choice(node_access(jobs.current_app))
    assert choice.refusal == "" and choice.primary == "node2"
    assert [node["nodeName"] for node in choice.nodes] == ["node1", "node3"]
    assert choice.note == "node 'node1' answered: the current primary is 'node2'"


def test_rebuild_is_refused_while_changes_are_not_committed(committed):
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    choice = operations.rebuild_choice(node_access(jobs.current_app))
    assert choice.refusal == operations.PENDING_REFUSAL and choice.nodes == ()
    job, shown = run(operations.start_rebuild("operator", ["node3"]))
    assert job.status == jobs.FAILED
    assert shown[-1] == f"FAILURE: Rebuild Failed: {operations.PENDING_REFUSAL}"
    assert committed.actions() == []


def test_rebuild_shows_figure_26_and_rebuilds_the_node(committed):
    committed.files["node3"].clear()  # an operating system reinstalled
    committed.running.discard("node3")
    job, shown = run(operations.start_rebuild("operator", ["node3"]))
    assert job.status == jobs.SUCCEEDED, shown
    figure = ["Status: Rebuild Initiated", "Status: Retrieving configuration data from database",
              "Status: Building Kamailio configuration", "Status: Building database configuration",
              "Status: Building rtpengine configuration", "Status: Building redis configuration",
              "Status: Disabling fencing while updating system",
              "Status: Destroying cluster on node 'node3'",
              "Status: Updating '/etc/hosts' on node 'node3'",
              "Status: Updating '/etc/corosync/corosync.conf' on node 'node3'",
              "Status: Starting High Availability System on node 'node3'",
              "Status: Configuring High Availability System startup mode (startAtBoot)",
              "Status: Setting fencing resources to programmed values",
              "Status: Successfully rebuilt node3", "SUCCESS: Rebuild Complete!"]
    assert [line for line in shown if line in figure] == figure
    actions = committed.actions()
    assert not [a for a in actions if a.startswith(("node2:",))]
    assert actions[actions.index("node1: crm configure property stonith-enabled=false") + 1] \
        == "node3: crm cluster stop"
    assert "node3: crm cluster start" in actions
    assert "node3: crm_resource --cleanup --node node3" in actions
    assert actions[-1] == "node1: crm configure property stonith-enabled=true"
    assert committed.files["node3"]["/etc/hosts"] == committed.files["node1"]["/etc/hosts"]
    assert "node3" in committed.running


def test_the_primary_is_never_rebuilt(committed):
    job, shown = run(operations.start_rebuild("operator", ["node1"]))
    assert job.status == jobs.FAILED
    assert "Node 'node1' is the current primary and cannot be rebuilt" in shown[-1]
    assert "sudo crm cluster stop" in shown[-1]
    assert committed.actions() == []


# -- Start System ----------------------------------------------------------------------------------


def test_start_system_runs_crm_cluster_start_on_that_node(committed):
    committed.running.discard("node2")
    job, shown = run(operations.start_system("operator", record_id("haNodes", "nodeName",
                                                                   "node2")))
    assert job.status == jobs.SUCCEEDED, shown
    assert [f"{c.node}: {' '.join(c.argv)}" for c in committed.calls] == [
        "node2: sudo -n -- crm cluster start"]
    assert shown[1] == "Status: Starting High Availability System on node 'node2'"
    assert shown[-1] == "SUCCESS: High Availability System started on node2"
    assert "node2" in committed.running


def test_start_system_failure_says_why(committed):
    committed.fail(["crm", "cluster", "start"], stderr="ERROR: cluster.start: corosync failed")
    job, shown = run(operations.start_system("operator", record_id("haNodes", "nodeName",
                                                                   "node3")))
    assert job.status == jobs.FAILED
    assert shown[-1] == ("FAILURE: Start System Failed: Starting High Availability System on "
                         "node 'node3' failed: exit status 1: ERROR: cluster.start: corosync "
                         "failed")


# -- UnFence ---------------------------------------------------------------------------------------


def test_unfence_drives_the_agent_from_another_node(committed):
    fence_id = record_id("fences", "fenceName", "fence1_network")
    job, shown = run(operations.unfence("operator", fence_id))
    assert job.status == jobs.SUCCEEDED, shown
    agent = ["fence_ifmib", "--ip=192.168.40.2", "--ipport=161", "--plug=sw-node1",
             "--snmp-version=2c", "--community", "private-community"]
    assert [(c.node, list(c.argv[3:])) for c in committed.calls] == [
        ("node2", [*agent, "--action=on"]), ("node2", [*agent, "--action=status"])]
    assert shown[1] == ("Status: Sending 'on' to fence 'fence1_network' (plug sw-node1 on "
                        "192.168.40.2) from node 'node2'")
    assert shown[-1] == "SUCCESS: UnFence Complete!"
    assert "private-community" not in "\n".join(shown)


def test_unfence_tries_the_next_node_and_masks_the_community(committed, caplog):
    committed.fail(["fence_ifmib"], node="node2",
                   stderr="snmpset: Timeout (community private-community)")
    fence_id = record_id("fences", "fenceName", "fence1_network")
    with caplog.at_level("INFO", logger="genweb.nodes"):
        job, shown = run(operations.unfence("operator", fence_id))
    assert job.status == jobs.SUCCEEDED, shown
    assert [c.node for c in committed.calls] == ["node2", "node3", "node3"]
    assert any("trying another node" in line and MASK in line for line in shown)
    assert "private-community" not in "\n".join(shown) + caplog.text


def test_unfence_of_a_v3_fence_reads_its_pass_phrases_from_the_cluster_files(committed):
    store.create_record("fences", fence(2, fenceName="pdu2", fenceSnmpVersion="3",
                                        fenceSnmpUser="pdu-admin", fenceSnmpAuthProt="SHA",
                                        fenceSnmpAuthPass="auth-pass-1", fenceSnmpPrivProt="AES",
                                        fenceSnmpPrivPass="priv-pass-1"))
    job, shown = run(apply.start("operator"))
    assert job.status == jobs.SUCCEEDED, shown
    committed.calls.clear()
    job, shown = run(operations.unfence("operator", record_id("fences", "fenceName", "pdu2")))
    assert job.status == jobs.SUCCEEDED, shown
    argv = list(committed.calls[0].argv[3:])
    assert "--password-script=/bin/cat /etc/genproxy/fence-secrets/pdu2.auth" in argv
    assert "--snmp-priv-passwd-script=/bin/cat /etc/genproxy/fence-secrets/pdu2.priv" in argv
    assert not any("pass-1" in arg for arg in argv)
    assert committed.files["node1"]["/etc/genproxy/fence-secrets/pdu2.auth"] == "auth-pass-1"


def test_unfence_needs_a_committed_fence(committed):
    new = store.create_record("fences", fence(3, fenceName="fence3_power"))
    with pytest.raises(store.Refused, match="UnFence needs the fence committed"):
        operations.unfence("operator", new.id)
