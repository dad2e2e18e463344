"""ocf:amtelco:kamailio (genweb/agents/ocf/kamailio): the stock agent, whose start first waits
for the node's own MariaDB when kamailio.cfg uses it.

The stock agent and the database client are stand-ins that record what they are asked (the
real pair runs in the lab: tests/lab/test_e2e.py starts, fails over and restarts Kamailio through
this agent). What is checked here is the wrapper's own logic: when it waits, for how long at most,
and that it hands over every action with its arguments unchanged.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf" / "kamailio"

STOCK = """#!/bin/sh
echo "$(date +%s.%N) $*" >> "$RECORD"
exit 0
"""
# answers once the file READY exists, as a server that finishes starting
CLIENT = """#!/bin/sh
echo "$*" >> "$RECORD.client"
[ -e "$READY" ]
"""

MYSQL_CFG = 'modparam("usrloc", "db_url", "mysql://amtelco:secret@127.0.0.1/amtelco")\n'
ODBC_CFG = 'modparam("usrloc", "db_url", "unixodbc://amtelco:secret@localhost/genproxy")\n'


@pytest.fixture
def box(tmp_path: Path) -> Path:
    for name, text in (("stock", STOCK), ("client", CLIENT)):
        script = tmp_path / name
        script.write_text(text)
        script.chmod(0o755)
    return tmp_path


def run_agent(box: Path, action: str, cfg: str, timeout_ms: int = 60000,
              ready_after: float | None = 0.0,
              margin_ms: int = 15000) -> tuple[float, list[str], list[str]]:
    """Runs the agent; the database answers ``ready_after`` seconds in (None: never)."""
    conf = box / "kamailio.cfg"
    conf.write_text(cfg)
    ready = box / "ready"
    ready.unlink(missing_ok=True)
    for record in (box / "record", box / "record.client"):
        record.unlink(missing_ok=True)
    env = {**os.environ, "RECORD": str(box / "record"), "READY": str(ready),
           "GENPROXY_KAMAILIO_STOCK": str(box / "stock"),
           "GENPROXY_KAMAILIO_DB_CLIENT": str(box / "client"),
           "GENPROXY_KAMAILIO_DB_SOCKET": str(box / "mysqld.sock"),
           "OCF_RESKEY_conffile": str(conf), "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
           "GENPROXY_KAMAILIO_START_MARGIN_MS": str(margin_ms)}
    if ready_after == 0.0:
        ready.touch()
    began = time.monotonic()
    process = subprocess.Popen([str(AGENT), action], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    if ready_after:
        time.sleep(ready_after)
        ready.touch()
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - began
    assert process.returncode == 0, stderr
    calls = [line.split(" ", 1)[1] for line in (box / "record").read_text().splitlines()]
    client = box / "record.client"
    return took, calls, client.read_text().splitlines() if client.exists() else []


def test_start_waits_for_the_local_database_then_runs_the_stock_start(box: Path) -> None:
    took, calls, queries = run_agent(box, "start", MYSQL_CFG, ready_after=1.0)
    assert calls == ["start"]
    assert took >= 1.0
    assert len(queries) >= 2  # asked again until it answered
    # root over the socket: no password on the command line
    assert all(f"--socket={box / 'mysqld.sock'}" in query and "--user=root" in query
               and "secret" not in query for query in queries)


def test_a_database_already_up_costs_one_query(box: Path) -> None:
    _, calls, queries = run_agent(box, "start", MYSQL_CFG)
    assert calls == ["start"] and len(queries) == 1


@pytest.mark.parametrize("timeout_ms, margin_ms, wait_s", [(2000, 15000, 1.0), (4000, 1000, 3.0)])
def test_the_wait_leaves_the_stock_start_its_time(box: Path, timeout_ms: int, margin_ms: int,
                                                  wait_s: float) -> None:
    """At most the start timeout less the stock start's margin (15 s on the nodes), and at
    least half of it."""
    took, calls, _ = run_agent(box, "start", MYSQL_CFG, timeout_ms=timeout_ms, ready_after=None,
                               margin_ms=margin_ms)
    assert calls == ["start"]  # the stock start runs anyway, and reports what Kamailio does
    assert wait_s <= took < wait_s + 3.0


def test_odbc_needs_no_wait(box: Path) -> None:
    _, calls, queries = run_agent(box, "start", ODBC_CFG, ready_after=None)
    assert calls == ["start"] and queries == []


@pytest.mark.parametrize("action", ["stop", "monitor", "meta-data", "validate-all"])
def test_other_actions_are_the_stock_agents(box: Path, action: str) -> None:
    _, calls, queries = run_agent(box, action, MYSQL_CFG, ready_after=None)
    assert calls == [action] and queries == []
