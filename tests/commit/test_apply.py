"""Commit as ordered steps over node access: the exact commands each kind of change sends, and
what the nodes hold afterwards (a FakeCluster records every command and keeps each node's
files and cluster state)."""

from __future__ import annotations

import time

from genweb import jobs, store
from genweb.commit import apply, preview, steps
from genweb.commit import inputs as commit_inputs
from genweb.commit.inputs import gather
from genweb.commit.plan import Effect
from genweb.commit.render import render
from genweb.commit.steps import CRM_SCRIPT, agent_files
from genweb.nodes import NodeAccess, Target

from .conftest import configure, fence
from .fakecluster import FakeCluster

VERIFY = [
    "node1: write /etc/kamailio/genweb-verify.cfg 0640 root kamailio",
    "node1: kamailio -c -f /etc/kamailio/genweb-verify.cfg",
    "node1: install -d -m 0755 -o root -g root /etc/genproxy",
    "node1: write /etc/genproxy/genweb-verify.crm 0600 root root",
    "node1: crm -D plain cib new genweb-verify empty force",
    "node1: crm -D plain -c genweb-verify configure load update /etc/genproxy/genweb-verify.crm",
    "node1: crm -D plain -c genweb-verify configure verify",
    "node1: crm -D plain cib delete genweb-verify",
]
PROBES = [f"node{n}: true" for n in (1, 2, 3)]
MYSQL = ["mariadb --batch --skip-column-names",
         "mariadb --batch --skip-column-names --database=kamailio --execute=SHOW TABLES LIKE "
         "'version'",
         "mariadb --batch --skip-column-names --database=kamailio"]


def commit() -> jobs.Job:
    job = jobs.wait(apply.start("operator"), 30)
    jobs.db.session.expire_all()
    return job


def lines(job_id: int) -> list[str]:
    return [event.line() for event in jobs.events(job_id)]


def staged_files() -> dict[str, dict[str, str]]:
    rendered = render(gather(renew=False).staged)
    return {node: {file.path: file.content for file in files}
            for node, files in rendered.files.items()}


def committed_cluster(cluster: FakeCluster) -> None:
    """A first commit, then a clean record of commands."""
    configure()
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    cluster.calls.clear()


def holds(cluster: FakeCluster, files: dict[str, dict[str, str]]) -> bool:
    return all(cluster.files[node].get(path) == text
               for node, node_files in files.items() for path, text in node_files.items())


# -- the first commit ------------------------------------------------------------------------


def test_first_commit_builds_and_starts_every_node(wired):
    cluster = wired
    cluster.running.clear()
    cluster.primary = None
    configure()
    job = commit()
    shown = lines(job.id)
    assert job.status == jobs.SUCCEEDED, shown
    assert shown[:7] == ["Status: Commit Initiated",
                         "Status: Retrieving configuration data from database",
                         "Status: Building Kamailio configuration",
                         "Status: Building database configuration",
                         "Status: Building rtpengine configuration",
                         "Status: Building redis configuration",
                         "Status: Building cluster configuration"]
    for expected in ("Status: Updating '/etc/hosts' on node 'node3'",
                     "Status: Starting High Availability System on node 'node3'",
                     "Status: Configuring High Availability System startup mode (startAtBoot)",
                     "Status: Setting fencing resources to programmed values"):
        assert expected in shown
    assert shown[-1] == "SUCCESS: Commit Complete!"
    assert holds(cluster, staged_files())
    starts = [a for a in cluster.actions() if a.endswith("crm cluster start")]
    assert starts == ["node1: crm cluster start", "node2: crm cluster start",
                      "node3: crm cluster start"]
    # Fencing: loaded off (nodes join one by one), then switched to the programmed value.
    assert cluster.files["node1"][CRM_SCRIPT].count('stonith-enabled="false"') == 1
    assert cluster.actions()[-1] == "node1: crm configure property stonith-enabled=true"
    # Kamailio is loaded held and let go only after its database is ready on the primary
    assert 'meta priority="10" target-role="Stopped"' in cluster.files["node1"][CRM_SCRIPT]
    actions = cluster.actions()
    rows = max(i for i, a in enumerate(actions) if a == f"node1: {MYSQL[-1]}")
    assert actions.index("node1: crm resource start kam_heartbeats") > rows
    assert not store.has_pending_changes()
    summary = jobs.get(job.id).summary
    assert summary.startswith("First commit") and "rw-secret-1" not in summary


