"""Commit Configuration (16.0): plan → render → verify → apply → record, as one job with the
progress messages of Figures 26 and 28.

How a commit is applied follows its effect (the plan's, 16.0):

- LIVE (no downtime): the files whose content changed, the proxy database rows, Kamailio's
  reload RPCs (kamailio/live.py), the CIB as a diff (``crm configure load update``, stale ids
  deleted) and the boot mode; nothing restarts.
- SWITCH (primary switch): files on every node, the CIB, the rows; then the service moves to a
  passive node that already has the new files (``crm resource move ip_group NODE``, then
  ``clear``): the new node starts Kamailio (and rtpengine, redis' primary) fresh with the new
  configuration while the old one stops, so the interruption is one failover, and calls'
  media survive through redis. Moving, rather than restarting in place, means a configuration
  that will not start is found on a passive node and rolled back. With one node there is
  nowhere to move: the resources whose files changed restart in place.
- RESTART (full restart; also the first commit and a commit with no change, which rebuilds
  everything, 16.0): controlled stop of the cluster on every node (the primary last), every
  file written, start on every node, wait for quorum, load the CIB, wait for the service.

Fencing is disabled before a SWITCH or RESTART touches the cluster ("Disabling fencing while
updating system") and set to its programmed value at the end: a node that stops or starts on
purpose must not be fenced. Any failure stops the commit and undoes what it did, newest first
(steps.Run.rollback): files put back, CIB reloaded as committed, cluster restarted on the
previous files, fencing restored. The staged configuration stays staged, and running the commit
again converges (every step is idempotent). On success the commit is recorded (inputs.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from flask import Flask, current_app

from .. import jobs
from ..catalogue import Effect
from ..kamailio import reload_commands
from ..nodes import CommandFailed, NodeAccess
from . import cluster, database, steps
from . import inputs as commit_inputs
from .access import node_access, targets
from .clusterstate import ClusterState
from .media import FOREIGN_SCRIPT, REDIS_CONF, RTPENGINE_CONF
from .proxyrows import for_snapshot
from .render import File, Rendered, render
from .snapshot import Snapshot
from .steps import (
    Run,
    StepFailed,
    agent_files,
    apply_cib,
    boot_mode,
    cluster_state,
    crm_holding,
    crm_without_fencing,
    install_file,
    remove_file,
    set_fencing,
    start_cluster,
    stop_cluster,
    wait_for,
    write_order,
)
from .verify import verify

TITLE = "Commit"
# Pages whose live changes reach Kamailio (kamailio/live.py); the other live keys (pings, boot
# mode, fencing, fences) are the cluster's and go through the CIB and the boot commands.
KAMAILIO_PAGES = ("proxyConfig", "mediaConfig", "subscribers", "outboundRegistrations",
                  "tlsProxyConfigs", "notifies")
# Which resource restarts in place (one node) when a file changes.
RESOURCE_OF_PATH = (
    ("/etc/kamailio/", cluster.KAMAILIO),
    ("/etc/ssl/genproxy_pvt/", cluster.KAMAILIO),
    (RTPENGINE_CONF, cluster.RTPENGINE_CLONE),
    (FOREIGN_SCRIPT, cluster.RTPENGINE_CLONE),
    (REDIS_CONF, cluster.REDIS_CLONE),
)
KAMAILIO_RETRIES = 3  # cleanups of a Kamailio that failed to start before its database was up
QUORUM_TIMEOUT = 180.0  # s: a first start waits Pacemaker's 20 s dc-deadtime on top of corosync
SERVICE_TIMEOUT = 180.0  # s: IPs, redis, rtpengine and Kamailio started on one node
SWITCH_TIMEOUT = 120.0
# The ping clones' dampen (5 s) plus a margin: how long the IPs must stay on one node after a
# start before the commit prepares the database there.
PRIMARY_SETTLE = 7.0
# A started Kamailio must still run this long later: a failing start can look started briefly,
# and its monitor (every 10 s) must not have failed it either.
SETTLE_SECONDS = 6.0
# What the mariadb client says while the server is not (yet) up: worth waiting for.
DATABASE_STARTING = ("Can't connect", "(2002)", "(2003)", "ERROR 2002", "ERROR 2003")


def start(user: str) -> int:
    """Start the commit job (JobBusy if another job runs); returns its id."""
    app = current_app._get_current_object()
    access = node_access(app)
    return jobs.start("commit", user, TITLE,
                      lambda progress: CommitJob(app, access, progress).run())


class CommitJob:
    def __init__(self, app: Flask, access: NodeAccess, progress: jobs.Progress) -> None:
        self.app = app
        self.access = access
        self.progress = progress

    # -- the phases --------------------------------------------------------------------------

    def run(self) -> str:
        self.progress.status("Retrieving configuration data from database")
        with self.app.app_context():
            self.inputs = commit_inputs.gather(renew=True)
            commit_inputs.set_summary(self.progress.job_id, commit_inputs.plan_summary(
                self.inputs.plan, first_commit=self.inputs.first_commit))
        staged, committed = self.inputs.staged, self.inputs.committed
        if not staged.nodes:
            raise jobs.JobFailed("Commit Failed: no HA Nodes are configured (5.0): create the "
                                 "nodes, then commit")
        self.rendered = build(self.progress, staged)
        self.previous = previous_render(committed)
        mode = self.decide()
        if mode is Effect.NONE:
            self.progress.status("Nothing to apply on the nodes: the changes only concern "
                                 "genweb itself")
            return self.record()
        self.removed = [node["nodeName"] for node in (committed.nodes if committed else ())
                        if node["nodeName"] not in self.names]
        leaving = [target for target in (targets(committed) if committed else [])
                   if target.name in self.removed]  # stopped before the restart
        self.run_ = Run(self.progress, self.access, targets(staged) + leaving,
                        secrets=commit_inputs.secret_values((staged, committed)))
        try:
            self.apply(mode)
        except StepFailed as failure:
            self.fail(str(failure))
        finally:
            self.run_.close()
        return self.record()

    @property
    def names(self) -> list[str]:
        return [node["nodeName"] for node in self.inputs.staged.nodes]

    def decide(self) -> Effect:
        """The way to apply: the plan's effect; RESTART for the first commit and for a commit
        with no change (16.0); a "live" Kamailio change the RPCs cannot apply becomes SWITCH."""
        plan = self.inputs.plan
        if self.inputs.first_commit or plan.full_rebuild:
            return Effect.RESTART
        if commit_inputs.token_changed(self.inputs):
            self.progress.warning("CLUSTER_TOKEN_MS changed since the last commit: the cluster "
                                  "is restarted to apply the new Corosync token")
            return Effect.RESTART
        effect = plan.effect
        if effect is Effect.LIVE and self.kamailio_rpcs() is None:
            self.progress.warning("A change marked live has no Kamailio reload: Kamailio is "
                                  "restarted by a primary switch instead")
            return Effect.SWITCH
        return effect

    def kamailio_rpcs(self) -> tuple[tuple[str, ...], ...] | None:
        changed = [(change.page, change.key or None) for change in self.inputs.plan.changes
                   if change.page in KAMAILIO_PAGES and change.effect is Effect.LIVE]
        return reload_commands(self.inputs.staged, changed)

    def apply(self, mode: Effect) -> None:
        run = self.run_
        self.connect(self.names)
        state, _ = cluster_state(run, self.names)
        primary = state.service_node if state else None
        if mode in (Effect.LIVE, Effect.SWITCH) and primary is None:
            run.warning("The proxy service is not running on any node: the commit starts the "
                        "cluster (full restart)")
            mode = Effect.RESTART
        self.install_agents(self.names)
        verify(run, self.names[0], self.rendered, self.inputs.staged.nodes)
        if mode is Effect.LIVE:
            self.live(primary)
        elif mode is Effect.SWITCH:
            self.switch(primary, state)
        else:
            self.restart(state)

    def fail(self, message: str) -> None:
        self.progress.error(message)
        self.progress.status("Putting back what this commit changed")
        left = self.run_.rollback()
        kept = "The staged configuration is kept: correct the problem and commit again."
        if left:
            raise jobs.JobFailed(f"Commit Failed: {message}. Some changes could not be put "
                                 f"back (see above). {kept}")
        raise jobs.JobFailed(f"Commit Failed: {message}. Everything it changed was put back. "
                             f"{kept}")

    def record(self) -> str:
        with self.app.app_context():
            recorded = commit_inputs.record_success(self.inputs)
        if not recorded:
            self.progress.warning("The configuration was saved again while this commit ran: the "
                                  "cluster runs what was staged when it started, and the later "
                                  "changes stay staged. Commit again to apply them.")
        return "Commit Complete!"

    # -- shared steps ------------------------------------------------------------------------

    def connect(self, names: Sequence[str]) -> None:
        """Every node answers and can use sudo, before anything is changed."""
        for name in names:
            with self.run_.step(f"Checking access to node '{name}'"):
                self.run_.run(name, ["true"], timeout=30)

    def install_agents(self, names: Sequence[str], *, force: bool = False) -> None:
        for name in names:
            for file in agent_files():
                install_file(self.run_, name, file, force=force)

    def update_files(self, *, force: bool) -> None:
        for name in self.names:
            for file in write_order(self.rendered.files[name]):
                install_file(self.run_, name, file, force=force)
            for file in self.stale_files(name):
                remove_file(self.run_, name, file)

    def stale_files(self, name: str) -> list[File]:
        if self.previous is None or name not in self.previous.files:
            return []
        kept = {file.path for file in self.rendered.files[name]}
        return [file for file in self.previous.files[name] if file.path not in kept]

    def update_cib(self, name: str, *, fencing_off: bool, hold: str | None = None) -> None:
        crm = crm_without_fencing(self.rendered.crm) if fencing_off else self.rendered.crm
        if hold is not None:
            crm = crm_holding(crm, hold)
        staged_ids = crm_object_ids(self.inputs.staged)
        committed = self.inputs.committed
        old_ids = crm_object_ids(committed) if committed and committed.nodes else ()
        stale = [rid for rid in (*old_ids, *RETIRED_IDS) if rid not in staged_ids]
        previous = None
        if self.previous is not None:
            added = [rid for rid in staged_ids if rid not in old_ids]
            previous = (crm_without_fencing(self.previous.crm) if fencing_off
                        else self.previous.crm, added)
        apply_cib(self.run_, name, crm, stale, previous)

    def cib_changed(self) -> bool:
        return self.previous is None or self.previous.crm != self.rendered.crm

    def update_rows(self, primary: str) -> None:
        """The proxy database's rows on the active node (one transaction), tables and users
        first; the previous rows go into the journal."""
        database = for_snapshot(self.inputs.staged)
        run = self.run_
        with run.step(f"Updating the proxy database ({database.name}) on node '{primary}'"):
            self.when_database_answers(lambda: database.prepare(
                run.node(primary), self.inputs.staged, self.inputs.committed))
            database.write_rows(run.node(primary), self.rendered.db_rows)
        if self.previous is not None:
            old_rows = self.previous.db_rows
            run.remember(f"Putting back the proxy database rows on node '{primary}'",
                         lambda: database.write_rows(run.node(primary), old_rows))

    def when_database_answers(self, action: Callable[[], None]) -> None:
        """Run ``action``, again while the database server is still starting (it may have
        been started by the cluster a moment ago), for at most SERVICE_TIMEOUT seconds."""
        deadline = time.monotonic() + SERVICE_TIMEOUT
        while True:
            try:
                return action()
            except CommandFailed as exc:
                starting = any(sign in exc.result.stderr for sign in DATABASE_STARTING)
                if not starting or time.monotonic() >= deadline:
                    raise
            self.run_.sleep(steps.POLL_SECONDS)

    def database_changed(self) -> bool:
        """New rows, or new users (passwords, node addresses: databaseConfig, haNodes)."""
        if self.previous is None or dict(self.previous.db_rows) != dict(self.rendered.db_rows):
            return True
        return any(change.page in ("databaseConfig", "haNodes")
                   for change in self.inputs.plan.changes)

    def boot_changed(self) -> bool:
        committed = self.inputs.committed
        return committed is None or cluster.boot_commands(committed) != \
            cluster.boot_commands(self.inputs.staged)

    def configure_boot(self, names: Sequence[str]) -> None:
        with self.run_.step("Configuring High Availability System startup mode (startAtBoot)"):
            for name in names:
                boot_mode(self.run_, name, cluster.boot_commands(self.inputs.staged))

    def disable_fencing(self, name: str) -> None:
        """Off while nodes stop, start or move; put back to the committed value on a failure
        (a cluster just restarted by the rollback first has to form)."""
        run = self.run_
        with run.step("Disabling fencing while updating system"):
            set_fencing(run, name, False)
        committed = self.inputs.committed
        before = bool(committed) and cluster.fencing_enabled(committed)

        def restore() -> None:
            wait_for(run, self.names, lambda state: state.quorate, QUORUM_TIMEOUT,
                     "The cluster forming again")
            set_fencing(run, name, before)

        run.remember("Setting fencing resources back to their committed values", restore)

    def restore_fencing(self, name: str) -> None:
        with self.run_.step("Setting fencing resources to programmed values"):
            set_fencing(self.run_, name, cluster.fencing_enabled(self.inputs.staged))

    # -- by effect ---------------------------------------------------------------------------

    def live(self, primary: str) -> None:
        run = self.run_
        self.update_files(force=False)
        if self.database_changed():
            self.update_rows(primary)
        for rpc in self.kamailio_rpcs() or ():
            with run.step(f"Reloading Kamailio on node '{primary}' ({' '.join(rpc)})"):
                run.run(primary, ["kamcmd", *rpc], timeout=60)
        if self.cib_changed():
            self.update_cib(primary, fencing_off=False)
        if self.boot_changed():
            self.configure_boot(self.names)

    def switch(self, primary: str, state: ClusterState) -> None:
        self.disable_fencing(primary)
        self.update_files(force=False)
        self.update_cib(primary, fencing_off=True)
        if self.database_changed():
            self.update_rows(primary)
        passive = next((name for name in self.names
                        if name != primary and name in state.online), None)
        if passive is not None:
            self.move_service(primary, passive)
        else:
            self.restart_in_place(primary)
        if self.boot_changed():
            self.configure_boot(self.names)
        self.restore_fencing(passive or primary)

    def move_service(self, primary: str, passive: str) -> None:
        """The primary switch: the service starts on an updated passive node."""
        run = self.run_
        with run.step(f"Switching the primary from node '{primary}' to node '{passive}'"):
            run.run(primary, ["crm", "resource", "move", cluster.IP_GROUP, passive], timeout=120)
        run.remember(f"Releasing '{cluster.IP_GROUP}' to run where the cluster prefers",
                     lambda: self.release(primary))
        with run.step(f"Waiting for the proxy service on node '{passive}'"):
            wait_for(run, self.names, lambda state: state.service_node == passive,
                     SWITCH_TIMEOUT, f"The proxy service starting on node '{passive}'",
                     settle=SETTLE_SECONDS)
        with run.step(f"Releasing '{cluster.IP_GROUP}' to stay on node '{passive}'", quiet=True):
            run.run(passive, ["crm", "resource", "clear", cluster.IP_GROUP], timeout=120)

    def release(self, name: str) -> None:
        """Undo of a move: no preference left, failures forgotten, so the resources start
        again (with the files put back)."""
        self.run_.run(name, ["crm", "resource", "clear", cluster.IP_GROUP], timeout=120)
        self.run_.run(name, ["crm", "resource", "cleanup", cluster.KAMAILIO], timeout=120)

    def restart_in_place(self, primary: str) -> None:
        """One node: restart the resources whose files changed (Kamailio at least)."""
        run = self.run_
        resources = changed_resources(self.previous, self.rendered, primary) or [cluster.KAMAILIO]
        for resource in resources:
            with run.step(f"Restarting '{resource}' on node '{primary}' (no other node to "
                          "switch to)"):
                run.run(primary, ["crm", "resource", "restart", resource], timeout=300)
        with run.step(f"Waiting for the proxy service on node '{primary}'"):
            wait_for(run, self.names, lambda state: state.service_node == primary,
                     SWITCH_TIMEOUT, f"The proxy service starting on node '{primary}'",
                     settle=SETTLE_SECONDS)

    def restart(self, state: ClusterState | None) -> None:
        """The controlled full restart."""
        run = self.run_
        online = set(state.online) if state else set()
        primary = state.primary if state else None
        where = next((name for name in self.names if name in online), None)
        if where is not None:
            self.disable_fencing(where)
        # Passive nodes first, the primary last: the service moves at most once.
        order = [*self.removed, *(n for n in self.names if n != primary),
                 *([primary] if primary in self.names else [])]
        for name in order:
            self.stop_node(name, was_running=name in online, removed=name in self.removed)
        self.update_files(force=True)
        for name in self.names:
            with run.step(f"Starting High Availability System on node '{name}'"):
                start_cluster(run, name)
            run.remember(f"Stopping High Availability System on node '{name}'",
                         lambda name=name: stop_cluster(run, name))
        with run.step("Waiting for the cluster to form (quorum, every node online)"):
            wait_for(run, self.names, lambda s: s.quorate and set(self.names) <= set(s.online),
                     QUORUM_TIMEOUT, "Every node joining the cluster with quorum")
        first = self.names[0]
        # Kamailio waits until its database is ready on the node that holds the IPs.
        self.update_cib(first, fencing_off=True, hold=cluster.KAMAILIO)
        # A commit that fails from here must not leave the hold behind: the next Start System
        # would bring the cluster up with Kamailio stopped for good.
        run.remember(f"Releasing Kamailio on node '{first}'", lambda: run.run(
            first, ["crm", "resource", "start", cluster.KAMAILIO], timeout=120))
        for name in self.removed:
            self.forget_node(first, name)
        with run.step("Waiting for the floating IPs to start"):
            primary = self.wait_for_primary()
        self.update_rows(primary)
        with run.step(f"Starting Kamailio on node '{primary}'"):
            run.run(primary, ["crm", "resource", "start", cluster.KAMAILIO], timeout=120)
        self.wait_for_service(primary)
        self.configure_boot(self.names)
        self.restore_fencing(first)

    def wait_for_primary(self) -> str:
        """The node holding the IPs once it stays put. Right after a start the IPs may move:
        the ping clones report reachability a few seconds after they start (dampen), and a
        node not yet reporting scores as one that lost its network (cluster.ping_resources).
        Once the primary's own pings run and their score is written, only a node that reaches
        more networks can take the IPs: so the ping clones run on the primary, and the primary
        stays the same for PRIMARY_SETTLE seconds."""
        pings = [f"ping_{network}_clone" for network, _ in cluster.pings(self.inputs.staged)]
        last: list[str | None] = [None]

        def ready(state: ClusterState) -> bool:
            primary = state.primary
            pinging = all(state.runs(p, primary) for p in pings) if primary else False
            same = primary is not None and primary == last[0]
            last[0] = primary
            return same and pinging

        return wait_for(self.run_, self.names, ready, SERVICE_TIMEOUT,
                        "The floating IPs starting", settle=PRIMARY_SETTLE).primary

    def wait_for_service(self, primary: str) -> None:
        """Until Kamailio runs beside the IPs. A start that fails all the same (its database
        was promoted a moment too late, say) is cleaned up (forgotten) so that Pacemaker tries
        again, a few times at most; once it runs, failed starts left on other nodes are
        cleaned up too."""
        run = self.run_
        retries = [KAMAILIO_RETRIES]

        def ready(state: ClusterState) -> bool:
            if state.service_node is not None:
                return True
            failures = state.failures_of(cluster.KAMAILIO)
            if failures and retries[0] > 0:
                retries[0] -= 1
                run.status(f"Kamailio did not start ({failures[-1]}): trying again now that "
                           "the database is ready")
                run.run(primary, ["crm", "resource", "cleanup", cluster.KAMAILIO],
                        check=False, timeout=120)
            return False

        with run.step(f"Waiting for the proxy service on node '{primary}'"):
            state = wait_for(run, self.names, ready, SERVICE_TIMEOUT,
                             "The proxy service starting", settle=SETTLE_SECONDS)
        failed = sorted({failure.node for failure in state.failures_of(cluster.KAMAILIO)})
        if failed:
            # A failed start bans Kamailio from that node (fail count INFINITY): forget it, or
            # the node can never take over.
            run.status(f"Clearing Kamailio's failed start on {', '.join(failed)} (it runs on "
                       f"node '{state.service_node}')")
            run.run(primary, ["crm", "resource", "cleanup", cluster.KAMAILIO], check=False,
                    timeout=120)

    def stop_node(self, name: str, *, was_running: bool, removed: bool) -> None:
        run = self.run_
        label = "removed node" if removed else "node"
        try:
            with run.step(f"Stopping High Availability System on {label} '{name}'"):
                stop_cluster(run, name)
        except StepFailed as exc:
            if not removed:
                raise
            run.warning(f"{exc} (the node is no longer part of the configuration: continuing)")
            return
        if was_running:
            run.remember(f"Starting High Availability System on {label} '{name}'",
                         lambda: start_cluster(run, name))

    def forget_node(self, where: str, name: str) -> None:
        """A deleted node leaves the CIB's node list (corosync's nodelist no longer has it)."""
        run = self.run_
        result = run.run(where, ["crm_node", "--force", "--remove", name], check=False)
        if result.rc != 0:
            run.warning(f"Node '{name}' could not be removed from the cluster's node list "
                        f"({result.stderr.strip()[-200:] or result.rc}): it shows as offline")


# -- helpers shared with rebuild and the preview --------------------------------------------


ENGINE_LABELS = ("Kamailio", "database", "rtpengine", "redis", "cluster")
# CIB ids an earlier genweb wrote and none renders now: deleted where a commit finds them
# (ord_db_before_kam made Kamailio wait for the database's promotion on a failover).
RETIRED_IDS = ("ord_db_before_kam",)


def crm_object_ids(snapshot: Snapshot) -> tuple[str, ...]:
    """Every CIB id a commit owns. `load update` never deletes: the ids a snapshot no longer has
    (a deleted fence, the database resources after dbEngine went to MS SQL) are deleted."""
    return cluster.cluster_object_ids(snapshot) + database.database_object_ids(snapshot)


def build(progress: jobs.Progress, snapshot: Snapshot) -> Rendered:
    """Render, reported as Figure 26's "Building ... configuration" lines."""
    for label in ENGINE_LABELS:
        progress.status(f"Building {label} configuration")
    try:
        return render(snapshot)
    except (ValueError, KeyError) as exc:
        raise jobs.JobFailed(f"The configuration cannot be built: {exc}. Nothing was changed "
                             "on the nodes.") from None


def previous_render(committed: Snapshot | None) -> Rendered | None:
    """The last committed configuration's render (None for the first commit or when it can no
    longer be rendered: every file then counts as changed)."""
    if committed is None or not committed.nodes:
        return None
    try:
        return render(committed)
    except (ValueError, KeyError):
        return None


def changed_resources(previous: Rendered | None, rendered: Rendered, node: str) -> list[str]:
    """The resources whose files differ between two renders on a node."""
    old = {file.path: file.content for file in previous.files.get(node, ())} if previous else {}
    found: list[str] = []
    for file in rendered.files[node]:
        if old.get(file.path) == file.content:
            continue
        for prefix, resource in RESOURCE_OF_PATH:
            if file.path.startswith(prefix) and resource not in found:
                found.append(resource)
    return found


