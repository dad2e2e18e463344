"""A call's SDES-SRTP media survives the loss of the active media relay (issue 6, point 5).

Two nodes as the cluster runs them, on one machine: each has its redis (media.py's redis config:
node2's a replica of node1's) and its rtpengine (media.py's rtpengine.conf) driven by our OCF
agent, node1 promoted, node2 a standby subscribed to the keyspace of its own redis. A call is
set up through node1 over the ng protocol: the private side plain RTP, the public side SDES
(RTP/SAVP, AES_CM_128_HMAC_SHA1_80). Python far ends stream both ways and check every packet:
the SRTP side authenticates and decrypts what rtpengine sends with the key rtpengine offered,
the plain side receives the callee's payload decrypted. Then node1 dies (kill -9 of its
rtpengine and its redis), node2's redis becomes the master (REPLICAOF NO ONE, as the redis agent
promotes) and the agent promotes node2's rtpengine; media keeps flowing through node2 with the
same SSRCs and keys, and foreign-timeout later ends the call.

The floating addresses: on a cluster both rtpengines bind the same floating privateIP and
mappedIP/publicIP (the standby before it holds them, net.ipv4.ip_nonlocal_bind) and the IP move
sends the far ends' packets to the new node. On one kernel two sockets cannot own the same
loopback address and port, so each node gets its own pair of loopback addresses (the rendered
configuration of each node differs only there) and the far ends switch to node2's pair at the
promotion: the move of the floating addresses, done by the far ends. The ports, the keys and
the SSRCs are what node2 restored from redis: nothing else tells them to it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from genweb.commit import media
from genweb.commit.snapshot import Snapshot
from tests.render.media_helpers import (
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
    rtpengine_pid,
    run,
    sdes_key,
    wait_for,
)

AGENT = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf" / "rtpengine"
OCF_SUCCESS, OCF_RUNNING_PROMOTED = 0, 8
RTP_DB_PASS = "Failover-test-pass-0123456789"
FOREIGN_TIMEOUT = 8  # s: long enough to see media flow through node2 first
CALLER, CALLEE = "127.0.78.21", "127.0.78.22"  # the Genesis (private side) and the provider
NODE_ADDRESSES = {1: ("127.0.78.1", "127.0.78.2"), 2: ("127.0.78.11", "127.0.78.12")}
PACKET_INTERVAL = 0.02

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("rtpengine", "rtpengine-ctl", "redis-server",
                                            "redis-cli", "setpriv"))
    or not Path("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs").exists(),
    reason="needs rtpengine-daemon, rtpengine-utils, redis-server and resource-agents")


def node_snapshot(node: int, rtp_ports: tuple[int, int]) -> Snapshot:
    """The cluster's configuration with this node's loopback pair as the floating addresses."""
    private_ip, public_ip = NODE_ADDRESSES[node]
    return Snapshot.build(
        settings={"systemConfig": {"privateIP": private_ip, "privateSubnet": "8",
                                   "privatePing": "127.0.0.1", "publicIP": public_ip},
                  "proxyConfig": {"enableNAT": "Yes"},
                  "mediaConfig": {"rtpPortMin": str(rtp_ports[0]), "rtpPortMax": str(rtp_ports[1]),
                                  "foreign-timeout": str(FOREIGN_TIMEOUT)}},
        records={"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"},
                             {"nodeID": "2", "nodeName": "node2", "privateIP": "127.0.0.1"}]},
        generated={"rtpDbPass": RTP_DB_PASS})


def redis_cli(port: int, *command: str) -> str:
    result = run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command],
                 env={"REDISCLI_AUTH": RTP_DB_PASS}, check=False)
    return (result.stdout + result.stderr).strip()


class Node:
    """One node's redis and rtpengine: the rendered files, free ports, our OCF agent."""

    def __init__(self, number: int, folder: Path, rtp_ports: tuple[int, int]) -> None:
        self.number, self.folder = number, folder / f"node{number}"
        self.folder.mkdir()
        self.folder.chmod(0o755)  # the daemon runs as the rtpengine user, as on the nodes
        snapshot = node_snapshot(number, rtp_ports)
        files = {f.path: f.content for f in media.media_files(snapshot, snapshot.nodes[0])}
        self.redis_port, self.ng_port = free_port(), free_port(socket.SOCK_DGRAM)
        redis_at = f"{RTP_DB_PASS}@127.0.0.1:{self.redis_port}"
        self.config = self._write("rtpengine.conf", rewrite(files[media.RTPENGINE_CONF], {
            "listen-ng": f"127.0.0.1:{self.ng_port}", "listen-cli": f"127.0.0.1:{free_port()}",
            "redis": f"{redis_at}/{media.REDIS_RESTORE_DB}",
            "redis-write": f"{redis_at}/{media.REDIS_DB}"}), 0o644)
        self.redis_config = self._write("redis.conf", rewrite(files[media.REDIS_CONF], {
            "port": str(self.redis_port), "dir": str(self.folder),
            "logfile": str(self.folder / "redis.log")}, separator=" "), 0o600)
        self.foreign_script = self._write("foreign", files[media.FOREIGN_SCRIPT], 0o755)
        self.foreign_state = self.folder / "foreign-state"
        self.pidfile = self.folder / "run" / "rtpengine.pid"
        self.redis: Process | None = None

    def _write(self, name: str, text: str, mode: int) -> Path:
        path = self.folder / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def start_redis(self) -> None:
        self.redis = Process(["redis-server", str(self.redis_config)], self.folder / "redis.out")
        wait_for(lambda: redis_cli(self.redis_port, "PING") == "PONG", what="redis")

    def agent(self, action: str) -> int:
        """ocf:amtelco:rtpengine as Pacemaker runs it, the script's paths in its environment."""
        env = {"PATH": os.environ["PATH"], "OCF_ROOT": "/usr/lib/ocf",
               "OCF_RESOURCE_INSTANCE": "rtpeng_prim", "HA_RSCTMP": str(self.folder),
               "OCF_RESKEY_CRM_meta_promotable": "true", "OCF_RESKEY_CRM_meta_timeout": "60000",
               "OCF_RESKEY_config": str(self.config), "OCF_RESKEY_pidfile": str(self.pidfile),
               "OCF_RESKEY_foreign_script": str(self.foreign_script),
               "OCF_RESKEY_redis_wait": "20",
               # loopback addresses are always local; the host's sysctl is not the test's
               "OCF_RESKEY_nonlocal_bind": "false",
               "GENPROXY_RTPENGINE_CONF": str(self.config),
               "GENPROXY_FOREIGN_STATE": str(self.foreign_state)}
        return subprocess.run([str(AGENT), action], env=env, capture_output=True,
                              timeout=90).returncode

    def daemon(self) -> int | None:
        return rtpengine_pid(self.pidfile)

    def sessions(self, which: str) -> list[str]:
        out = run(["rtpengine-ctl", "-config-file", str(self.config), "list", "sessions", which])
        return re.findall(r"^callid:\s+(\S+)", out.stdout, re.MULTILINE)

    def session(self, call_id: str) -> str:
        return run(["rtpengine-ctl", "-config-file", str(self.config), "list", "sessions",
                    call_id]).stdout

    def crash(self) -> None:
        """The node dies: kill -9 of its rtpengine and of its redis."""
        pid = self.daemon()
        if pid:
            os.kill(pid, signal.SIGKILL)
        if self.redis:
            self.redis.kill()

    def clean(self) -> None:
        self.agent("stop")
        pid = self.daemon()  # a stop that failed must not leave the daemon behind
        if pid:
            os.kill(pid, signal.SIGKILL)
        if self.redis:
            self.redis.stop()


