"""genweb's own resource agent, ocf:amtelco:rtpengine, driven as Pacemaker drives it.

The agent runs with the OCF environment Pacemaker gives it, against the real rtpengine and the
rtpengine.conf media.py renders; only the ports are moved to free loopback ones. Its folder is
world-readable because the daemon runs as the rtpengine user, as on the nodes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from genweb.commit import cluster, media
from genweb.commit.snapshot import Snapshot
from tests.render.media_helpers import offer, rtpengine_pid

AGENT = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf" / "rtpengine"
OCF_SUCCESS, OCF_NOT_RUNNING, OCF_RUNNING_PROMOTED = 0, 7, 8

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("rtpengine", "rtpengine-ctl", "setpriv"))
    or not Path("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs").exists(),
    reason="needs rtpengine-daemon, rtpengine-utils and resource-agents (scripts/test.sh installs them)")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rendered_config() -> str:
    """media.py's rtpengine.conf for a node on loopback, its ports moved to free ones."""
    snap = Snapshot.build(
        settings={"systemConfig": {"privateIP": "127.0.0.1", "privateSubnet": "8",
                                   "privatePing": "127.0.0.1"}},
        records={"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"}]},
        generated={"rtpDbPass": "Agent-test-pass-0123456789"})
    low = free_port(socket.SOCK_DGRAM) & ~0xFF
    moved = {"listen-ng": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
             "listen-cli": f"127.0.0.1:{free_port()}",
             "port-min": str(max(low, 20000)), "port-max": str(max(low, 20000) + 99),
             # nothing listens there: the agent must not need redis to promote
             "redis": f"Agent-test-pass-0123456789@127.0.0.1:{free_port()}/1"}
    moved["redis-write"] = moved["redis"]
    lines = []
    for line in media.rtpengine_conf(snap).splitlines():
        key = line.partition("=")[0].strip()
        lines.append(f"{key} = {moved.pop(key)}" if key in moved else line)
    assert not moved, f"not in the rendered file: {sorted(moved)}"
    return "\n".join(lines) + "\n"


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="genweb-rtpagent-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


