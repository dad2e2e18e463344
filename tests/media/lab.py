"""The media lab: the rendered rtpengine.conf and kamailio.cfg running side by side on loopback.

Builds on ``tests/sip/harness.py`` (sipp agents, the proxy with its own database) and
``tests/render/media_helpers.py`` (free ports, processes stopped by PID). What it adds:

- ``MediaRtpengine``: rtpengine (userspace) from the rendered rtpengine.conf, with only the
  control ports and the redis port rewritten; a throw-away redis beside it.
- ``MediaProxy``: the harness proxy, plus what TLS and media need: the generated default key
  pair in a private folder (``/etc/ssl/genproxy_pvt``) and Kamailio's rtpengine socket pointed
  at the running rtpengine.
- ``TlsBridge``: Debian's sipp 3.6.1 has no TLS (``sipp -h`` lists no ``-t l1``), so a TLS leg is
  sipp over TCP through this relay: caller -> TCP -> bridge -> TLS -> Kamailio, and Kamailio ->
  TLS -> bridge -> TCP -> callee. Kamailio sees real TLS from the caller's own address.
- ``RtpPeer``: a UDP socket that sends and echoes RTP and records each packet's source and TOS.
- ``caller()`` / ``callee()``: sipp agents whose SDP (profile, attributes, media address) and
  extra header come from ``-key`` values (``scenarios/``); the callee answers in the profile it
  was offered, echoing an ``a=crypto`` line or answering DTLS with ``a=setup:active``.

Addresses: 127.0.0.1 / 127.0.0.2 are the proxy's private / public side (privateSubnet /28);
127.0.0.11-12 are Genesis systems, 127.0.0.120-129 providers. Every process is stopped by PID.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genweb.commit import media
from genweb.commit.secrets import MAKERS
from genweb.commit.snapshot import Snapshot
from genweb.kamailio import kamailio_files
from genweb.kamailio.rows import kamailio_rows
from tests.render.kamailio_helpers import MariaDB, free_port, wait_for
from tests.render.media_helpers import Process, rewrite, run
from tests.sip.harness import (
    DB_PASSWORD,
    NODES,
    PRIV,
    PRIVATE_SUBNET,
    PUB,
    Agents,
    Endpoint,
    Lab,
    Message,
    Proxy,
    Sipp,
    bound,
    load_rows,
    udp_port,
)

SCENARIOS = Path(__file__).parent / "scenarios"
GENESIS, GENESIS_2 = "127.0.0.11", "127.0.0.12"
GENESIS_USER = "genesis_a-1"
PROVIDER_UDP, PROVIDER_TCP, PROVIDER_TLS = "127.0.0.120", "127.0.0.121", "127.0.0.122"
PROVIDER_CALLER = "127.0.0.125"  # a provider calling in (allowList)
TOS = 104  # not the default (184): the packets' TOS byte shows it is the operator's value
TIMEOUT = 3  # seconds; small, so that an idle session's removal can be watched
GENERATED = {name: make() for name, make in MAKERS.items()}


# -- the snapshot ----------------------------------------------------------------------------


@dataclass
class MediaPorts:
    """Free SIP ports on both sides, UDP/TCP and TLS."""

    private: int = field(default_factory=free_port)
    public: int = field(default_factory=lambda: free_port(host=PUB))
    private_tls: int = field(default_factory=free_port)
    public_tls: int = field(default_factory=lambda: free_port(host=PUB))
    http: int = field(default_factory=lambda: free_port((socket.SOCK_STREAM,)))


def media_snapshot(ports: MediaPorts, proxy: Mapping[str, str] | None = None,
                   media_config: Mapping[str, str] | None = None,
                   rtp_ports: tuple[int, int] = (20000, 30000)) -> Snapshot:
    """As an operator would stage it: NAT and TLS on unless ``proxy`` says otherwise, a Genesis
    subscriber, a provider in allowList, TLS sections at their defaults (verification Off)."""
    settings = {
        "systemConfig": {"systemName": "mediatest", "privateIP": PRIV,
                         "privatePort": str(ports.private), "privatePortTLS": str(ports.private_tls),
                         "privateSubnet": PRIVATE_SUBNET, "privatePing": PRIV, "publicIP": PUB,
                         "publicPort": str(ports.public), "publicPortTLS": str(ports.public_tls),
                         "publicPing": PUB},
        "proxyConfig": {"enableNAT": "Yes", "enableTLS": "Yes", "allowList": PROVIDER_CALLER,
                        **(proxy or {})},
        "mediaConfig": {"tos": str(TOS), "rtpPortMin": str(rtp_ports[0]),
                        "rtpPortMax": str(rtp_ports[1]), "timeout": str(TIMEOUT),
                        **(media_config or {})},
        "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": DB_PASSWORD},
    }
    subscribers = [{"username": GENESIS_USER, "domain": PRIV, "password": ""}]
    return Snapshot.build(settings, {"haNodes": NODES, "subscribers": subscribers}, GENERATED)


# -- rtpengine --------------------------------------------------------------------------------


class MediaRtpengine:
    """rtpengine from the rendered rtpengine.conf (control and redis ports moved to free ones)
    and the redis it writes calls to."""

    def __init__(self, folder: Path, snap: Snapshot):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.snapshot = folder, snap
        self.rtp_ports = (int(snap.value("mediaConfig", "rtpPortMin")),
                          int(snap.value("mediaConfig", "rtpPortMax")))
        self.ng_port, self.cli_port, redis_port = free_port(), free_port(), free_port()
        password = GENERATED["rtpDbPass"]
        self.redis = Process(["redis-server", "--port", str(redis_port), "--bind", PRIV,
                              "--requirepass", password, "--save", "", "--appendonly", "no",
                              "--dir", str(folder)], folder / "redis.log")
        conf = media.rtpengine_conf(snap)
        self.rendered = conf
        self.conf = folder / "rtpengine.conf"
        self.conf.write_text(rewrite(conf, {
            "listen-ng": f"{PRIV}:{self.ng_port}", "listen-cli": f"{PRIV}:{self.cli_port}",
            "redis": f"{password}@{PRIV}:{redis_port}/1",
            "redis-write": f"{password}@{PRIV}:{redis_port}/1"}))
        self.process: Process | None = None

    def start(self) -> MediaRtpengine:
        self.process = Process(["rtpengine", f"--config-file={self.conf}", "--foreground",
                                "--log-stderr", f"--pidfile={self.folder / 'rtpengine.pid'}"],
                               self.folder / "rtpengine.log")
        wait_for(lambda: "Startup complete" in self.process.text()
                 or self.process.popen.poll() is not None, timeout=20, what="rtpengine")
        assert "Startup complete" in self.process.text(), self.process.text()
        return self

    def ctl(self, *command: str) -> str:
        return run(["rtpengine-ctl", "-ip", PRIV, "-port", str(self.cli_port), *command]).stdout

    def session(self, call_id: str) -> str:
        """``list sessions <call-id>``: the call's legs, ports and packet counters."""
        return run(["rtpengine-ctl", "-ip", PRIV, "-port", str(self.cli_port), "list",
                    "sessions", call_id], check=False).stdout

    def has_call(self, call_id: str) -> bool:
        listing = self.ctl("list", "sessions", "all")
        return call_id in re.findall(r"callid:\s*(\S+)", listing)

    def log(self) -> str:
        return self.process.text() if self.process else ""

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        self.redis.stop()


