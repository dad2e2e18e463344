#!/usr/bin/env python3
"""bench/media: how many calls does rtpengine relay without loss, and what latency does it add?

    .venv/bin/python bench/media.py                 # plain RTP and SDES-SRTP, ~2 minutes
    .venv/bin/python bench/media.py --write-docs    # also replace '## Media' in docs/benchmarks.md

rtpengine runs with the rtpengine.conf media.py renders (userspace forwarding, writing its calls
to the redis media.py configures, as on the active node), on loopback addresses of its own. Each
call is set up over the ng protocol and carries a 20 ms G.711 stream each way (50 packets a
second per direction, 172-byte RTP), from Python far ends in one process (one socket per far
end, epoll). Two modes:

- plain: RTP/AVP on both sides;
- SDES: the private side plain, the public side RTP/SAVP with AES_CM_128_HMAC_SHA1_80 (what the
  proxy does toward a provider with sdes): rtpengine encrypts one direction and decrypts the
  other. The far end on the SDES side sends real SRTP (precomputed) and a sample of what it
  receives is authenticated and decrypted with the key rtpengine offered.

The call count steps up (all calls stay up) until a step loses a packet, the far ends cannot
keep the rate any more (then the result is "at least"), or the cap; each step streams for a
few seconds, then waits for the last packets. Latency: a separate process sends a probe every
20 ms through one more call (caller -> rtpengine -> echo -> rtpengine -> caller) and, in turn,
straight to the echo; the added latency is the median through-relay round trip minus the median
direct one, under the step's load (both pay the same Python and, for SDES, crypto costs).

Everything runs on 127.0.0.0/8, bounded in count and time, and every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import select
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdocs import write_section  # noqa: E402
from genweb.commit import media  # noqa: E402
from genweb.commit.snapshot import Snapshot  # noqa: E402
from tests.render.media_helpers import (  # noqa: E402
    Process,
    Srtp,
    audio_sdp,
    free_port,
    free_port_range,
    media_address,
    new_sdes_key,
    ng_command,
    rewrite,
    rtp_packet,
    run,
    sdes_key,
    wait_for,
)

RELAY = ("127.0.79.1", "127.0.79.2")  # rtpengine's priv and pub addresses
CALLERS, CALLEES, PROBE = "127.0.79.21", "127.0.79.22", "127.0.79.23"
PASSWORD = "Bench-media-pass-0123456789"
INTERVAL = 0.02
PAYLOAD = bytes(160)
MODES = ("plain", "SDES")


@dataclass
class Leg:
    """One far end of a call: its socket, where it sends, and what it sends next."""

    sock: socket.socket
    target: tuple[str, int] = ("", 0)
    ssrc: int = field(default_factory=lambda: int.from_bytes(os.urandom(4), "big"))
    seq: int = 0
    seal: Callable[[bytes], bytes] | None = None  # the far end's own SRTP key, when it has one
    check: Callable[[bytes], bytes | None] | None = None  # rtpengine's key, to read with
    packets: list[bytes] = field(default_factory=list)
    received: int = 0
    last: bytes = b""

    def prepare(self, ticks: int) -> None:
        """The step's packets, built before it starts: the loop only sends."""
        self.packets = []
        for _ in range(ticks):
            packet = rtp_packet(self.ssrc, self.seq, PAYLOAD)
            self.packets.append(self.seal(packet) if self.seal else packet)
            self.seq += 1


