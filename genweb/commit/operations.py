"""Rebuild Nodes (15.0), Start System (5.1.4) and UnFence (6.1.4): jobs on the committed
configuration, with the progress messages of Figure 26.

Rebuild writes the committed configuration to nodes in an unknown state (or freshly installed)
and starts them; nothing is "put back" on a failure, since what it writes is already the
configuration the cluster runs, but fencing is always restored. The current primary is never
rebuilt (the manual: stop it with 'sudo crm cluster stop' first, so another node takes over).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app

from .. import jobs, store
from ..nodes import NodeAccess, NodeError, Secret, Target
from . import cluster
from . import inputs as commit_inputs
from .access import node_access, target, targets
from .apply import QUORUM_TIMEOUT, build
from .clusterstate import CRM_MON, StateUnreadable, parse_crm_mon
from .render import Rendered
from .secrets import MAKERS
from .snapshot import Snapshot, take_snapshot
from .steps import (
    Run,
    StepFailed,
    agent_files,
    boot_mode,
    cluster_state,
    install_file,
    set_fencing,
    start_cluster,
    stop_cluster,
    wait_for,
    write_order,
)
from .verify import verify_kamailio

PENDING_REFUSAL = ("Nodes cannot be rebuilt while configuration changes are not committed: "
                   "commit them (Commit Configs) or undo them, then rebuild.")
NOTHING_COMMITTED = "Nothing has been committed yet: commit the configuration first."


# -- Rebuild Nodes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildChoice:
    """What the Rebuild Nodes page lists (15.0)."""

    refusal: str  # non-empty: the page shows only this
    primary: str | None
    nodes: tuple[dict[str, str], ...]  # every committed node except the primary
    note: str  # which node said who the primary is, or why nobody did


def rebuild_choice(access: NodeAccess) -> RebuildChoice:
    """Inside an app context: the refusal, or the nodes except the current primary."""
    if store.has_pending_changes():
        return RebuildChoice(PENDING_REFUSAL, None, (), "")
    snapshot = take_snapshot(committed=True)
    if not snapshot.nodes:
        return RebuildChoice(NOTHING_COMMITTED, None, (), "")
    primary, note = find_primary(access, targets(snapshot))
    return RebuildChoice("", primary, tuple(node for node in snapshot.nodes
                                            if node["nodeName"] != primary), note)


def find_primary(access: NodeAccess, candidates: Sequence[Target]) -> tuple[str | None, str]:
    """The node holding ip_group, asking crm_mon on the nodes in order."""
    for candidate in candidates:
        try:
            with access.open(candidate) as node:
                result = node.run(CRM_MON, sudo=True, timeout=30)
            state = parse_crm_mon(result.stdout) if result.rc == 0 else None
        except (NodeError, StateUnreadable):
            continue
        if state is not None:
            where = f"node '{candidate.name}' answered"
            if state.primary:
                return state.primary, f"{where}: the current primary is '{state.primary}'"
            return None, f"{where}: no node holds the floating IPs now"
    return None, "No node answered crm_mon (the cluster is not running): every node is listed"


def start_rebuild(user: str, names: Sequence[str]) -> int:
    app = current_app._get_current_object()
    access = node_access(app)
    chosen = list(dict.fromkeys(names))
    return jobs.start("rebuild", user, "Rebuild",
                      lambda progress: RebuildJob(app, access, progress, chosen).run())


class RebuildJob:
    def __init__(self, app: Flask, access: NodeAccess, progress: jobs.Progress,
                 names: Sequence[str]) -> None:
        self.app, self.access, self.progress, self.chosen = app, access, progress, list(names)

    def run(self) -> str:
        self.progress.status("Retrieving configuration data from database")
        snapshot = self.committed_snapshot()
        known = [node["nodeName"] for node in snapshot.nodes]
        unknown = [name for name in self.chosen if name not in known]
        if not self.chosen or unknown:
            raise jobs.JobFailed("Rebuild Failed: " + (f"no such committed node: "
                                 f"{', '.join(unknown)}" if unknown else "no node was selected"))
        rendered = build(self.progress, snapshot)
        run = Run(self.progress, self.access, targets(snapshot),
                  secrets=commit_inputs.secret_values((snapshot,)))
        try:
            self.rebuild(run, snapshot, rendered, known)
        except StepFailed as failure:
            self.progress.error(str(failure))
            left = run.rollback()
            extra = " Some steps could not be undone (see above)." if left else ""
            raise jobs.JobFailed(f"Rebuild Failed: {failure}.{extra}") from None
        finally:
            run.close()
        return "Rebuild Complete!"

    def committed_snapshot(self) -> Snapshot:
        with self.app.app_context():
            if store.has_pending_changes():
                raise jobs.JobFailed(f"Rebuild Failed: {PENDING_REFUSAL}")
            generated = store.generated_values(MAKERS)
            snapshot = take_snapshot(generated, committed=True)
            commit_inputs.set_summary(self.progress.job_id,
                                      f"Rebuild of {', '.join(self.chosen)}")
        if not snapshot.nodes:
            raise jobs.JobFailed(f"Rebuild Failed: {NOTHING_COMMITTED}")
        return snapshot

    def rebuild(self, run: Run, snapshot: Snapshot, rendered: Rendered, known: list[str]) -> None:
        state, _ = cluster_state(run, [name for name in known if name not in self.chosen])
        primary = state.primary if state else None
        if primary in self.chosen:
            raise StepFailed(f"Node '{primary}' is the current primary and cannot be rebuilt: run "
                             f"'sudo crm cluster stop' on it so another node takes over (15.0)")
        others = [name for name in known if name not in self.chosen]
        keeper = primary or next((n for n in others if state and n in state.online), None)
        for name in self.chosen:
            with run.step(f"Checking access to node '{name}'"):
                run.run(name, ["true"], timeout=30)
            for file in agent_files():
                install_file(run, name, file, force=True, journal=False)
            verify_kamailio(run, name, rendered)
        if keeper is not None:
            self.disable_fencing(run, keeper, snapshot)
        else:
            run.warning("No other node runs the cluster: fencing settings are left as they are")
        for name in self.chosen:
            with run.step(f"Destroying cluster on node '{name}'"):
                stop_cluster(run, name)
            for file in write_order(rendered.files[name]):
                install_file(run, name, file, force=True, journal=False)
            with run.step(f"Starting High Availability System on node '{name}'"):
                start_cluster(run, name)
        with run.step("Waiting for the rebuilt node(s) to join the cluster"):
            wait_for(run, [*self.chosen, *others],
                     lambda s: set(self.chosen) <= set(s.online), QUORUM_TIMEOUT,
                     "The rebuilt node(s) coming online")
        with run.step("Configuring High Availability System startup mode (startAtBoot)"):
            for name in self.chosen:
                boot_mode(run, name, cluster.boot_commands(snapshot))
                # Failures recorded before the rebuild would keep resources off the node.
                run.run(name, ["crm_resource", "--cleanup", "--node", name], check=False)
        if keeper is not None:
            with run.step("Setting fencing resources to programmed values"):
                set_fencing(run, keeper, cluster.fencing_enabled(snapshot))
            run.journal.clear()
        for name in self.chosen:
            run.status(f"Successfully rebuilt {name}")

    def disable_fencing(self, run: Run, keeper: str, snapshot: Snapshot) -> None:
        with run.step("Disabling fencing while updating system"):
            set_fencing(run, keeper, False)
        run.remember("Setting fencing resources to programmed values",
                     lambda: set_fencing(run, keeper, cluster.fencing_enabled(snapshot)))


# -- Start System (5.1.4) -------------------------------------------------------------------------


def start_system(user: str, record_id: int) -> int:
    """``sudo crm cluster start`` on the node (no effect if it already runs)."""
    app = current_app._get_current_object()
    access = node_access(app)
    node = store.get_record("haNodes", record_id)
    values = node.committed or node.values
    name = values["nodeName"]
    return jobs.start("start-system", user, f"Start System on {name}",
                      lambda progress: _start_system(access, progress, target(values)))


def _start_system(access: NodeAccess, progress: jobs.Progress, node: Target) -> str:
    run = Run(progress, access, [node], secrets=[node.password or ""])
    try:
        with run.step(f"Starting High Availability System on node '{node.name}'"):
            result = run.run(node.name, ["crm", "cluster", "start"], timeout=180)
        for line in (result.stdout + result.stderr).splitlines()[-5:]:
            if line.strip():
                run.status(line.strip())
    except StepFailed as failure:
        raise jobs.JobFailed(f"Start System Failed: {failure}") from None
    finally:
        run.close()
    return f"High Availability System started on {node.name}"


# -- UnFence (6.1.4) ------------------------------------------------------------------------------


def unfence(user: str, record_id: int) -> int:
    """Run the fence's agent with action 'on' from another node (the fenced one may be cut
    off), with the SNMP parameters and pass-phrase files the cluster's stonith resource uses."""
    app = current_app._get_current_object()
    access = node_access(app)
    record = store.get_record("fences", record_id)
    if record.committed is None:
        raise store.Refused("UnFence needs the fence committed: its SNMP access reaches the "
                            "nodes when the configuration is committed")
    snapshot = take_snapshot(committed=True)
    fence = next((row for row in snapshot.rows("fences")
                  if row["fenceName"] == record.committed["fenceName"]), None)
    if fence is None:
        raise store.NotFound("this fence is not in the committed configuration")
    helpers = [t for t in targets(snapshot) if t.name != fence["fenceNodeName"]]
    return jobs.start("unfence", user, f"UnFence {fence['fenceName']}",
                      lambda progress: _unfence(access, progress, fence, helpers))


