"""Cluster-event notifications (10.0) in a live cluster: Pacemaker runs genweb's alert agent
(genweb/agents/alert/genproxy_alert, configured by genweb/commit/alerts.py) on the lab's
nodes, and the JSON events arrive at an HTTP receiver in the lab's web-server namespace
(198.18.0.3): a node stopping and starting again, and a fence device acting (genweb's
fence_ether_snmp against the lab switch, through Pacemaker's fencer).

The cluster is started by hand as tests/lab/test_cluster.py does (or reused if a previous test
of the session left it running). The victim's *public* switch port is the fence plug, as in
tests/lab/test_fence_agent.py: the Corosync ring on the private network stays whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genweb.commit import alerts, cluster
from genweb.commit.snapshot import Snapshot
from genweb.nodes import NodeAccess, Target

from .labkit import ONLINE_WITHIN, cluster_running, start_cluster, wait_until

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ALERT_AGENT = ROOT / "genweb" / "agents" / "alert" / "genproxy_alert"
FENCE_AGENT = ROOT / "genweb" / "agents" / "fence" / "fence_ether_snmp"
PORT = 8089
SYSTEM = "alertlab"
EVENT_WITHIN = 45.0  # s; a stopped node is reported within seconds (token 1000 ms)

RECEIVER = r"""
import http.server, json, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {"path": self.path, "type": self.headers.get("Content-Type"),
                  "agent": self.headers.get("User-Agent"), "body": body.decode("utf-8", "replace")}
        with open(out, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer((host, port), Receiver).serve_forever()
"""


# -- the receiver ----------------------------------------------------------------------------------


class Received:
    """The events the receiver wrote, one JSON record per POST."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def events(self) -> list[dict]:
        return [json.loads(record["body"]) for record in self.records()]

    def wait(self, check: Callable[[dict], bool], within: float = EVENT_WITHIN) -> list[dict]:
        deadline = time.monotonic() + within
        while True:
            found = [event for event in self.events() if check(event)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@pytest.fixture(scope="module")
def received(lab, tmp_path_factory) -> Iterator[Received]:
    """An HTTP receiver on 198.18.0.3:8089 inside the lab's web namespace, stopped by its PID."""
    folder = tmp_path_factory.mktemp("alert-receiver")
    script, out = folder / "receiver.py", folder / "events.jsonl"
    script.write_text(RECEIVER)
    proc = subprocess.Popen(["ip", "netns", "exec", lab.web_netns, sys.executable, str(script),
                             lab.web_private_ip, str(PORT), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(lab, proc)
        yield Received(out)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_listening(lab, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        done = subprocess.run(["ip", "netns", "exec", lab.web_netns, "ss", "-Htln",
                               f"sport = :{PORT}"], capture_output=True, text=True, timeout=10)
        if done.stdout.strip():
            return
        time.sleep(0.2)
    raise AssertionError("the receiver did not start listening")


# -- the cluster, the agents and the alert ---------------------------------------------------------


def snapshot_for(lab) -> Snapshot:
    """What an operator would have committed: the lab's nodes, the receiver as notifyURL, and
    a fence on node3's public switch port (SNMP v2c)."""
    victim = lab.nodes[2]
    return Snapshot.build(
        settings={"systemConfig": {"systemName": SYSTEM}},
        records={"haNodes": [{"nodeID": str(n.index), "nodeName": n.name,
                              "privateIP": n.private_ip} for n in lab.nodes],
                 "notifies": [{"notifyURL": f"http://{lab.web_private_ip}:{PORT}",
                               "notifyUserAgent": "Genesis Proxy lab"}],
                 "fences": [{"fenceName": f"{victim.name}_pub", "fenceNodeName": victim.name,
                             "fenceAgent": "fence_ether_snmp",
                             "fenceDevicePlug": victim.public_port,
                             "fenceDeviceIP": lab.switch.ip, "fenceSnmpVersion": "2c",
                             "fenceSnmpUser": lab.switch.community}]})


def crm_script(snapshot: Snapshot) -> str:
    fence = snapshot.rows("fences")[0]
    objects = cluster.stonith_resource(fence)
    return ("property cib-bootstrap-options: stonith-enabled=true\n"
            + "".join(obj.text + "\n" for obj in objects) + alerts.alert_statement())


def install(access: NodeAccess, target: Target, snapshot: Snapshot) -> None:
    """What commit / Rebuild Nodes install (steps.agent_files, alerts.alert_files)."""
    row = next(n for n in snapshot.nodes if n["nodeName"] == target.name)
    with access.open(target) as node:
        node.run(["install", "-d", "-m", "0755", "/etc/genproxy"], sudo=True, check=True)
        node.write_file(alerts.ALERT_AGENT, ALERT_AGENT.read_text(), mode=0o755)
        node.write_file("/usr/sbin/fence_ether_snmp", FENCE_AGENT.read_text(), mode=0o755)
        for file in alerts.alert_files(snapshot, row):
            node.write_file(file.path, file.content, mode=file.mode, owner=file.owner,
                            group=file.group, secret=True)


@pytest.fixture(scope="module")
def alerting(lab, access, targets, received, tmp_path_factory) -> Snapshot:
    """A running cluster with the alert and the fence device loaded, agents on every node."""
    snapshot = snapshot_for(lab)
    start_cluster(lab, access, targets, tmp_path_factory.mktemp("cib"))
    for target in targets:
        install(access, target, snapshot)
    with access.open(targets[0]) as node:
        node.write_file("/etc/genproxy/alertlab.crm", crm_script(snapshot))
        node.run(["crm", "configure", "load", "update", "/etc/genproxy/alertlab.crm"],
                 sudo=True, check=True, timeout=60)
    return snapshot


def about(event_name: str, target: str, since: float) -> Callable[[dict], bool]:
    return lambda e: (e.get("event") == event_name and e.get("target") == target
                      and e.get("time", 0) >= int(since) - 1)


# -- the tests -------------------------------------------------------------------------------------


def test_a_node_stopping_and_starting_is_posted(lab, access, targets, alerting, received):
    victim = targets[2]
    since = time.time()
    with access.open(victim) as node:
        node.run(["crm", "cluster", "stop"], sudo=True, check=True, timeout=120)
    offline = received.wait(about("node.offline", victim.name, since))
    assert offline, f"no node.offline for {victim.name}: {received.events()}"
    event = offline[0]
    assert event["source"] == "genproxy" and event["system"] == SYSTEM
    assert event["node"] in ("node1", "node2") and event["state"] == "lost"
    assert event["target_id"] == "3"
    record = next(r for r in received.records() if json.loads(r["body"]) == event)
    assert record["type"] == "application/json" and record["agent"] == "Genesis Proxy lab"

    since = time.time()
    with access.open(victim) as node:
        node.run(["crm", "cluster", "start"], sudo=True, check=True, timeout=120)
    online = received.wait(about("node.online", victim.name, since), within=90)
    assert online, f"no node.online for {victim.name}: {received.events()}"
    assert online[0]["state"] == "member"
    assert wait_until(lambda: cluster_running(access, targets), ONLINE_WITHIN)


def test_a_fence_device_acting_is_posted(lab, access, targets, alerting, received):
    victim = targets[2]
    since = time.time()
    try:
        with access.open(targets[0]) as node:
            fenced = node.run(["stonith_admin", "--reboot", victim.name, "--timeout", "60"],
                              sudo=True, timeout=90)
        assert fenced.rc == 0, fenced.stderr
        # the switch port really went down: the agent acted, not only Pacemaker's bookkeeping
        port = subprocess.run(["ip", "-n", lab.switch.netns, "-br", "link", "show",
                               lab.nodes[2].public_port], capture_output=True, text=True,
                              timeout=10).stdout
        assert " DOWN " in f" {port} ", port
        events = received.wait(about("fence.off", victim.name, since))
        assert events, f"no fence.off for {victim.name}: {received.events()}"
        event = events[0]
        assert event["action"] == "reboot" and event["rc"] == 0 and event["id"]
        assert event["system"] == SYSTEM and event["node"] in {t.name for t in targets}
        assert victim.name in event["detail"]
        # every node that saw it reports the same operation
        assert len({e["id"] for e in events}) == 1
    finally:
        subprocess.run(["ip", "-n", lab.switch.netns, "link", "set", lab.nodes[2].public_port,
                        "up"], check=True, capture_output=True, timeout=30)
        restart_after_fence(access, targets, victim)


def restart_after_fence(access: NodeAccess, targets: list[Target], victim: Target) -> None:
    """Fabric fencing leaves the node running: restart its stack, as its reboot would. The
    fence history goes first: a node that finds itself fenced there shuts its stack down."""
    with access.open(targets[0]) as node:
        node.run(["stonith_admin", "--history", victim.name, "--cleanup"], sudo=True, timeout=60)
    with access.open(victim) as node:
        node.run(["crm", "cluster", "stop"], sudo=True, timeout=120)
        node.run(["crm", "cluster", "start"], sudo=True, timeout=120)
    assert wait_until(lambda: cluster_running(access, targets), 90), "the victim did not rejoin"
