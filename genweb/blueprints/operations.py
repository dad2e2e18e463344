"""Commit Configs (16.0, Figures 27/28), Rebuild Nodes (15.0, Figures 25/26), and the Start
System (5.1.4) and UnFence (6.1.4) row actions. Thin: each starts a job (genweb.commit) and
goes to its progress page (/jobs/<id>)."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from .. import jobs, store
from ..auth import auth
from ..commit import apply, operations
from ..commit.access import AccessConfigError, node_access
from ..commit.preview import make_preview

bp = Blueprint("operations", __name__)


@bp.get("/commit")
def commit():
    return render_template("commit.html", preview=make_preview(), running=jobs.running_job())


@bp.post("/commit")
def commit_start():
    return _started(lambda user: apply.start(user), url_for(".commit"))


@bp.get("/rebuild")
def rebuild():
    choice = operations.rebuild_choice(node_access(current_app))
    return render_template("rebuild.html", choice=choice, running=jobs.running_job())


@bp.post("/rebuild")
def rebuild_start():
    names = request.form.getlist("node")
    if not names:
        flash("Select the nodes to rebuild first (Rebuild? column).", "error")
        return redirect(url_for(".rebuild"))
    if store.has_pending_changes():
        flash(operations.PENDING_REFUSAL, "error")
        return redirect(url_for(".rebuild"))
    return _started(lambda user: operations.start_rebuild(user, names), url_for(".rebuild"))


@bp.post("/haNodes/<int:record_id>/startSystem")
def start_system(record_id: int):
    _exists("haNodes", record_id)
    return _started(lambda user: operations.start_system(user, record_id),
                    url_for("records.index", name="haNodes"))


@bp.post("/fences/<int:record_id>/unfence")
def unfence(record_id: int):
    _exists("fences", record_id)
    return _started(lambda user: operations.unfence(user, record_id),
                    url_for("records.index", name="fences"))


def _exists(name: str, record_id: int) -> None:
    try:
        store.get_record(name, record_id)
    except store.NotFound:
        abort(404)


def _started(start: Callable[[str], int], back: str) -> Response:
    """Start the job and show its progress; say why when it cannot start."""
    try:
        job_id = start(auth.current_user() or "unknown")
    except jobs.JobBusy as busy:
        flash(f"{busy} Its progress is shown here.", "error")
        return redirect(url_for("jobs.show", job_id=busy.job_id))
    except (store.StoreError, AccessConfigError) as exc:
        flash(str(exc), "error")
        return redirect(back)
    return redirect(url_for("jobs.show", job_id=job_id))