class Agent:
    """ocf:amtelco:rtpengine as Pacemaker calls it: one action per run, parameters in env."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pidfile = folder / "run" / "rtpengine.pid"
        self.marks = folder / "marks"
        config = folder / "rtpengine.conf"
        config.write_text(rendered_config())
        config.chmod(0o644)
        script = folder / "foreign"
        script.write_text(f"#!/bin/sh\necho \"$@\" >> {self.marks}\n")
        script.chmod(0o755)
        self.env = {"PATH": os.environ["PATH"], "OCF_ROOT": "/usr/lib/ocf",
                    "OCF_RESOURCE_INSTANCE": "rtpeng_prim", "HA_RSCTMP": str(folder),
                    "OCF_RESKEY_CRM_meta_promotable": "true", "OCF_RESKEY_CRM_meta_timeout": "20000",
                    "OCF_RESKEY_config": str(config), "OCF_RESKEY_pidfile": str(self.pidfile),
                    "OCF_RESKEY_foreign_script": str(script),
                    # no redis here to wait for; and the host's sysctl is not the test's to change
                    # (test_start_allows_binding_the_floating_addresses runs in its own netns)
                    "OCF_RESKEY_redis_wait": "0", "OCF_RESKEY_nonlocal_bind": "false"}

    def __call__(self, action: str) -> int:
        return subprocess.run([str(AGENT), action], env=self.env, capture_output=True,
                              timeout=60).returncode

    def daemon(self) -> int | None:
        """The PID of the rtpengine this agent started, while it runs."""
        return rtpengine_pid(self.pidfile)

    def kill_leftover(self) -> None:
        pid = self.daemon()
        if pid:
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def agent(folder: Path) -> Iterator[Agent]:
    started = Agent(folder)
    try:
        yield started
    finally:
        started.kill_leftover()


def test_metadata_declares_what_the_cib_sets() -> None:
    meta = subprocess.run([str(AGENT), "meta-data"], env={"OCF_ROOT": "/usr/lib/ocf"},
                          capture_output=True, text=True, check=True).stdout
    root = ET.fromstring(meta)
    parameters = {p.get("name") for p in root.iter("parameter")}
    assert {"config", "foreign_script", "redis_wait", "nonlocal_bind"} <= parameters
    roles = {a.get("role") for a in root.iter("action") if a.get("name") == "monitor"}
    assert roles == {"Promoted", "Unpromoted"}
    crm = cluster.cluster_crm(Snapshot.build(
        settings={"systemConfig": {"privateIP": "127.0.0.100", "privateSubnet": "8",
                                   "privatePing": "127.0.0.1"}},
        records={"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"}]}))
    primitive = crm[crm.index("primitive rtpeng_prim"):crm.index("clone rtpeng_clone")]
    assert (f'config="{media.RTPENGINE_CONF}" foreign_script="{media.FOREIGN_SCRIPT}" '
            f'redis_wait="{cluster.RTPENGINE_REDIS_WAIT_S}"') in primitive
    # start waits up to redis_wait for redis, then starts the daemon: its timeout covers both
    assert f'op start timeout="{cluster.RTPENGINE_REDIS_WAIT_S + 30}s"' in primitive


def test_rtpengine_runs_in_both_roles_and_only_the_marker_says_promoted(agent: Agent) -> None:
    assert agent("monitor") == OCF_NOT_RUNNING  # the probe on a fresh node
    assert agent("start") == OCF_SUCCESS
    pid = agent.daemon()
    assert pid and agent("monitor") == OCF_SUCCESS  # a standby: running, holding foreign calls
    uid = next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("Uid:"))
    assert int(uid) == int(subprocess.run(["id", "-u", "rtpengine"], capture_output=True,
                                          text=True, check=True).stdout)
    assert not agent.marks.exists()

    assert agent("promote") == OCF_SUCCESS
    assert agent.daemon() == pid and agent("monitor") == OCF_RUNNING_PROMOTED  # no restart
    assert agent.marks.read_text() == "mark\n"  # foreign-timeout armed at the takeover

    assert agent("demote") == OCF_SUCCESS
    assert agent.daemon() == pid and agent("monitor") == OCF_SUCCESS

    assert agent("promote") == OCF_SUCCESS and agent("monitor") == OCF_RUNNING_PROMOTED
    assert agent("stop") == OCF_SUCCESS
    assert agent.daemon() is None and agent("monitor") == OCF_NOT_RUNNING


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs util-linux unshare")
def test_start_allows_binding_the_floating_addresses(agent: Agent) -> None:
    """A standby binds addresses its node does not hold: the sysctl, in a network namespace of
    the test's own (the setting is per namespace), so the host's is left alone."""
    env = {**agent.env, "OCF_RESKEY_nonlocal_bind": "true"}
    script = (f"ip link set lo up && sysctl -n net.ipv4.ip_nonlocal_bind && {AGENT} start; "
              f"echo rc=$?; sysctl -n net.ipv4.ip_nonlocal_bind; {AGENT} stop")
    out = subprocess.run(["unshare", "--net", "sh", "-c", script], env=env, capture_output=True,
                         text=True, timeout=60).stdout.split()
    assert out == ["0", f"rc={OCF_SUCCESS}", "1"]
    assert agent.daemon() is None


def test_promote_takes_calls_over_and_demote_hands_them_back(agent: Agent) -> None:
    config = (agent.folder / "rtpengine.conf").read_text()
    ng_port = int(re.search(r"^listen-ng = 127\.0\.0\.1:(\d+)$", config, re.MULTILINE).group(1))

    def calls(which: str) -> list[str]:
        out = subprocess.run(["rtpengine-ctl", "-config-file", str(agent.folder / "rtpengine.conf"),
                              "list", "sessions", which], capture_output=True, text=True).stdout
        return re.findall(r"^callid:\s+(\S+)", out, re.MULTILINE)

    assert agent("start") == OCF_SUCCESS and agent("promote") == OCF_SUCCESS
    offer(ng_port, "agent-call")
    assert calls("own") == ["agent-call"]
    assert agent("demote") == OCF_SUCCESS  # the node loses the addresses: the call is foreign
    assert calls("foreign") == ["agent-call"] and calls("own") == []
    assert agent("promote") == OCF_SUCCESS
    assert calls("own") == ["agent-call"] and calls("foreign") == []


def test_a_crashed_promoted_rtpengine_is_reported(agent: Agent) -> None:
    assert agent("start") == OCF_SUCCESS and agent("promote") == OCF_SUCCESS
    os.kill(agent.daemon(), signal.SIGKILL)
    # Not "promoted" any more: Pacemaker counts the promoted monitor as failed (onFailMode).
    assert agent("monitor") != OCF_RUNNING_PROMOTED
    assert agent("stop") == OCF_SUCCESS and agent("monitor") == OCF_NOT_RUNNING


def test_promote_without_start_is_refused(agent: Agent) -> None:
    assert agent("promote") not in (OCF_SUCCESS, OCF_RUNNING_PROMOTED)
    assert agent.daemon() is None


def test_the_wait_for_redis_is_bounded_by_the_clock_and_keeps_the_password_off_argv(
        agent: Agent) -> None:
    """A redis that hangs costs every check its 3 s timeout: redis_wait still bounds the whole
    wait (the CIB's start timeout is redis_wait + 30 s), and the password reaches redis-cli in
    its environment, never on a command line."""
    calls = agent.folder / "redis-calls"
    hung = agent.folder / "redis-cli"
    hung.write_text(f"#!/bin/sh\necho \"args=$* auth=$REDISCLI_AUTH\" >> {calls}\nsleep 2.5\n"
                    "exit 1\n")
    hung.chmod(0o755)
    agent.env = {**agent.env, "OCF_RESKEY_redis_cli": str(hung), "OCF_RESKEY_redis_wait": "2"}
    started = time.monotonic()
    assert agent("start") == OCF_SUCCESS  # past redis_wait rtpengine starts anyway
    took = time.monotonic() - started
    assert took < 6.5, took  # one or two checks, not redis_wait + 1 of them (~9.5 s)
    lines = calls.read_text().splitlines()
    assert lines and all("auth=Agent-test-pass-0123456789" in line for line in lines)
    assert not any("Agent-test-pass" in line.partition(" auth=")[0] for line in lines)
    assert agent("stop") == OCF_SUCCESS


def test_a_replica_of_no_primary_yet_does_not_hold_up_the_start(agent: Agent) -> None:
    """A cluster's first start: every redis is the stock agent's replica of "no-such-master"
    until one is promoted (after the starts). There is nothing to restore: start at once."""
    replica = agent.folder / "redis-cli-replica"
    replica.write_text("#!/bin/sh\nprintf 'role:slave\\nmaster_host:no-such-master\\n"
                       "master_link_status:down\\n'\n")
    replica.chmod(0o755)
    agent.env = {**agent.env, "OCF_RESKEY_redis_cli": str(replica), "OCF_RESKEY_redis_wait": "8"}
    started = time.monotonic()
    assert agent("start") == OCF_SUCCESS
    assert time.monotonic() - started < 5, "waited for a primary that does not exist yet"
    assert agent("stop") == OCF_SUCCESS


def test_a_failed_demote_leaves_the_instance_reported_promoted(agent: Agent) -> None:
    """The daemon still owns its calls when rtpengine-ctl standby fails: monitor must go on
    saying Promoted (the truth), not Unpromoted, until a demote or stop succeeds."""
    assert agent("start") == OCF_SUCCESS and agent("promote") == OCF_SUCCESS
    real = agent.env
    agent.env = {**real, "OCF_RESKEY_ctl": "/bin/false"}
    assert agent("demote") not in (OCF_SUCCESS, OCF_RUNNING_PROMOTED)
    agent.env = real
    assert agent("monitor") == OCF_RUNNING_PROMOTED
    assert agent("demote") == OCF_SUCCESS and agent("monitor") == OCF_SUCCESS
    assert agent("stop") == OCF_SUCCESS