@dataclass
class Received:
    at: float
    ssrc: int
    seq: int


@dataclass
class FarEnd:
    """A phone or provider: sends a 20 ms stream to ``target``, reads and checks what comes back.

    ``seal`` turns a plain packet into what goes on the wire; ``unseal`` returns the plain packet
    of what arrives, or None when it does not authenticate. The payload names the sender, so a
    packet that decrypts into anything else counts as bad too.
    """

    name: bytes
    address: str
    seal: Callable[[bytes], bytes]
    unseal: Callable[[bytes], bytes | None]
    peer: bytes = b""
    target: tuple[str, int] | None = None
    ssrc: int = field(default_factory=lambda: int.from_bytes(os.urandom(4), "big"))
    received: list[Received] = field(default_factory=list)
    bad: int = 0
    sent: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.address, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.sock.close()

    def _send(self) -> None:
        seq = int.from_bytes(os.urandom(1), "big")  # far from a wrap: the ROC stays 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            payload = self.name + seq.to_bytes(4, "big") + bytes(160 - len(self.name) - 4)
            target = self.target
            if target:
                self.sock.sendto(self.seal(rtp_packet(self.ssrc, seq, payload)), target)
                self.sent.append(time.monotonic())
            seq += 1
            next_at += PACKET_INTERVAL
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except (TimeoutError, OSError):
                continue
            plain = self.unseal(data)
            if plain is None or plain[12:12 + len(self.peer)] != self.peer:
                self.bad += 1
                continue
            self.received.append(Received(time.monotonic(), int.from_bytes(plain[8:12], "big"),
                                          int.from_bytes(plain[2:4], "big")))

    def received_between(self, start: float, end: float) -> list[Received]:
        return [r for r in self.received if start <= r.at < end]


