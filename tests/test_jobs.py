"""Jobs: progress stored as it happens, one at a time, streamed to the page and the API."""

from __future__ import annotations

import threading

import pytest

from genweb import jobs


def test_a_job_reports_progress_and_succeeds(ctx):
    def work(progress: jobs.Progress) -> str:
        progress.status("Building Kamailio configuration")
        progress.warning("node3 is slow to answer")
        return "Commit Complete!"

    job_id = jobs.start("commit", "operator", "Commit", work)
    assert jobs.wait(job_id).status == jobs.SUCCEEDED
    assert [event.line() for event in jobs.events(job_id)] == [
        "Status: Commit Initiated",
        "Status: Building Kamailio configuration",
        "Warning: node3 is slow to answer",
        "SUCCESS: Commit Complete!",
    ]


def test_a_failing_job_says_why_and_a_crash_hides_the_traceback(ctx):
    def refused(progress: jobs.Progress) -> str:
        raise jobs.JobFailed("node2: kamailio -c refused the configuration")

    def crashed(progress: jobs.Progress) -> str:
        raise KeyError("secret-value")

    first = jobs.start("commit", "operator", "Commit", refused)
    assert jobs.wait(first).status == jobs.FAILED
    assert jobs.events(first)[-1].line() == "FAILURE: node2: kamailio -c refused the configuration"
    second = jobs.start("commit", "operator", "Commit", crashed)
    assert jobs.wait(second).status == jobs.FAILED
    last = jobs.events(second)[-1].message
    assert "internal error (KeyError)" in last and "secret-value" not in last


def test_only_one_job_runs_at_a_time(ctx):
    release = threading.Event()

    def slow(progress: jobs.Progress) -> str:
        release.wait(10)
        return "done"

    first = jobs.start("rebuild", "operator", "Rebuild", slow)
    with pytest.raises(jobs.JobBusy) as busy:
        jobs.start("commit", "other", "Commit", slow)
    assert busy.value.job_id == first
    release.set()
    jobs.wait(first)


def test_the_page_and_the_stream_show_the_progress(ctx, client):
    job_id = jobs.start("commit", "operator", "Commit", lambda progress: "Commit Complete!")
    jobs.wait(job_id)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Status: Commit Initiated" in page and "SUCCESS: Commit Complete!" in page
    stream = client.get(f"/jobs/{job_id}/stream").get_data(as_text=True)
    assert "event: progress" in stream and "SUCCESS: Commit Complete!" in stream
    assert stream.rstrip().endswith('data: {"status": "succeeded"}')
    resumed = client.get(f"/jobs/{job_id}/stream", headers={"Last-Event-ID": "1"})
    assert "Commit Initiated" not in resumed.get_data(as_text=True)
