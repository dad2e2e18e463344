#!/usr/bin/env python3
"""bench/failover: how long is the SIP service gone when the active node dies, and how long do
commits take? (a benchmark, run by hand, as root: it builds a 3-node lab)

    .venv/bin/python bench/failover.py                 # 5 failovers, ~8 minutes on 2 cores
    .venv/bin/python bench/failover.py --runs 7
    .venv/bin/python bench/failover.py --write-docs    # also replace '## Failover' in docs/benchmarks.md
    .venv/bin/python bench/failover.py --token 400 --write-docs   # with CLUSTER_TOKEN_MS=400

What it does, in a lab of its own (genweb/lab, 198.18.0.0/15 inside network namespaces):

1. configures a whole system through the REST API (tests/lab/e2ekit.py, the same as the
   end-to-end test: three nodes, fence_ether_snmp fences on the lab switch, MySQL, a Genesis
   subscriber) and commits it: the first commit's time;
2. a no-downtime commit (a denyList change, applied by Kamailio's address reload) and a full
   commit on 3 nodes (a commit with no change rebuilds everything, manual 16.0): their times;
3. ``--runs`` failovers: while a caller places 10 calls/s and the Genesis sends 5 REGISTER/s
   through the floating IP, ``kill -9`` of the active node's cluster stack and engines. The
   measures are the time from the kill to the first call answered 200 and to the first
   REGISTER answered 200 after it, from sipp's message traces (every message is timestamped).
   Fencing is on: the survivors shut the victim's switch port before they take over. Then the
   victim is brought back as a reboot would (its leftover address dropped, the port switched
   on by genweb's UnFence, the stack started by Start System) and the cluster settles before
   the next run.

``--token`` sets the web server's CLUSTER_TOKEN_MS (docs/install.md) before the first commit, and
the report gets its own section. Every report counts the token losses Corosync logged when no
node had been killed: a token too short for the machine shows there before it splits a cluster.

Every process is started in its own session and stopped by its PID; loads are bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdocs import write_section  # noqa: E402
from genweb.lab import Lab  # noqa: E402
from genweb.lab.topology import PREFIX_LEN  # noqa: E402
from tests.lab.e2ekit import (  # noqa: E402
    DENIED,
    GENESIS_IP,
    GENESIS_PASSWORD,
    GENESIS_USER,
    SIP_PORT,
    VIP,
    Genweb,
    NsSipp,
    Sip,
    crm_mon,
    holders,
    kill_stack,
    not_running,
    state,
    switch_port_up,
    wait,
)

SECTION = "## Failover"
KILL_WINDOW_S = 15  # token losses this long after a kill belong to it
CALL_RATE, REGISTER_RATE = 10, 5  # per second, during a failover run
PROBE_SECONDS = 40  # how long the probes run at most after the kill
SETTLE_TIMEOUT = 240


def healthy(lab: Lab, names: list[str]) -> bool:
    """Every node sees all nodes online with quorum, every resource running, no failure."""
    for name in names:
        xml = crm_mon(lab, [name])
        now = state(lab, [name]) if xml else None
        if not (now and now.quorate and set(now.online) == set(names) and now.service_node
                and not not_running(xml)):
            return False
    return True


def service_node(lab: Lab, names: list[str]) -> str:
    """The node every node says holds the service (a node that just rejoined may still show
    an older picture), and that really holds the floating IP."""
    views = {name: state(lab, [name]) for name in names}
    nodes = {view.service_node if view else None for view in views.values()}
    assert len(nodes) == 1 and None not in nodes, views
    node = nodes.pop()
    assert holders(lab, VIP) == [node]
    return str(node)


def probes(sip: Sip) -> tuple[NsSipp, NsSipp]:
    """A caller (10 calls/s) and the Genesis re-registering (5/s), both bounded."""
    target = f"{VIP}:{SIP_PORT}"
    calls = sip.calls(CALL_RATE * (PROBE_SECONDS + 5), CALL_RATE, timeout_ms=2000, start=True)
    assert sip.genesis is not None
    registers = sip.agent(
        "register_auth.xml", GENESIS_IP, target=target, service=GENESIS_USER,
        keys={"contact_port": str(sip.genesis.port), "expires": "600"},
        args=["-m", str(REGISTER_RATE * (PROBE_SECONDS + 5)), "-r", str(REGISTER_RATE),
              "-recv_timeout", "2000", "-au", GENESIS_USER, "-ap", GENESIS_PASSWORD]).start()
    return calls, registers


def first_ok(agent: NsSipp, method: str, killed: float, dead: float) -> float | None:
    """Seconds from the kill (``killed``) to the first 200 for a ``method`` request first sent
    once the victim's processes were gone (``dead``): an answer to an earlier request may
    still come from the old node, in the instant the kill takes."""
    first_sent: dict[str, float] = {}
    for message in agent.messages():
        call_id = message.header("Call-ID") or ""
        if message.sent and message.method == method:
            first_sent.setdefault(call_id, message.time)
        elif not message.sent and message.code == 200 and \
                method in (message.header("CSeq") or "") and \
                first_sent.get(call_id, 0.0) > dead:
            return message.time - killed
    return None


@dataclass
class Run:
    call_s: float | None
    register_s: float | None
    victim: str
    took_over: str
    killed_at: float


def failover(lab: Lab, web: Genweb, sip: Sip) -> Run:
    names = [node.name for node in lab.nodes]
    victim = service_node(lab, names)
    calls, registers = probes(sip)
    time.sleep(3)  # both probes succeed before the kill
    killed_at = time.time()
    kill_stack(lab, victim)
    dead_at = time.time()
    survivors = [name for name in names if name != victim]
    deadline = time.monotonic() + PROBE_SECONDS
    call_s = register_s = None
    while time.monotonic() < deadline and (call_s is None or register_s is None):
        time.sleep(1)
        call_s = first_ok(calls, "INVITE", killed_at, dead_at)
        register_s = first_ok(registers, "REGISTER", killed_at, dead_at)
    calls.stop()
    registers.stop()
    reboot(lab, web, victim)
    wait(lambda: healthy(lab, names), SETTLE_TIMEOUT, "the cluster settling after a failover")
    took_over = service_node(lab, names)  # stickiness keeps it where it went
    assert took_over in survivors, (victim, took_over)
    return Run(call_s, register_s, victim, took_over, killed_at)


def token_losses(lab: Lab, since: float) -> list[float]:
    """When Corosync on any node logged a lost token (second resolution, deduplicated)."""
    seen: set[float] = set()
    for node in lab.nodes:
        log = lab.exec(node.name, ["cat", "/var/log/corosync/corosync.log"], check=False).stdout
        for line in log.splitlines():
            if "A processor failed, forming new configuration" not in line:
                continue
            stamp = " ".join(line.split()[:3])  # corosync writes local time, no year
            try:
                when = time.mktime(time.strptime(f"{time.localtime().tm_year} {stamp}",
                                                 "%Y %b %d %H:%M:%S"))
            except ValueError:
                continue
            if when >= since - 1:
                seen.add(float(when))
    return sorted(seen)


def unprovoked(losses: list[float], runs: list[Run]) -> list[float]:
    """The token losses with no kill in the seconds before them."""
    return [when for when in losses
            if not any(-2 <= when - run.killed_at <= KILL_WINDOW_S for run in runs)]


def reboot(lab: Lab, web: Genweb, victim: str) -> None:
    """What a reboot and an operator do to a fenced node: its addresses and libqb's shared
    memory go, the switch port comes back (UnFence), the stack starts (Start System)."""
    node = lab.node(victim)
    wait(lambda: not switch_port_up(lab, node.private_port), 60, f"{victim} fenced")
    lab.exec(victim, ["ip", "addr", "del", f"{VIP}/{PREFIX_LEN}", "dev", "eth0"], check=False)
    # /run is a tmpfs that a reboot empties: the engines' PID files and sockets go with it
    lab.exec(victim, ["sh", "-c", "rm -rf /dev/shm/qb-* /run/kamailio /run/mysqld/*.pid "
                      "/run/mysqld/*.sock /run/redis/*.pid /run/rtpengine/*.pid"], check=False)
    fence = next(item for item in web.api("GET", "/api/fences?limit=100")["items"]
                 if item["values"]["fenceNodeName"] == victim)
    run_job(web, f"/api/fences/{fence['id']}/unfence")
    node_id = next(item["id"] for item in web.api("GET", "/api/haNodes?limit=100")["items"]
                   if item["values"]["nodeName"] == victim)
    run_job(web, f"/api/haNodes/{node_id}/startSystem")


def run_job(web: Genweb, url: str) -> None:
    job_id = web.api("POST", url, {})["jobId"]
    job = wait(lambda: (lambda j: j if j["status"] not in ("running", "queued") else None)(
        web.api("GET", f"/api/jobs/{job_id}")), 180, url)
    assert job["status"] == "succeeded", job


def timed_commit(web: Genweb) -> float:
    job, lines, seconds = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines[-20:])
    return seconds


def summary(values: list[float | None]) -> str:
    got = sorted(v for v in values if v is not None)
    if not got:
        return "never"
    missing = len(values) - len(got)
    text = (f"median {statistics.median(got):.2f} s (min {got[0]:.2f}, max {got[-1]:.2f}, "
            f"n={len(got)})")
    return text + (f", {missing} run(s) without one in {PROBE_SECONDS} s" if missing else "")


NOTES = """
Where the time goes (read from the survivors' corosync and pacemaker logs):

- Corosync forms a new membership about 3.6 s after the kill: the token (1000 ms, 1650 ms
  effective with 3 nodes) then 1980 ms of consensus;
- Pacemaker's coordinator plans the recovery about 1 s later (its controller sleeps a second
  while the CIB updates it made for the lost node are pending; about 4 s when the victim was
  the coordinator, which must be elected again first); fencing takes about 0.5 s
  (fence_ether_snmp shuts the victim's switch port);
- then at once: the floating IPs (about 0.4 s), and Kamailio, which serves calls about 0.4 s
  after its start begins; the database's promotion runs beside it (about 1 s, through the
  clone's notifications), and REGISTERs succeed once it is done: until then the replica refuses
  the contact's write. rtpengine's promotion (after redis') follows: its standby already holds
  every call.

Kamailio used to wait for the database's promotion (a median of 7.4 s here: the promotion's CIB
updates abort the transition, which then waits for every running action) and, before that, for
rtpengine's (15.7 s). What remains at genweb's default token is detection and Pacemaker's own
pause; a shorter token is the administrator's choice (docs/install.md, CLUSTER_TOKEN_MS, and the
section below).
"""

TOKEN_NOTES = """
With this token Corosync forms the new membership about 1 s after the kill (the token, then
1.2 x token of consensus); the rest is as in the section above (Pacemaker's pause, fencing, the
IPs, Kamailio's start; REGISTERs after the database's promotion). The false-alarm count is why
genweb does not ship this value: a token this short is lost whenever a node stalls that long.
"""


def section(token: int | None) -> str:
    return f"{SECTION} (CLUSTER_TOKEN_MS={token})" if token else SECTION


def report(results: list[Run], commits: dict[str, float], token: int | None,
           spontaneous: list[float]) -> str:
    setting = (f"Corosync token {token} ms for the whole cluster (CLUSTER_TOKEN_MS={token}, "
               "token_coefficient 0)" if token else
               "genweb's default Corosync token (1000 ms + 650 ms per node beyond two: 1650 ms)")
    lines = [
        section(token), "",
        f"`bench/failover.py{f' --token {token}' if token else ''}`, "
        f"{time.strftime('%Y-%m-%d')}, 2 CPUs shared with other work; a "
        "3-node lab (genweb/lab), fencing on (fence_ether_snmp shutting the victim's switch "
        f"port), {setting}, {len(results)} runs. Each run: the caller places {CALL_RATE} "
        f"calls/s and the Genesis sends {REGISTER_RATE} REGISTER/s (digest) to the floating IP; "
        "`kill -9` of the active node's corosync, pacemaker, Kamailio, rtpengine, redis and "
        "MariaDB; times from the kill to the first 200 after it (sipp's message traces).", "",
        "| measure | result |", "|---|---|",
        f"| kill → first successful call | {summary([r.call_s for r in results])} |",
        f"| kill → first successful REGISTER | {summary([r.register_s for r in results])} |",
        f"| first commit (empty store → running cluster) | {commits['first']:.1f} s |",
        f"| no-downtime commit (denyList) | {commits['live']:.1f} s |",
        f"| full commit on 3 nodes (no change: full rebuild) | {commits['full']:.1f} s |",
        f"| token losses with no node killed (false alarms) | {len(spontaneous)} |",
        "", "Every run (call s / REGISTER s, victim → new primary):", "",
    ]
    for number, run in enumerate(results, 1):
        shown = [f"{v:.2f}" if v is not None else "none" for v in (run.call_s, run.register_s)]
        lines.append(f"- run {number}: {shown[0]} / {shown[1]}, {run.victim} → {run.took_over}")
    if spontaneous:
        lines += ["", "Token losses with no node killed, at: " + ", ".join(
            time.strftime("%H:%M:%S", time.gmtime(when)) for when in spontaneous) + " (UTC)."]
    return "\n".join(lines) + "\n" + (TOKEN_NOTES if token else NOTES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--name", default="bfail", help="the lab's name")
    parser.add_argument("--token", type=int, default=None,
                        help="CLUSTER_TOKEN_MS for the web server (default: genweb's own token)")
    options = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/failover needs root (it builds a lab of network namespaces)")
        return 2
    lab = Lab.up(3, options.name, sudoers="contract")
    folder = lab.dir / "bench"
    sip = Sip(lab, folder / "sipp")
    sip.folder.mkdir(parents=True, exist_ok=True)
    try:
        web = Genweb(lab, folder / "instance")
        if options.token:
            web.app.config["CLUSTER_TOKEN_MS"] = options.token
        web.configure()
        started = time.time()
        commits = {"first": timed_commit(web)}
        names = [node.name for node in lab.nodes]
        wait(lambda: healthy(lab, names), SETTLE_TIMEOUT, "every resource running")
        web.api("PATCH", "/api/proxyConfig", {"denyList": DENIED})
        commits["live"] = timed_commit(web)
        commits["full"] = timed_commit(web)
        wait(lambda: healthy(lab, names), SETTLE_TIMEOUT, "every resource running")
        sip.start_genesis()
        assert sip.register().rc == 0
        results = []
        for number in range(1, options.runs + 1):
            result = failover(lab, web, sip)
            print(f"run {number}: call {result.call_s}, REGISTER {result.register_s} "
                  f"({result.victim} -> {result.took_over})", flush=True)
            results.append(result)
        spontaneous = unprovoked(token_losses(lab, started), results)
    finally:
        sip.stop()
        lab.down(purge=True)
    text = report(results, commits, options.token, spontaneous)
    print(text)
    if options.write_docs:
        write_section(section(options.token), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