def far_end(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((address, 0))
    sock.setblocking(False)
    return sock


class Relay:
    """redis and rtpengine with the rendered files; ports moved to free ones."""

    def __init__(self, folder: Path, max_calls: int) -> None:
        ports = free_port_range(2 * max_calls + 64)
        snapshot = Snapshot.build(
            settings={"systemConfig": {"privateIP": RELAY[0], "privateSubnet": "8",
                                       "privatePing": "127.0.0.1", "publicIP": RELAY[1]},
                      "proxyConfig": {"enableNAT": "Yes"},
                      "mediaConfig": {"rtpPortMin": str(ports[0]), "rtpPortMax": str(ports[1])}},
            records={"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"}]},
            generated={"rtpDbPass": PASSWORD})
        files = {f.path: f.content for f in media.media_files(snapshot, snapshot.nodes[0])}
        redis_port, self.ng_port = free_port(), free_port(socket.SOCK_DGRAM)
        redis_conf = folder / "redis.conf"
        redis_conf.write_text(rewrite(files[media.REDIS_CONF], {
            "port": str(redis_port), "dir": str(folder), "logfile": str(folder / "redis.log")},
            separator=" "))
        redis_at = f"{PASSWORD}@127.0.0.1:{redis_port}"
        self.conf = folder / "rtpengine.conf"
        self.conf.write_text(rewrite(files[media.RTPENGINE_CONF], {
            "listen-ng": f"127.0.0.1:{self.ng_port}", "listen-cli": f"127.0.0.1:{free_port()}",
            "redis": f"{redis_at}/{media.REDIS_RESTORE_DB}",
            "redis-write": f"{redis_at}/{media.REDIS_DB}"}))
        self.redis = Process(["redis-server", str(redis_conf)], folder / "redis.out")
        self.rtpengine: Process | None = None
        try:
            wait_for(lambda: "PONG" in run(["redis-cli", "-p", str(redis_port), "PING"],
                                           env={"REDISCLI_AUTH": PASSWORD}, check=False).stdout)
            self.rtpengine = Process(["rtpengine", f"--config-file={self.conf}", "--foreground",
                                      "--log-stderr", f"--pidfile={folder / 'rtpengine.pid'}"],
                                     folder / "rtpengine.log")
            wait_for(lambda: "Startup complete" in self.rtpengine.text(), what="rtpengine")
        except BaseException:
            self.stop()
            raise

    def relayed(self) -> int:
        """rtpengine's count of the packets it forwarded (userspace), since it started."""
        totals = run(["rtpengine-ctl", "-config-file", str(self.conf), "list", "totals"]).stdout
        found = re.search(r"Total relayed packets \(userspace\)\s*:\s*(\d+)", totals)
        assert found, totals
        return int(found.group(1))

    def cpu_seconds(self) -> float:
        assert self.rtpengine
        fields = Path(f"/proc/{self.rtpengine.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def call(self, call_id: str, caller: Leg, callee: Leg, sdes: bool) -> tuple[str, str]:
        """Offer and answer; with SDES the callee gets keys to send and to read with, and the
        (rtpengine's, callee's) keys are returned."""
        common = {"call-id": call_id, "from-tag": "caller", "replace": ["origin", "session-connection"]}
        offer_flags = {"transport-protocol": "RTP/SAVP", "DTLS": "off"} if sdes else {}
        offer = ng_command(self.ng_port, {**common, **offer_flags, "command": "offer",
                                          "direction": ["priv", "pub"],
                                          "sdp": audio_sdp(*caller.sock.getsockname())})
        assert offer["result"] == b"ok", offer
        offered = offer["sdp"].decode()
        crypto, relay_key, callee_key = "", "", ""
        if sdes:
            tag, relay_key = sdes_key(offered)
            callee_key = new_sdes_key()
            crypto = f"{tag} AES_CM_128_HMAC_SHA1_80 inline:{callee_key}"
            callee.seal, callee.check = Srtp(callee_key).protect, Srtp(relay_key).unprotect
        answer = ng_command(self.ng_port, {
            **common, "command": "answer", "to-tag": "callee",
            "sdp": audio_sdp(*callee.sock.getsockname(), "RTP/SAVP" if sdes else "RTP/AVP",
                             crypto)})
        assert answer["result"] == b"ok", answer
        callee.target, caller.target = media_address(offered), media_address(answer["sdp"].decode())
        return relay_key, callee_key

    def delete(self, call_id: str) -> None:
        # now, not after delete-delay (30 s): the next mode needs the ports
        ng_command(self.ng_port, {"command": "delete", "call-id": call_id, "from-tag": "caller",
                                  "delete-delay": 0})

    def stop(self) -> None:
        if self.rtpengine:
            self.rtpengine.stop()
        self.redis.stop()


# -- the latency probe: its own processes, so the load loop does not delay what it measures ---

def echo(sock: socket.socket, reseal: tuple[str, str] | None, stop: multiprocessing.Event) -> None:
    """Send every packet back to where it came from (re-keyed with the callee's key for SDES)."""
    unseal, seal = (Srtp(reseal[0]).unprotect, Srtp(reseal[1]).protect) if reseal else (None, None)
    sock.setblocking(True)
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, source = sock.recvfrom(2048)
        except TimeoutError:
            continue
        if unseal and seal:
            plain = unseal(data)
            if plain is None:
                continue
            data = seal(plain)
        sock.sendto(data, source)


def probe(relay_sock: socket.socket, relay_target: tuple[str, int], direct: socket.socket,
          echo_at: tuple[str, int], direct_seal: str | None, count: int, out: multiprocessing.Queue) -> None:
    """Alternate a probe through rtpengine and one straight to the echo; RTTs in ms."""
    seal = Srtp(direct_seal).protect if direct_seal else None
    rtts: dict[str, list[float]] = {"relay": [], "direct": []}
    for sock in (relay_sock, direct):
        sock.setblocking(True)
        sock.settimeout(0.5)
    ssrc = int.from_bytes(os.urandom(4), "big")
    for seq in range(count):
        packet = rtp_packet(ssrc, seq, PAYLOAD)
        for kind, sock, target, data in (("relay", relay_sock, relay_target, packet),
                                         ("direct", direct, echo_at, seal(packet) if seal else packet)):
            sent = time.perf_counter()
            sock.sendto(data, target)
            try:
                while True:  # a late answer to an earlier probe is not this one's
                    reply = sock.recv(2048)
                    if reply[2:4] == data[2:4]:
                        break
            except TimeoutError:
                continue
            rtts[kind].append((time.perf_counter() - sent) * 1000)
        time.sleep(INTERVAL)
    out.put(rtts)


@dataclass
class Step:
    calls: int
    sent: int
    received: int
    late: float  # how far behind its schedule the far ends' last send was, in s
    relay_cpu: float  # rtpengine's CPU, % of one core
    srtp_failed: int
    relayed: int = 0  # forwarded by rtpengine, the probe's packets taken out (approximately)
    rtt_relay: float = 0.0
    rtt_direct: float = 0.0
    rtt_relay_p95: float = 0.0

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def lost_in_relay(self) -> int:
        """Sent but never forwarded: dropped on the way into rtpengine or inside it."""
        return max(0, self.sent - self.relayed)

    @property
    def added_ms(self) -> float:
        return self.rtt_relay - self.rtt_direct


class Bench:
    def __init__(self, relay: Relay, mode: str, seconds: float) -> None:
        self.relay, self.sdes, self.seconds = relay, mode == "SDES", seconds
        self.mode = mode
        self.legs: list[Leg] = []
        self.poller = select.epoll()
        self.by_fd: dict[int, Leg] = {}

    def add_calls(self, total: int) -> None:
        while len(self.legs) < 2 * total:
            caller, callee = Leg(far_end(CALLERS)), Leg(far_end(CALLEES))
            self.relay.call(f"{self.mode}-{len(self.legs) // 2}", caller, callee, self.sdes)
            for leg in (caller, callee):
                self.legs.append(leg)
                self.by_fd[leg.sock.fileno()] = leg
                self.poller.register(leg.sock.fileno(), select.EPOLLIN)

    def drain(self, until: float) -> None:
        while (left := until - time.monotonic()) > 0:
            for fd, _ in self.poller.poll(left):
                leg = self.by_fd[fd]
                try:
                    while True:
                        leg.last = leg.sock.recv(2048)
                        leg.received += 1
                except BlockingIOError:
                    pass

    def stream(self) -> tuple[int, float]:
        """Every leg sends one packet per tick; returns packets sent and the final lag."""
        ticks = int(self.seconds / INTERVAL)
        for leg in self.legs:
            leg.prepare(ticks)
            leg.received = 0
        start, sent = time.monotonic(), 0
        for tick in range(ticks):
            for leg in self.legs:
                try:
                    leg.sock.sendto(leg.packets[tick], leg.target)
                    sent += 1
                except BlockingIOError:
                    pass  # never sent: not the relay's loss
            due = start + (tick + 1) * INTERVAL
            self.drain(due)
        lag = time.monotonic() - (start + ticks * INTERVAL)
        self.drain(time.monotonic() + 0.5)  # the last packets in flight
        return sent, lag

    def step(self, calls: int, probe_call: tuple[Leg, Leg, socket.socket]) -> Step:
        self.add_calls(calls)
        caller, callee, direct = probe_call
        stop, out = multiprocessing.Event(), multiprocessing.Queue()
        reseal = (self.relay_key, self.callee_key) if self.sdes else None
        workers = [multiprocessing.Process(target=echo, args=(callee.sock, reseal, stop)),
                   multiprocessing.Process(target=probe, args=(
                       caller.sock, caller.target, direct, callee.sock.getsockname(),
                       self.relay_key if self.sdes else None,
                       int(self.seconds / INTERVAL / 2) - 10, out))]
        relayed = self.relay.relayed()  # before the probe's first packet
        for worker in workers:
            worker.start()
        cpu, started = self.relay.cpu_seconds(), time.monotonic()
        sent, lag = self.stream()
        cpu = (self.relay.cpu_seconds() - cpu) / (time.monotonic() - started) * 100
        rtts = out.get(timeout=30)
        stop.set()
        for worker in workers:
            worker.join(5)
        time.sleep(1.2)  # rtpengine adds its per-stream counts to the totals once a second
        # every answered probe crossed rtpengine twice
        relayed = self.relay.relayed() - relayed - 2 * len(rtts["relay"])
        failed = sum(1 for leg in self.legs if leg.check and leg.last and leg.check(leg.last) is None)
        result = Step(calls, sent, sum(leg.received for leg in self.legs), lag, cpu, failed,
                      relayed)
        if rtts["relay"] and rtts["direct"]:
            result.rtt_relay = statistics.median(rtts["relay"])
            result.rtt_direct = statistics.median(rtts["direct"])
            result.rtt_relay_p95 = statistics.quantiles(rtts["relay"], n=20)[-1]
        return result

    def probe_call(self) -> tuple[Leg, Leg, socket.socket]:
        caller, callee = Leg(far_end(PROBE)), Leg(far_end(PROBE))
        self.relay_key, self.callee_key = self.relay.call(f"{self.mode}-probe", caller, callee,
                                                          self.sdes)
        return caller, callee, far_end(PROBE)

    def close(self) -> None:
        """Delete this mode's calls (their ports go back to the range) and close the far ends."""
        for index in range(len(self.legs) // 2):
            self.relay.delete(f"{self.mode}-{index}")
        self.relay.delete(f"{self.mode}-probe")
        for leg in self.legs:
            leg.sock.close()
        self.poller.close()


def run_mode(relay: Relay, mode: str, steps: list[int], seconds: float, deadline: float) -> list[Step]:
    bench = Bench(relay, mode, seconds)
    results: list[Step] = []
    try:
        probe_call = bench.probe_call()
        for calls in steps:
            if time.monotonic() > deadline:
                print(f"  {mode}: time is up before {calls} calls", flush=True)
                break
            result = bench.step(calls, probe_call)
            results.append(result)
            print(f"  {mode} {calls} calls: sent {result.sent}, lost {result.lost} "
                  f"(≈{result.lost_in_relay} not forwarded by rtpengine), "
                  f"late {result.late * 1000:.0f} ms, rtpengine {result.relay_cpu:.0f}%, "
                  f"srtp failures {result.srtp_failed}, RTT relay {result.rtt_relay:.3f} ms / "
                  f"direct {result.rtt_direct:.3f} ms", flush=True)
            if not counts(result, seconds):
                break
    finally:
        bench.close()
    return results


def counts(step: Step, seconds: float) -> bool:
    """A step counts when nothing was lost and the far ends kept the rate (10% slack)."""
    return not step.lost and not step.srtp_failed and step.late <= 0.1 * seconds


def clean_best(results: list[Step], seconds: float) -> Step | None:
    """The largest step that counts (the steps stop at the first one that does not)."""
    clean = [r for r in results if counts(r, seconds)]
    return clean[-1] if clean else None


def verdict(results: list[Step], cap: int, seconds: float) -> str:
    best, last = clean_best(results, seconds), results[-1]
    if last is best:
        return f"≥ {best.calls} ({'the cap' if best.calls >= cap else 'the time budget ran out'})"
    if last.lost or last.srtp_failed:
        why = (f"loss at {last.calls} calls: {last.lost} of {last.sent} packets, "
               f"≈{last.lost_in_relay} of them before rtpengine forwarded them, the rest at the "
               f"far ends' sockets; the far ends {last.late:.1f} s behind")
        if last.srtp_failed:
            why += f", {last.srtp_failed} SRTP samples failing"
        return f"{best.calls if best else 'none'} ({why})"
    return (f"≥ {best.calls if best else 0} (at {last.calls} calls the far ends fell "
            f"{last.late:.1f} s behind: their limit, not rtpengine's)")


def cpu_per_kpps(results: list[Step], calls: set[int]) -> float:
    """rtpengine's CPU (% of one core) per 1000 packets/s relayed, over the given steps."""
    chosen = [r for r in results if r.calls in calls]
    return statistics.mean(r.relay_cpu / (r.calls * 100 / 1000) for r in chosen) if chosen else 0.0


def format_report(runs: dict[str, list[Step]], cap: int, seconds: float, loads: tuple[float, float],
                  cpus: int) -> str:
    lines = [
        "## Media", "",
        f"`bench/media.py`, {time.strftime('%Y-%m-%d')}, {cpus} CPUs shared with whatever else "
        "runs on the machine: rtpengine 10.5 (userspace) with the rendered rtpengine.conf, writing "
        "its calls to the rendered redis; Python far ends on loopback, 20 ms G.711 each way "
        f"(50 packets/s per direction, so 100 relayed packets/s per call), {seconds:g} s of "
        "streaming per step, all calls kept up while the count steps up (to a cap); a step "
        "counts when not one packet was lost and the far ends kept the rate. SDES: the private "
        "leg plain, the public leg RTP/SAVP AES_CM_128_HMAC_SHA1_80, real SRTP, the last packet "
        "of each call authenticated and decrypted by its far end.", "",
        "Latency: round trip of a probe (caller → rtpengine → echo → rtpengine → caller) minus "
        "the round trip straight to the same echo, medians over the step, under that step's "
        "load: two passes through rtpengine.", "",
    ]
    clean_calls = [{r.calls for r in results if counts(r, seconds)} for results in runs.values()]
    both = set.intersection(*clean_calls) if clean_calls else set()
    lines += ["| mode | concurrent calls without loss | packets/s relayed there "
              "| added RTT, lightest step | added RTT, highest clean step "
              "| rtpengine CPU per 1000 packets/s |", "|---|---|---|---|---|---|"]
    for mode, results in runs.items():
        if not results:
            lines.append(f"| {mode} | not run (the time budget ran out) | | | | |")
            continue
        best, first = clean_best(results, seconds), results[0]
        relayed = f"{best.calls * 100}" if best else ""
        at_best = f"{best.added_ms:.3f} ms ({best.calls} calls)" if best else ""
        lines.append(f"| {mode} | {verdict(results, cap, seconds)} | {relayed} "
                     f"| {first.added_ms:.3f} ms ({first.calls} calls) | {at_best} "
                     f"| {cpu_per_kpps(results, both):.1f}% |")
    plain, sdes = (cpu_per_kpps(runs.get(mode, []), both) for mode in MODES)
    if plain and sdes:
        lines += ["", f"SDES ÷ plain, rtpengine CPU per packet: {sdes / plain:.2f}x (averaged over "
                  f"the steps both ran cleanly: {', '.join(str(c) for c in sorted(both))} calls)."]
    lines += ["", f"Load average at the start and end: {loads[0]:.1f}, {loads[1]:.1f}.", "",
              "Every step (calls: packets sent/lost (≈ of them not forwarded by rtpengine), how late the far ends' last send was, "
              "rtpengine CPU in % of one core, SRTP samples failing, median RTT through rtpengine "
              "/ direct, p95 through rtpengine):", ""]
    for mode, results in runs.items():
        items = "; ".join(
            f"{r.calls}: {r.sent}/{r.lost} (≈{r.lost_in_relay}), late {r.late * 1000:.0f} ms, {r.relay_cpu:.0f}%, "
            f"{r.srtp_failed}, {r.rtt_relay:.3f}/{r.rtt_direct:.3f} ms, p95 {r.rtt_relay_p95:.3f} ms"
            for r in results)
        lines.append(f"- {mode}: {items}")
    lines += ["", "Notes:", "",
              "- The far ends are Python in one process on the same two CPUs as rtpengine and "
              "the other work of the machine: when they fall behind (\"late\"), the step says "
              "more about them than about rtpengine, and the result is a lower bound.",
              f"- Packets lost in this run: {sum(r.lost for rs in runs.values() for r in rs)}.",
              "- The latency figures are medians of about 90 probes per step; single steps jump "
              "when other work takes the CPUs (the p95 in the run list shows it).",
              "- rtpengine's CPU is its process time (user + system); on loopback part of the "
              "kernel's receive work is charged to the sender instead, so it is a comparison "
              "between modes more than an absolute figure.",
              "- Userspace forwarding only (`table = -1`, as rendered): the kernel module, not "
              "available here, forwards in the kernel and would carry many more calls."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="50,100,200,400,600,800,1000",
                        help="concurrent calls to try, ascending (the last is the cap)")
    parser.add_argument("--seconds", type=float, default=4, help="streaming per step")
    parser.add_argument("--budget", type=float, default=120,
                        help="seconds of stepping for both modes together")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the results into docs/benchmarks.md (## Media)")
    args = parser.parse_args()
    missing = [tool for tool in ("rtpengine", "redis-server", "redis-cli") if not shutil.which(tool)]
    if missing:
        print(f"needs {', '.join(missing)} (scripts/test.sh installs them)")
        return 2
    steps = [int(item) for item in args.steps.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-media-"))
    loads = [os.getloadavg()[0]]
    deadline = time.monotonic() + args.budget
    relay = Relay(folder, steps[-1] + 2)
    runs: dict[str, list[Step]] = {}
    try:
        for index, mode in enumerate(MODES):
            # each mode gets its share of what is left of the budget
            share = (deadline - time.monotonic()) / (len(MODES) - index)
            runs[mode] = run_mode(relay, mode, steps, args.seconds, time.monotonic() + share)
    finally:
        relay.stop()
        shutil.rmtree(folder, ignore_errors=True)
    loads.append(os.getloadavg()[0])
    report = format_report(runs, steps[-1], args.seconds, (loads[0], loads[1]), os.cpu_count() or 0)
    print()
    print(report)
    if args.write_docs:
        write_section("## Media", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