# -- by effect -------------------------------------------------------------------------------


def test_live_deny_list_change_reloads_kamailio_and_restarts_nothing(wired):
    cluster = wired
    committed_cluster(cluster)
    before = {node: dict(files) for node, files in cluster.files.items()}
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    assert cluster.actions() == [*PROBES, *VERIFY, *(f"node1: {m}" for m in MYSQL),
                                 "node1: kamcmd permissions.addressReload"]
    rows = cluster.calls[-2].stdin.decode()
    assert "INSERT INTO `address`" in rows and "'198.51.100.7'" in rows
    assert rows.index("START TRANSACTION;") < rows.index("DELETE FROM `address`") \
        < rows.index("COMMIT;")
    assert cluster.files == before | {"node1": {**before["node1"], **{
        path: cluster.files["node1"][path] for path in ("/etc/kamailio/genweb-verify.cfg",
                                                       "/etc/genproxy/genweb-verify.crm")}}}
    assert not store.has_pending_changes()


def test_switch_change_moves_the_service_to_an_updated_passive_node(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    cfg = "/etc/kamailio/kamailio.cfg 0640 root kamailio"
    assert cluster.actions() == [
        *PROBES, *VERIFY,
        "node1: crm configure property stonith-enabled=false",
        f"node1: write {cfg}", f"node2: write {cfg}", f"node3: write {cfg}",
        f"node1: write {CRM_SCRIPT} 0600 root root",
        f"node1: crm -D plain configure load update {CRM_SCRIPT}",
        "node1: cibadmin --query --scope configuration",  # for retired ids (none here)
        "node1: crm resource move ip_group node2",
        "node2: crm resource clear ip_group",
        "node2: crm configure property stonith-enabled=true",
    ]
    assert cluster.primary == "node2"
    assert 'stonith-enabled="false"' in cluster.files["node1"][CRM_SCRIPT]
    assert "Example Proxy" in cluster.files["node2"]["/etc/kamailio/kamailio.cfg"]
    assert "Status: Switching the primary from node 'node1' to node 'node2'" in lines(job.id)


def test_switch_with_one_node_restarts_kamailio_in_place(ctx):
    cluster = FakeCluster.up(["node1"])
    ctx.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    configure(nodes=[{"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71"}],
              fences=False)
    assert commit().status == jobs.SUCCEEDED
    cluster.calls.clear()
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    actions = cluster.actions()
    assert actions[-4:] == [
        f"node1: crm -D plain configure load update {CRM_SCRIPT}",
        "node1: cibadmin --query --scope configuration",
        "node1: crm resource restart kam_heartbeats",
        "node1: crm configure property stonith-enabled=false",  # no fences: programmed off
    ]
    assert "node1: crm resource restart kam_heartbeats" in actions
    assert not any("resource move" in action for action in actions)
    assert "Status: Restarting 'kam_heartbeats' on node 'node1' (no other node to switch to)" \
        in lines(job.id)


def test_full_restart_stops_passive_nodes_first_and_the_primary_last(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("systemConfig", {"systemName": "genproxy2"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    actions = cluster.actions()
    stops = [a for a in actions if a.endswith("crm cluster stop")]
    starts = [a for a in actions if a.endswith("crm cluster start")]
    assert stops == ["node2: crm cluster stop", "node3: crm cluster stop",
                     "node1: crm cluster stop"]
    assert starts == ["node1: crm cluster start", "node2: crm cluster start",
                      "node3: crm cluster start"]
    order = [actions.index(a) for a in (
        "node1: crm configure property stonith-enabled=false", stops[0], stops[-1],
        "node1: write /etc/corosync/corosync.conf 0644 root root", starts[0],
        f"node1: crm -D plain configure load update {CRM_SCRIPT}",
        "node1: systemctl disable corosync.service pacemaker.service")]
    assert order == sorted(order)
    assert actions[-1] == "node1: crm configure property stonith-enabled=true"
    # A full restart writes every file, changed or not (mode and owner made right too).
    writes = [a for a in actions if a.startswith("node2: write ")]
    assert len(writes) == len(staged_files()["node2"])
    assert "cluster_name: genproxy2" in cluster.files["node3"]["/etc/corosync/corosync.conf"]


def test_no_change_rebuilds_everything(wired):
    cluster = wired
    committed_cluster(cluster)
    job = commit()
    assert job.status == jobs.SUCCEEDED
    assert "node3: crm cluster stop" in cluster.actions()


# -- failure, rollback, rerun -------------------------------------------------------------------


def test_a_failure_puts_back_what_was_changed_keeps_the_staged_config_and_a_rerun_converges(wired):
    cluster = wired
    committed_cluster(cluster)
    before = {node: dict(files) for node, files in cluster.files.items()}
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    cluster.fail(["sh", "-c"], node="node3", stderr="mv: cannot move: No space left on device")
    job = commit()
    shown = lines(job.id)
    assert job.status == jobs.FAILED
    assert shown[-6] == ("Error: Updating '/etc/kamailio/kamailio.cfg' on node 'node3' failed: "
                         "exit status 1: mv: cannot move: No space left on device")
    assert shown[-5:-1] == [
        "Status: Putting back what this commit changed",
        "Status: Putting back '/etc/kamailio/kamailio.cfg' on node 'node2'",
        "Status: Putting back '/etc/kamailio/kamailio.cfg' on node 'node1'",
        "Status: Setting fencing resources back to their committed values",
    ]
    assert shown[-1].startswith("FAILURE: Commit Failed: Updating '/etc/kamailio/kamailio.cfg' "
                                "on node 'node3' failed")
    assert "Everything it changed was put back" in shown[-1]
    assert cluster.actions()[-3:] == [
        "node2: write /etc/kamailio/kamailio.cfg 0640 root kamailio",
        "node1: write /etc/kamailio/kamailio.cfg 0640 root kamailio",
        "node1: crm configure property stonith-enabled=true"]
    kept = {p: t for p, t in cluster.files["node1"].items() if "genweb-verify" not in p}
    assert kept == {p: t for p, t in before["node1"].items() if "genweb-verify" not in p}
    assert cluster.primary == "node1"
    assert store.has_pending_changes()  # the staged configuration is kept
    assert [c.key for c in gather(renew=False).plan.changes] == ["serverHeader"]

    rerun = commit()
    assert rerun.status == jobs.SUCCEEDED, lines(rerun.id)
    assert holds(cluster, staged_files()) and not store.has_pending_changes()
    assert cluster.primary == "node2"


def test_a_service_that_does_not_start_after_the_switch_is_rolled_back(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    cluster.kamailio_starts = False
    job = commit()
    assert job.status == jobs.FAILED
    assert "The proxy service starting on node 'node2' did not happen" in lines(job.id)[-1]
    actions = cluster.actions()
    assert actions.index("node1: crm resource clear ip_group") \
        < actions.index("node1: crm resource cleanup kam_heartbeats")
    assert "Example Proxy" not in cluster.files["node2"]["/etc/kamailio/kamailio.cfg"]
    assert store.has_pending_changes()


def test_unreachable_node_stops_the_commit_before_anything_changes(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    cluster.fail(["true"], node="node2", stderr="sudo: a password is required")
    job = commit()
    assert job.status == jobs.FAILED
    assert cluster.actions() == PROBES[:2]
    assert "Checking access to node 'node2' failed" in lines(job.id)[-1]


def test_verification_refusal_changes_nothing(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})
    cluster.fail(["kamailio", "-c"], stderr="ERROR: bad config file (1 errors)")
    job = commit()
    assert job.status == jobs.FAILED
    assert "Kamailio refused the new configuration on node 'node1': ERROR: bad config file" \
        in lines(job.id)[-1]
    assert not any("kamailio.cfg 0640" in a for a in cluster.actions())


def test_only_root_pass_applies_nothing_on_the_nodes(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("databaseConfig", {"rootPass": "new-root-pass"})
    job = commit()
    assert job.status == jobs.SUCCEEDED
    assert cluster.actions() == []
    assert not store.has_pending_changes()


def test_update_rtp_db_pass_renews_the_password_then_returns_to_default(wired):
    cluster = wired
    committed_cluster(cluster)
    old = store.generated_values({})["rtpDbPass"]
    store.save_settings("mediaConfig", {"updateRtpDbPass": "Yes"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    new = store.generated_values({})["rtpDbPass"]
    assert new != old and f"requirepass {new}" in cluster.files["node2"]["/etc/redis/genproxy.conf"]
    assert store.get_settings("mediaConfig").values["updateRtpDbPass"] == "Default"
    assert not store.has_pending_changes()
    assert new not in "\n".join(lines(job.id)) and new not in jobs.get(job.id).summary


def test_agents_are_installed_on_every_node(wired):
    cluster = wired
    committed_cluster(cluster)
    for file in agent_files():
        assert all(cluster.files[n][file.path] == file.content for n in cluster.names)


def test_a_deleted_fence_leaves_the_cib_and_the_nodes_live(wired):
    cluster = wired
    configure()
    store.create_record("fences", fence(2, fenceName="pdu2", fenceAgent="fence_tripplite_snmp",
                                        fenceSnmpVersion="3", fenceSnmpUser="pdu-admin",
                                        fenceSnmpAuthProt="SHA", fenceSnmpAuthPass="auth-pass-1",
                                        fenceSnmpPrivProt="AES", fenceSnmpPrivPass="priv-pass-1"))
    assert commit().status == jobs.SUCCEEDED
    assert {"stonith_pdu2", "loc_stonith_pdu2"} <= cluster.cib_ids
    cluster.calls.clear()
    pdu = next(i for i in store.list_records("fences").items if i.values["fenceName"] == "pdu2")
    store.delete_record("fences", pdu.id)
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    secrets = "/etc/genproxy/fence-secrets/pdu2"
    assert cluster.actions() == [
        *PROBES, *VERIFY,
        *(f"{node}: rm -f -- {secrets}.{kind}" for node in cluster.names
          for kind in ("auth", "priv")),
        f"node1: write {CRM_SCRIPT} 0600 root root",
        f"node1: crm -D plain configure load update {CRM_SCRIPT}",
        "node1: cibadmin --query --scope configuration",
        "node1: crm -D plain configure delete --force stonith_pdu2 loc_stonith_pdu2",
    ]
    assert "stonith_pdu2" not in cluster.cib_ids
    assert not any(path.startswith(secrets) for path in cluster.files["node2"])
    assert store.list_records("fences", include_hidden=True).total == 3  # purged at commit


def test_a_cib_from_an_earlier_genweb_loses_the_ids_it_no_longer_renders(wired):
    """ord_db_before_kam (Kamailio waiting for the database's promotion) goes at the rebuild
    that follows an upgrade (a commit with no change, docs/install.md)."""
    cluster = wired
    committed_cluster(cluster)
    cluster.cib_ids.add("ord_db_before_kam")
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    assert "node1: crm -D plain configure delete --force ord_db_before_kam" in cluster.actions()
    assert "ord_db_before_kam" not in cluster.cib_ids and "kam_heartbeats" in cluster.cib_ids


def test_a_change_saved_while_committing_stays_staged(wired):
    cluster = wired
    committed_cluster(cluster)
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    cluster.delays[("kamailio", "-c")] = 0.5
    job_id = apply.start("operator")
    deadline = time.monotonic() + 10
    while "Verifying Kamailio" not in " ".join(lines(job_id)) and time.monotonic() < deadline:
        jobs.db.session.rollback()
        time.sleep(0.01)
    store.save_settings("proxyConfig", {"allowList": "192.0.2.10"})
    job = jobs.wait(job_id, 30)
    shown = lines(job_id)
    assert job.status == jobs.SUCCEEDED
    assert any("saved again while this commit ran" in line for line in shown)
    assert {c.key for c in gather(renew=False).plan.changes} == {"denyList", "allowList"}


def test_a_service_seen_started_for_a_moment_is_not_taken_for_running(ctx):
    """A failing start can show Kamailio started in one crm_mon answer: the wait needs it still
    running a settle time later."""
    answers = iter([True, False])

    class Flaky(FakeCluster):
        def crm_mon(self) -> str:
            self.kamailio_starts = next(answers, True)
            self.primary = "node1" if self.kamailio_starts else None
            return FakeCluster.crm_mon(self)

    cluster = Flaky.up()
    run = steps.Run(progress=None, access=NodeAccess(transport_factory=cluster),
                    targets=[Target(name, "192.0.2.1") for name in cluster.names],
                    sleep=lambda seconds: None)
    seen: list[str | None] = []
    state = steps.wait_for(run, cluster.names, lambda s: seen.append(s.service_node) or
                           s.service_node is not None, 5, "Kamailio", settle=0.01)
    assert state.service_node == "node1" and seen[:2] == ["node1", None]


def test_leaving_mysql_removes_the_database_resources_from_the_cib(wired):
    """`load update` never deletes: the db_* ids go by name once dbEngine is MS SQL."""
    from genweb.commit import database

    cluster = wired
    committed_cluster(cluster)
    mysql_ids = set(database.database_object_ids(gather(renew=False).staged))
    assert mysql_ids and mysql_ids <= cluster.cib_ids
    store.save_settings("databaseConfig", {"dbEngine": "MS SQL", "dbHost": "sql.example.com",
                                           "dbrwUser": "kamailio", "dbrwPass": "rw-secret-2"})
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    deletes = [call for call in cluster.actions() if "configure delete --force" in call]
    assert deletes and mysql_ids <= set(deletes[-1].split()[5:]), deletes
    assert not mysql_ids & cluster.cib_ids


def test_a_full_restart_that_fails_after_holding_kamailio_releases_it(wired):
    """The CIB is loaded with Kamailio held stopped until its database is ready; a failure
    after that must not leave the hold for the next Start System to trip over."""
    cluster = wired
    cluster.running.clear()  # a first commit: nothing runs yet
    cluster.primary = None
    cluster.kamailio_starts = False  # ... and the floating IPs never start anywhere
    configure()
    job = commit()
    assert job.status == jobs.FAILED, lines(job.id)
    assert "Status: Releasing Kamailio on node 'node1'" in lines(job.id)
    actions = cluster.actions()
    release = actions.index("node1: crm resource start kam_heartbeats")
    assert "node1: crm cluster stop" in actions[release:]  # released before the stacks stop


def test_the_administrators_cluster_token_reaches_every_node(ctx, wired):
    """CLUSTER_TOKEN_MS (instance config.py, docs/install.md) is written into corosync.conf by
    the next commit, which restarts the cluster for it even when the staged change is live (a
    rewritten corosync.conf under a running Corosync would leave nodes on different tokens); the
    value is a setting, never masked; a wrong value stops the commit before any node is
    touched."""
    cluster = wired
    ctx.config["CLUSTER_TOKEN_MS"] = 400
    configure()
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    for name in cluster.names:
        assert "\ttoken: 400\n\ttoken_coefficient: 0\n" in cluster.files[name][
            "/etc/corosync/corosync.conf"]
    assert "400" not in commit_inputs.secret_values([commit_inputs.gather(renew=False).staged])

    # a live change alone: no restart
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})
    cluster.calls.clear()
    assert commit().status == jobs.SUCCEEDED
    assert not any("crm cluster stop" in action for action in cluster.actions())

    # the token changes with a live change staged: the preview and the commit restart
    ctx.config["CLUSTER_TOKEN_MS"] = 600
    store.save_settings("proxyConfig", {"denyList": "198.51.100.8"})
    shown = preview.make_preview()
    assert shown.effect is Effect.RESTART and any("CLUSTER_TOKEN_MS" in n for n in shown.notes)
    cluster.calls.clear()
    job = commit()
    assert job.status == jobs.SUCCEEDED, lines(job.id)
    assert any("CLUSTER_TOKEN_MS changed" in line for line in lines(job.id))
    assert any("crm cluster stop" in action for action in cluster.actions())
    assert "\ttoken: 600\n" in cluster.files["node2"]["/etc/corosync/corosync.conf"]

    ctx.config["CLUSTER_TOKEN_MS"] = "fast"
    cluster.calls.clear()
    job = commit()
    assert job.status == jobs.FAILED
    assert any("CLUSTER_TOKEN_MS 'fast'" in line for line in lines(job.id))
    assert not any(": write " in action for action in cluster.actions())
