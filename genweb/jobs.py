"""Long work with live progress: commit, rebuild, start system, unfence.

A job runs in a background thread and writes each progress message to the store as it goes, so
the browser (server-sent events), the API (polling) and any worker process read the same
history, and a restart of the web server loses none of it. One job runs at a time: two commits
racing over the same nodes would leave them in an unknown state.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select

from .store.models import Job, JobEvent, db  # noqa: F401  (db used by callers)
from .store.tx import write_operation

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"
HEARTBEAT = timedelta(seconds=60)  # a running job that wrote nothing for this long has died


class JobBusy(Exception):
    """Another job is running; its id is in ``job_id``."""

    def __init__(self, job_id: int, kind: str):
        super().__init__(f"a {kind} is already running (job {job_id}): wait for it to finish")
        self.job_id = job_id


class JobFailed(Exception):
    """Raised by a job's work to stop with an operator message (no traceback shown)."""


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    level: str  # "status", "warning", "error", "success", "failure"
    message: str

    def line(self) -> str:
        prefix = {"status": "Status", "warning": "Warning", "error": "Error",
                  "success": "SUCCESS", "failure": "FAILURE"}[self.level]
        return f"{prefix}: {self.message}"


class Progress:
    """What a job's work uses to report; every message is stored at once."""

    def __init__(self, app: Flask, job_id: int):
        self._app = app
        self.job_id = job_id

    def status(self, message: str) -> None:
        self._add("status", message)

    def warning(self, message: str) -> None:
        self._add("warning", message)

    def error(self, message: str) -> None:
        self._add("error", message)

    def _add(self, level: str, message: str) -> None:
        log.info("job %s %s: %s", self.job_id, level, message)
        with self._app.app_context():
            add_event(self.job_id, level, message)


Work = Callable[[Progress], str]  # returns the closing success message


def _now() -> datetime:
    return datetime.now(UTC)


@write_operation
def add_event(job_id: int, level: str, message: str) -> None:
    job = db.session.get(Job, job_id)
    job.last_seq += 1
    job.updated_at = _now()
    db.session.add(JobEvent(job_id=job_id, seq=job.last_seq, level=level, message=message,
                            at=job.updated_at))
    db.session.commit()


@write_operation
def running_job() -> Job | None:
    """The job that is running, after marking jobs whose worker died as interrupted."""
    for job in db.session.scalars(select(Job).filter_by(status=RUNNING)):
        updated = job.updated_at if job.updated_at.tzinfo else job.updated_at.replace(tzinfo=UTC)
        if _now() - updated > HEARTBEAT and not _alive(job.id):
            job.status = INTERRUPTED
            job.finished_at = _now()
            db.session.commit()
            continue
        return job
    return None


_threads: dict[int, threading.Thread] = {}


def _alive(job_id: int) -> bool:
    thread = _threads.get(job_id)
    return thread is not None and thread.is_alive()


def start(kind: str, user: str, title: str, work: Work) -> int:
    """Start ``work`` in the background and return the job id; JobBusy if one is running."""
    job_id = _create(kind, user, title)
    app = current_app._get_current_object()
    thread = threading.Thread(target=_run, args=(app, job_id, title, work),
                              name=f"genweb-job-{job_id}", daemon=True)
    _threads[job_id] = thread
    thread.start()
    return job_id


@write_operation
def _create(kind: str, user: str, title: str) -> int:
    busy = running_job()
    if busy is not None:
        raise JobBusy(busy.id, busy.kind)
    job = Job(kind=kind, user=user, title=title, status=RUNNING, started_at=_now(),
              updated_at=_now(), last_seq=0)
    db.session.add(job)
    db.session.flush()
    return job.id


def _run(app: Flask, job_id: int, title: str, work: Work) -> None:
    progress = Progress(app, job_id)
    progress.status(f"{title} Initiated")
    try:
        closing = work(progress)
    except JobFailed as exc:
        _finish(app, job_id, FAILED, str(exc))
    except Exception as exc:  # a bug: keep the details in the log, tell the operator plainly
        log.error("job %s crashed:\n%s", job_id, traceback.format_exc())
        _finish(app, job_id, FAILED, f"{title} stopped by an internal error "
                f"({type(exc).__name__}); the details are in the web server's log")
    else:
        _finish(app, job_id, SUCCEEDED, closing)


def _finish(app: Flask, job_id: int, status: str, message: str) -> None:
    with app.app_context():
        _close(job_id, status, message)


@write_operation
def _close(job_id: int, status: str, message: str) -> None:
    add_event(job_id, "success" if status == SUCCEEDED else "failure", message)
    job = db.session.get(Job, job_id)
    job.status = status
    job.finished_at = _now()


def get(job_id: int) -> Job | None:
    return db.session.get(Job, job_id)


def events(job_id: int, after: int = 0) -> list[Event]:
    rows = db.session.scalars(select(JobEvent).filter_by(job_id=job_id)
                              .where(JobEvent.seq > after).order_by(JobEvent.seq))
    return [Event(row.seq, row.at, row.level, row.message) for row in rows]


def recent(limit: int = 20) -> list[Job]:
    return list(db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def wait(job_id: int, timeout: float = 60.0) -> Job:
    """Block until the job ends (for tests and the CLI)."""
    deadline = _now() + timedelta(seconds=timeout)
    thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)
    while _now() < deadline:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if job.status != RUNNING:
            return job
        threading.Event().wait(0.1)
    raise TimeoutError(f"job {job_id} still running after {timeout} s")
