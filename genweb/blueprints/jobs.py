"""A job's progress page and its live stream (server-sent events), as in Figures 26 and 28."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, abort, render_template, stream_with_context

from .. import jobs

bp = Blueprint("jobs", __name__)

STREAM_SECONDS = 3600  # a stream ends by itself; the browser reconnects from the last event


@bp.get("/jobs/<int:job_id>")
def show(job_id: int):
    job = jobs.get(job_id) or abort(404)
    return render_template("job.html", job=job, events=jobs.events(job_id))


@bp.get("/jobs/<int:job_id>/stream")
def stream(job_id: int):
    """Each new progress message as an SSE event; a final ``end`` event when the job is over."""
    from flask import request

    jobs.get(job_id) or abort(404)
    after = request.headers.get("Last-Event-ID", request.args.get("after", 0), type=int) or 0

    @stream_with_context
    def generate():
        nonlocal after
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline:
            new_events, status = _poll(job_id, after)
            for event in new_events:
                after = event.seq
                data = json.dumps({"seq": event.seq, "level": event.level, "line": event.line()})
                yield f"id: {event.seq}\nevent: progress\ndata: {data}\n\n"
            if status != jobs.RUNNING and not new_events:
                yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
                return
            yield ": keep-alive\n\n"
            time.sleep(0.5)

    return Response(generate(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _poll(job_id: int, after: int) -> tuple[list[jobs.Event], str]:
    """New events and the job's status, in a short transaction: writers must not wait on us."""
    try:
        status = jobs.get(job_id).status
        return jobs.events(job_id, after), status
    finally:
        jobs.db.session.rollback()