# -- Kamailio -----------------------------------------------------------------------------------


class MediaProxy(Proxy):
    """The harness proxy with the TLS key pair installed and rtpengine's control port set."""

    def __init__(self, snap: Snapshot, ports: MediaPorts, folder: Path, mariadb: MariaDB,
                 ng_port: int):
        super().__init__(snap, ports, folder, mariadb)  # type: ignore[arg-type]
        self.ng_port = ng_port

    @property
    def private_tls(self) -> str:
        return f"{PRIV}:{self.ports.private_tls}"  # type: ignore[attr-defined]

    @property
    def public_tls(self) -> str:
        return f"{PUB}:{self.ports.public_tls}"  # type: ignore[attr-defined]

    def prepare(self) -> MediaProxy:
        files = list(kamailio_files(self.snapshot, self.snapshot.nodes[0]))
        self.mariadb.create_kamailio_database(self.database, "amtelco", DB_PASSWORD)
        load_rows(self.mariadb, self.database, kamailio_rows(self.snapshot))
        etc, pvt = self.folder / "etc", self.folder / "pvt"
        pvt.mkdir(parents=True, exist_ok=True)
        for item in files:
            if item.path.startswith("/etc/ssl/"):
                (pvt / Path(item.path).name).write_text(item.content)
        # only paths and the rtpengine control port change
        self.kamailio.install([item for item in files if item.path.startswith("/etc/kamailio/")], {
            "/etc/kamailio/": f"{etc}/", "/etc/ssl/genproxy_pvt/": f"{pvt}/",
            f"udp:{media.NG_LISTEN}": f"udp:{PRIV}:{self.ng_port}",
            "@127.0.0.1/kamailio\"": f"@127.0.0.1:{self.mariadb.port}/{self.database}\""})
        self.kamailio.check()
        return self


def start_proxy(folder: Path, mariadb: MariaDB, rtpengine: MediaRtpengine, ports: MediaPorts,
                proxy: Mapping[str, str] | None = None,
                media_config: Mapping[str, str] | None = None) -> Lab:
    snap = media_snapshot(ports, proxy, media_config, rtpengine.rtp_ports)
    started = MediaProxy(snap, ports, folder / "kamailio", mariadb, rtpengine.ng_port)
    agents = Agents(folder / "sipp")
    try:
        started.start()
    except BaseException:
        started.stop()
        raise
    return Lab(started, agents)