def fence_argv(fence: dict[str, str], action: str) -> list[str]:
    """The agent's command line: fence-agents' long options, from the same parameters as the
    stonith resource (cluster.snmp_params); the SNMP community is masked in every log."""
    params = {"ip": fence["fenceDeviceIP"], "ipport": fence["fenceDeviceIPPort"],
              "plug": fence["fenceDevicePlug"], **cluster.snmp_params(fence)}
    argv = [fence["fenceAgent"]]
    for name, value in params.items():
        option = f"--{name.replace('_', '-')}"
        # The community on its own argument, so genweb.nodes masks it wherever a tool echoes it.
        argv += [option, Secret(value)] if name == "community" else [f"{option}={value}"]
    argv.append(f"--action={action}")
    return argv


def _unfence(access: NodeAccess, progress: jobs.Progress, fence: dict[str, str],
             helpers: Sequence[Target]) -> str:
    name = fence["fenceName"]
    if not helpers:
        raise jobs.JobFailed(f"UnFence Failed: fence '{name}' can only be driven from another "
                             "node, and no other node is configured")
    run = Run(progress, access, helpers, secrets=[fence["fenceSnmpUser"]])
    problems = []
    try:
        for helper in helpers:
            message = (f"Sending 'on' to fence '{name}' (plug {fence['fenceDevicePlug']} on "
                       f"{fence['fenceDeviceIP']}) from node '{helper.name}'")
            try:
                with run.step(message):
                    run.run(helper.name, fence_argv(fence, "on"), timeout=120)
                    status = run.run(helper.name, fence_argv(fence, "status"), check=False,
                                     timeout=60)
            except StepFailed as failure:
                problems.append(str(failure))
                run.warning(f"{failure}: trying another node")
                continue
            said = (status.stdout.strip() or status.stderr.strip()).splitlines()
            run.status(f"Fence '{name}' reports: {said[-1] if said else status.rc}")
            return "UnFence Complete!"
    finally:
        run.close()
    raise jobs.JobFailed(f"UnFence Failed: no node could drive fence '{name}' "
                         f"({'; '.join(problems)})")