@dataclass
class Lab:
    nodes: dict[int, Node]
    ends: list[FarEnd] = field(default_factory=list)


@pytest.fixture
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="genweb-failover-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        rtp_ports = free_port_range(20)
        started = Lab({number: Node(number, folder, rtp_ports) for number in (1, 2)})
        try:
            yield started
        finally:
            for end in started.ends:
                end.stop()
            for node in started.nodes.values():
                node.clean()


def set_up_call(node: Node, caller: FarEnd, callee: FarEnd) -> None:
    """Offer and answer through ``node``'s ng port; each far end gets the address it sends to.

    The private side offers plain RTP; rtpengine offers SDES to the public side (its key is the
    one the callee reads with); the callee answers with its own key (the one rtpengine reads with).
    """
    offer = ng_command(node.ng_port, {
        "command": "offer", "call-id": "failover-call", "from-tag": "genesis",
        "sdp": audio_sdp(caller.address, caller.port), "direction": ["priv", "pub"],
        "transport-protocol": "RTP/SAVP", "DTLS": "off",
        "replace": ["origin", "session-connection"]})
    assert offer["result"] == b"ok", offer
    offered = offer["sdp"].decode()
    tag, relay_key = sdes_key(offered)
    callee_key = new_sdes_key()
    answer = ng_command(node.ng_port, {
        "command": "answer", "call-id": "failover-call", "from-tag": "genesis",
        "to-tag": "provider", "replace": ["origin", "session-connection"],
        "sdp": audio_sdp(callee.address, callee.port, "RTP/SAVP",
                         f"{tag} AES_CM_128_HMAC_SHA1_80 inline:{callee_key}")})
    assert answer["result"] == b"ok", answer
    answered = answer["sdp"].decode()
    assert "RTP/AVP" in answered and "a=crypto" not in answered  # the Genesis keeps plain RTP
    callee.seal, callee.unseal = Srtp(callee_key).protect, Srtp(relay_key).unprotect
    callee.target, caller.target = media_address(offered), media_address(answered)


def moved_to(node: Node, target: tuple[str, int] | None) -> tuple[str, int]:
    """The same port on ``node``'s address of the same side: where the floating address went."""
    assert target
    side = {address: index for other in NODE_ADDRESSES.values() for index, address in enumerate(other)}
    return NODE_ADDRESSES[node.number][side[target[0]]], target[1]