def reload_lists(lab: Lab, media_config: Mapping[str, str]) -> None:
    """rtpList/dtlsList/sdesList changed, as a live commit does: new rows, then the reload."""
    proxy = lab.proxy
    snap = Snapshot.build({**proxy.snapshot.settings,
                           "mediaConfig": {**proxy.snapshot.settings["mediaConfig"],
                                           **media_config}},
                          {name: list(rows) for name, rows in proxy.snapshot.records.items()
                           if rows}, GENERATED)
    load_rows(proxy.mariadb, proxy.database, kamailio_rows(snap))
    proxy.snapshot = snap
    proxy.rpc("permissions.addressReload")


# -- TLS relay for sipp -------------------------------------------------------------------------


def tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client): the server presents a self-signed certificate made for the test; the
    client checks nothing (the proxy's default TLS sections verify nothing either)."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "provider.key", folder / "provider.crt"
    if not key.exists():
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=provider.test"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return server, client


class TlsBridge:
    """Relays each connection accepted on ``listen`` to ``target``: TLS on the side that has a
    context (``accept_tls`` for the listener, ``connect_tls`` for the outgoing connection).
    Outgoing connections leave from ``source`` (Kamailio tells Genesis by its address)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], *,
                 accept_tls: ssl.SSLContext | None = None,
                 connect_tls: ssl.SSLContext | None = None, source: str = ""):
        self.target, self.accept_tls, self.connect_tls = target, accept_tls, connect_tls
        self.source = source
        self.server = socket.create_server(listen)
        self.address = self.server.getsockname()
        self.stopped = False
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                plain, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(plain,), daemon=True).start()

    def _serve(self, accepted: socket.socket) -> None:
        try:
            inbound = (self.accept_tls.wrap_socket(accepted, server_side=True)
                       if self.accept_tls else accepted)
            outbound = socket.create_connection(self.target, timeout=5,
                                                source_address=(self.source, 0)
                                                if self.source else None)
            if self.connect_tls:
                outbound = self.connect_tls.wrap_socket(outbound)
        except OSError:
            accepted.close()
            return
        self.sockets += [inbound, outbound]
        self._pump(inbound, outbound)

    def _pump(self, first: socket.socket, second: socket.socket) -> None:
        # one thread per connection pair, as an SSL socket must not be read and written at once;
        # non-blocking reads, since a TLS record may carry no data (a TLS 1.3 session ticket)
        for sock in (first, second):
            sock.setblocking(False)
        while not self.stopped:
            try:
                ready, _, _ = select.select([first, second], [], [], 0.2)
                for sock in ready:
                    if not self._forward(sock, second if sock is first else first):
                        return
            except (OSError, ValueError):
                return

    @staticmethod
    def _forward(source: socket.socket, target: socket.socket) -> bool:
        """Whatever ``source`` has now, to ``target``; False once ``source`` is closed."""
        while True:
            try:
                data = source.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            if not data:
                return False
            target.setblocking(True)
            target.sendall(data)
            target.setblocking(False)
            if not (isinstance(source, ssl.SSLSocket) and source.pending()):
                return True

    def stop(self) -> None:
        self.stopped = True
        # close() alone leaves the socket listening while accept() blocks on it (Linux)
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for sock in self.sockets:
            sock.close()


# -- RTP ------------------------------------------------------------------------------------------


@dataclass
class Packet:
    seq: int
    source: tuple[str, int]
    tos: int


class RtpPeer:
    """One party's media socket: sends numbered RTP packets, echoes what it gets (when asked),
    and records each arrival's source and IP TOS byte."""

    def __init__(self, ip: str, echo: bool = False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.2)
        self.ip, self.port = self.sock.getsockname()
        self.echo, self.received, self.stopped = echo, [], False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while not self.stopped:
            try:
                data, ancillary, _, source = self.sock.recvmsg(2048, socket.CMSG_SPACE(1))
            except (TimeoutError, OSError):
                continue
            tos = next((item[2][0] for item in ancillary
                        if item[:2] == (socket.IPPROTO_IP, socket.IP_TOS)), -1)
            seq = struct.unpack("!H", data[2:4])[0] if len(data) >= 12 else -1
            self.received.append(Packet(seq, source, tos))
            if self.echo:
                self.sock.sendto(data, source)

    def send(self, target: tuple[str, int], count: int, interval: float = 0.02) -> None:
        """``count`` PCMU packets (20 ms each) to target."""
        ssrc = self.port
        for seq in range(count):
            header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc)
            self.sock.sendto(header + b"\xff" * 160, target)
            time.sleep(interval)

    def stop(self) -> None:
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


