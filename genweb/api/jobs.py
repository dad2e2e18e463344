"""Jobs in the API: the progress of a commit, rebuild, Start System or UnFence (Figures 26,
28), the same stored messages the browser's progress page streams."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_smorest import Blueprint, abort
from marshmallow import fields, validate
from werkzeug.exceptions import HTTPException

from .. import jobs
from . import resources, schemas

blp = Blueprint("jobs_api", __name__, url_prefix="/api/jobs",
                description="Progress and outcome of commits, rebuilds, Start System and "
                            "UnFence (manual 15.0, 16.0): poll with after= for new messages.")
blp.errorhandler(HTTPException)(resources._http_error)

STATUSES = (jobs.RUNNING, jobs.SUCCEEDED, jobs.FAILED, jobs.INTERRUPTED)


class JobEvent(ma.Schema):
    seq = fields.Integer(metadata={"description": "1, 2, …: ask for those after the last seen"})
    at = fields.DateTime(metadata={"description": "UTC"})
    level = fields.String(metadata={"description": "status, warning, error, success, failure"})
    message = fields.String()
    line = fields.String(metadata={"description": "as the progress page shows it, e.g. "
                                                  "'Status: Building Kamailio configuration'"})


class JobBody(ma.Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "commit, rebuild, start-system or unfence"})
    title = fields.String()
    user = fields.String(metadata={"description": "the web user who started it"})
    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"description": "running until it ends: then succeeded, "
                                                    "failed or interrupted (web server stopped)"})
    summary = fields.String(metadata={"description": "what it does (a commit: its plan, "
                                                     "secrets masked)"})
    startedAt = fields.DateTime()
    finishedAt = fields.DateTime(allow_none=True)
    lastSeq = fields.Integer()
    events = fields.List(fields.Nested(JobEvent))
    page = fields.String(metadata={"description": "the browser's progress page"})


class JobQuery(ma.Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31),
                           metadata={"description": "only events with a larger seq"})


def job_body(job: Any, after: int = 0) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "title": job.title, "user": job.user,
            "status": job.status, "summary": job.summary or "", "startedAt": job.started_at,
            "finishedAt": job.finished_at, "lastSeq": job.last_seq,
            "events": [{"seq": e.seq, "at": e.at, "level": e.level, "message": e.message,
                        "line": e.line()} for e in jobs.events(job.id, after)],
            "page": url_for("jobs.show", job_id=job.id)}


def job_url(job_id: int) -> str:
    return url_for("jobs_api.job", job_id=job_id)


@blp.route("/<int(max=2147483647):job_id>", endpoint="job")
@blp.doc(summary="Read a job's progress", tags=["jobs"])
@blp.arguments(JobQuery, location="query", unknown="raise")
@blp.response(200, JobBody)
@blp.alt_response(404, response="NOT_FOUND")
def job(args: dict[str, int], job_id: int):
    """Read a job's progress

    Status and messages; with after=N only the messages after seq N (poll until status is no
    longer running; the last message is "SUCCESS: …" or "FAILURE: …").
    """
    found = jobs.get(job_id)
    if found is None:
        abort(404, message=f"no job {job_id}")
    return job_body(found, args["after"])


def started(job_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """202 Accepted with the job's id and where to follow it."""
    location = job_url(job_id)
    return {"jobId": job_id, "location": location,
            "page": url_for("jobs.show", job_id=job_id)}, 202, {"Location": location}


class Started(ma.Schema):
    jobId = fields.Integer()
    location = fields.String(metadata={"description": "GET it for the progress (also the "
                                                      "Location header)"})
    page = fields.String(metadata={"description": "the browser's progress page"})


def busy_error(busy: jobs.JobBusy) -> None:
    abort(409, message=f"{busy}", headers={"Location": job_url(busy.job_id)})


__all__ = ["Started", "blp", "busy_error", "job_body", "schemas", "started"]