def plain(packet: bytes) -> bytes:
    return packet


def test_sdes_call_survives_the_loss_of_the_active_relay(lab: Lab) -> None:
    node1, node2 = lab.nodes[1], lab.nodes[2]
    node1.start_redis()
    node2.start_redis()
    # node2's redis follows node1's, as the redis agent makes it do on a replica node
    assert redis_cli(node2.redis_port, "REPLICAOF", "127.0.0.1", str(node1.redis_port)) == "OK"
    assert node1.agent("start") == OCF_SUCCESS and node1.agent("promote") == OCF_SUCCESS
    assert node2.agent("start") == OCF_SUCCESS  # waits for its redis to be in sync
    assert node1.agent("monitor") == OCF_RUNNING_PROMOTED and node2.agent("monitor") == OCF_SUCCESS

    caller = FarEnd(b"genesis", CALLER, plain, plain, peer=b"provider")
    callee = FarEnd(b"provider", CALLEE, plain, plain, peer=b"genesis")
    lab.ends += [caller, callee]
    set_up_call(node1, caller, callee)
    # node2 holds the call, foreign, on the same ports: replica -> keyspace notification
    wait_for(lambda: node2.sessions("foreign") == ["failover-call"], what="node2 to hold the call")
    assert node2.sessions("own") == []
    ports = sorted(re.findall(r"Port\s+\S+:(\d+) ", node1.session("failover-call")))
    assert ports and sorted(re.findall(r"Port\s+\S+:(\d+) ", node2.session("failover-call"))) == ports

    caller.start()
    callee.start()
    time.sleep(2)
    before = time.monotonic()
    assert len(callee.received) > 60 and len(caller.received) > 60, "no media through node1"
    ssrcs = {callee.received[-1].ssrc, caller.received[-1].ssrc}
    assert ssrcs == {caller.ssrc, callee.ssrc}

    node1.crash()
    assert redis_cli(node2.redis_port, "REPLICAOF", "NO", "ONE") == "OK"
    assert node2.agent("promote") == OCF_SUCCESS
    # The floating addresses arrive on node2.
    caller.target, callee.target = moved_to(node2, caller.target), moved_to(node2, callee.target)
    promoted = time.monotonic()
    assert node2.agent("monitor") == OCF_RUNNING_PROMOTED
    assert node2.sessions("own") == ["failover-call"] and node2.sessions("foreign") == []
    assert node2.foreign_state.read_text().splitlines()[1:] == ["failover-call"]

    time.sleep(3)
    after = time.monotonic()
    for end in (caller, callee):
        through_node2 = end.received_between(promoted + 0.2, after)
        # 50 packets a second: at least 80% of them after the switch, all from the same stream
        assert len(through_node2) >= 0.8 * (after - promoted - 0.2) / PACKET_INTERVAL, end.name
        assert {r.ssrc for r in through_node2} == {r.ssrc for r in end.received_between(0, before)}
    assert caller.bad == 0 and callee.bad == 0  # every SRTP packet authenticated and decrypted
    assert {callee.received[-1].ssrc, caller.received[-1].ssrc} == ssrcs

    # foreign-timeout: node2 ends the call it took over, whatever its media does
    deadline = promoted + FOREIGN_TIMEOUT
    wait_for(lambda: node2.sessions("all") == [], timeout=deadline - time.monotonic() + 5,
             what="foreign-timeout to end the call")
    ended = time.monotonic()
    assert ended >= deadline - 1.5, "ended before foreign-timeout"
    assert "failover-call" not in redis_cli(node2.redis_port, "-n", str(media.REDIS_DB), "KEYS", "*")
    time.sleep(0.5)
    count = len(callee.received) + len(caller.received)
    time.sleep(1)
    assert len(callee.received) + len(caller.received) == count, "media still relayed"