# -- SDP ----------------------------------------------------------------------------------------


@dataclass
class Sdp:
    """The parts of a (single audio stream) SDP body the tests look at."""

    text: str

    @property
    def connection(self) -> str:
        found = re.search(r"^c=IN IP4 (\S+)", self.text, re.MULTILINE)
        return found.group(1) if found else ""

    @property
    def port(self) -> int:
        found = re.search(r"^m=audio (\d+) ", self.text, re.MULTILINE)
        return int(found.group(1)) if found else 0

    @property
    def profile(self) -> str:
        found = re.search(r"^m=audio \d+ (\S+)", self.text, re.MULTILINE)
        return found.group(1) if found else ""

    def attributes(self, name: str) -> list[str]:
        return re.findall(rf"^a={re.escape(name)}:?(.*)$", self.text, re.MULTILINE)

    @property
    def crypto(self) -> list[str]:
        return self.attributes("crypto")

    @property
    def fingerprint(self) -> list[str]:
        return self.attributes("fingerprint")


def sdp_of(message: Message) -> Sdp:
    return Sdp(message.text.split("\n\n", 1)[1] if "\n\n" in message.text else "")


# -- sipp agents ----------------------------------------------------------------------------------


def tcp_bound(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def callee(agents: Agents, ip: str, rtp: tuple[str, int], transport: str = "udp",
           port: int = 0, contact: str = "") -> Sipp:
    """A called party (a provider, or a Genesis system) answering in the profile offered, its
    media at ``rtp``; running until the lab stops. ``contact``: where its dialog is reached, when
    not at its own socket (behind a TLS bridge)."""
    port = port or (free_port(host=ip) if transport == "tcp" else udp_port(ip))
    args = ["-aa", *(["-t", "t1"] if transport == "tcp" else [])]
    agent = agents.sipp(str(SCENARIOS / "callee.xml"), ip, args=args, port=port,
                        keys={"rtp_ip": rtp[0], "rtp_port": str(rtp[1]),
                              "contact": contact or f"sip:{ip}:{port};transport={transport}"})
    agent.start()
    check = tcp_bound if transport == "tcp" else bound
    wait_for(lambda: not agent.alive() or check(ip, agent.port), what="sipp callee")
    assert agent.alive(), agent.describe()
    return agent


def genesis(lab: Lab, ip: str, user: str, rtp: tuple[str, int]) -> Endpoint:
    """A Genesis system: its called party, registered as ``user`` (so the proxy knows it)."""
    item = Endpoint(lab.agents, ip, user)
    item.uas = callee(lab.agents, ip, rtp)
    item.register(lab.proxy)
    wait_for(lambda: item.uri in lab.proxy.destinations(), what=f"{item.uri} in the dispatcher")
    lab.endpoints[user] = item
    return item


@dataclass
class Call:
    caller: Sipp
    callee: Sipp

    @property
    def call_id(self) -> str:
        sent = self.caller.sent("INVITE")
        assert sent, self.caller.describe()
        return sent[0].header("Call-ID") or ""

    def far_invite(self) -> Message:
        """The INVITE the far end received for this call."""
        call_id = self.call_id
        found = [item for item in self.callee.received("INVITE")
                 if item.header("Call-ID") == call_id]
        assert found, f"no INVITE reached the callee\n{self.caller.describe()}"
        return found[-1]

    def far_sdp(self) -> Sdp:
        return sdp_of(self.far_invite())

    def answer_sdp(self) -> Sdp:
        """The SDP of the 200 the caller received."""
        found = [item for item in self.caller.responses() if item.code == 200
                 and "INVITE" in (item.header("CSeq") or "")]
        assert found, self.caller.describe()
        return sdp_of(found[-1])


def caller(agents: Agents, ip: str, target: str, ruri: str, *, profile: str = "RTP/AVP",
           attributes: Sequence[str] = (), header: str = "", rtp: tuple[str, int] = ("", 0),
           transport: str = "udp", via: str = "", pause_ms: int = 100) -> Sipp:
    """A caller at ``ip`` sending its INVITE to ``target`` (the proxy, or a TLS bridge)."""
    extra = [*attributes, "a=sendrecv", "a=ptime:20"][:2]
    keys = {"ruri": ruri, "profile": profile, "attr1": extra[0], "attr2": extra[1],
            "hdr": header or "Subject: media test", "rtp_ip": rtp[0] or ip,
            "rtp_port": str(rtp[1] or 40000), "vt": via or transport.upper()}
    args = ["-m", "1", "-d", str(pause_ms), "-recv_timeout", "8000", "-max_retrans", "3",
            *(["-t", "t1"] if transport != "udp" else [])]
    return agents.sipp(str(SCENARIOS / "caller.xml"), ip, target=target, keys=keys, args=args)
