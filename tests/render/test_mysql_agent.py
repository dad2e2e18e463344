"""ocf:amtelco:genproxy-mysql answers, without running the stock agent, the notifications the
stock agent only logs: on a failover they are steps the database's promotion waits for.

The stock agent is a stand-in that records its calls (the real pair runs in the lab:
tests/lab/test_database_lab.py and tests/lab/test_e2e.py promote, demote and re-point replicas
through this wrapper)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from genweb.commit import database

AGENT = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf" / database.MYSQL_AGENT_NAME

STOCK = """#!/bin/sh
echo "$1 $OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation" >> "$RECORD"
exit 0
"""


def notify(tmp_path: Path, kind: str, operation: str) -> list[str]:
    stock = tmp_path / "resource.d" / "heartbeat" / "mysql"
    stock.parent.mkdir(parents=True, exist_ok=True)
    stock.write_text(STOCK)
    stock.chmod(0o755)
    record = tmp_path / "record"
    record.unlink(missing_ok=True)
    env = {**os.environ, "OCF_ROOT": str(tmp_path), "RECORD": str(record),
           "HA_RSCTMP": str(tmp_path / "state"),
           "OCF_RESKEY_CRM_meta_notify_type": kind,
           "OCF_RESKEY_CRM_meta_notify_operation": operation}
    result = subprocess.run([str(AGENT), "notify"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return record.read_text().splitlines() if record.exists() else []


@pytest.mark.parametrize("kind,operation", [("pre", "promote"), ("pre", "start"),
                                            ("post", "start"), ("pre", "stop"),
                                            ("post", "stop")])
def test_notifications_the_stock_agent_ignores_are_answered_at_once(
        tmp_path: Path, kind: str, operation: str) -> None:
    assert notify(tmp_path, kind, operation) == []


@pytest.mark.parametrize("kind,operation", [("pre", "demote"), ("post", "demote"),
                                            ("post", "promote")])
def test_the_ones_it_acts_on_reach_it(tmp_path: Path, kind: str, operation: str) -> None:
    assert notify(tmp_path, kind, operation) == [f"notify {kind}-{operation}"]
