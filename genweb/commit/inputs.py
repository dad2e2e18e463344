"""What a commit works from, read from the store in one go: the plan, the staged and the last
committed configuration, the generated values; and the bookkeeping after a successful commit.

Read inside an application context, then handed to the job: the nodes are never talked to
while a database transaction is open.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from .. import store
from ..catalogue import PAGES, YES
from ..store.models import Job, Record, Setting, db
from ..store.tx import write_operation
from .cluster import TOKEN_KEY
from .database import ODBC_DRIVER_KEY
from .plan import Plan, make_plan
from .secrets import MAKERS, new_rtp_db_pass
from .snapshot import Snapshot, take_snapshot

MEDIA = "mediaConfig"


@dataclass(frozen=True)
class CommitInputs:
    plan: Plan
    staged: Snapshot
    committed: Snapshot | None  # None: nothing was ever committed (the first commit)
    renewed_rtp_db_pass: str | None  # updateRtpDbPass Yes: the new password this commit uses
    fingerprint: str  # of everything staged, to notice edits saved while the commit ran

    @property
    def first_commit(self) -> bool:
        return self.committed is None


def ever_committed() -> bool:
    """Whether any commit has succeeded (a committed value or record exists)."""
    setting = db.session.scalar(select(Setting).where(Setting.committed.is_not(None)).limit(1))
    record = db.session.scalar(select(Record).where(Record.committed.is_not(None)).limit(1))
    return setting is not None or record is not None


def staged_fingerprint() -> str:
    """A digest of every staged value and record state."""
    settings = sorted((row.page, row.key, row.staged) for row in db.session.scalars(select(Setting)))
    records = sorted((row.id, row.kind, json.dumps(row.data, sort_keys=True), row.marked,
                      row.marked_by_node) for row in db.session.scalars(select(Record)))
    text = json.dumps([settings, records], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def gather(*, renew: bool) -> CommitInputs:
    """The inputs of a commit (``renew``: generate the new rtpDbPass updateRtpDbPass asks for;
    the preview page does not, it only says it will happen)."""
    # the store keeps the token of the last successful commit (record_success): the committed
    # side renders with it, the staged side with the app's current CLUSTER_TOKEN_MS
    generated = store.generated_values(MAKERS)
    if current_app.config.get("ODBC_DRIVER"):  # tests only: see database.ODBC_DRIVER_KEY
        generated = {**generated, ODBC_DRIVER_KEY: current_app.config["ODBC_DRIVER"]}
    staged_generated = {**generated, TOKEN_KEY: app_cluster_token()}
    renewed = None
    if renew and store.get_settings(MEDIA).values.get("updateRtpDbPass") == YES:
        renewed = staged_generated["rtpDbPass"] = new_rtp_db_pass()
    committed = take_snapshot(generated, committed=True) if ever_committed() else None
    return CommitInputs(make_plan(), take_snapshot(staged_generated), committed, renewed,
                        staged_fingerprint())


def app_cluster_token() -> str:
    """The administrator's CLUSTER_TOKEN_MS ("" when unset: genweb's own token)."""
    return str(current_app.config.get("CLUSTER_TOKEN_MS") or "").strip()


def token_changed(inputs: CommitInputs) -> bool:
    """CLUSTER_TOKEN_MS differs from what the last commit wrote into corosync.conf."""
    if inputs.committed is None:
        return False
    return (inputs.staged.generated.get(TOKEN_KEY, "")
            != inputs.committed.generated.get(TOKEN_KEY, ""))


# generated values that are settings, not secrets: never masked in what a job reports
PUBLIC_GENERATED = (TOKEN_KEY, ODBC_DRIVER_KEY)


def secret_values(snapshots: Iterable[Snapshot | None]) -> list[str]:
    """Every secret the snapshots hold (catalogue secrets and generated values): what a job
    masks in anything it reports."""
    found: list[str] = []
    for snapshot in snapshots:
        if snapshot is None:
            continue
        for name, page in PAGES.items():
            rows = [snapshot.settings[name]] if not page.collection else snapshot.records[name]
            for row in rows:
                found += [row.get(key, "") for key in page.secret_keys]
        found += [value for name, value in snapshot.generated.items()
                  if name not in PUBLIC_GENERATED]
    return sorted({value for value in found if value}, key=len, reverse=True)


@write_operation
def set_summary(job_id: int, summary: str) -> None:
    """What the job does, kept with it (the Job row is the commit's record: who, when, what,
    result)."""
    job = db.session.get(Job, job_id)
    if job is not None:
        job.summary = summary


def plan_summary(plan: Plan, *, first_commit: bool = False) -> str:
    lines = ["First commit: the whole high availability system is built (full restart)."
             if first_commit else plan.summary()]
    lines += [f"- {change.where}: {change.key or change.action}"
              + (f" {change.old!r} -> {change.new!r}" if change.key else "")
              + f" ({change.effect.label})" for change in plan.changes]
    return "\n".join(lines)


def record_success(inputs: CommitInputs) -> bool:
    """Staged becomes committed (records marked for deletion go), updateRtpDbPass back to
    Default with the renewed password kept. False, recording nothing, when someone saved a
    change while the commit ran: the nodes run what was staged at the start, so marking the
    later edit committed would hide it; the next commit applies both."""
    if staged_fingerprint() != inputs.fingerprint:
        db.session.rollback()
        return False
    if inputs.renewed_rtp_db_pass is not None:
        store.replace_generated("rtpDbPass", inputs.renewed_rtp_db_pass)
    store.replace_generated(TOKEN_KEY, inputs.staged.generated.get(TOKEN_KEY, ""))
    if store.get_settings(MEDIA).values.get("updateRtpDbPass") == YES:
        store.save_settings(MEDIA, {"updateRtpDbPass": "Default"})
    store.record_commit()
    return True
