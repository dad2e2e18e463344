"""SIP test harness: the rendered Kamailio on loopback, sipp agents around it, a notification
receiver.

Builds on ``tests/render/kamailio_helpers.py`` (MariaDB, Kamailio, Daemon, free ports). What it
adds:

- ``Proxy``: a snapshot rendered by genweb (kamailio.cfg, http_client.cfg, the database rows),
  written into its own database of the session's MariaDB, checked and started. The private side
  is 127.0.0.1, the public side 127.0.0.2, both on free ports; ``privateSubnet`` is /28, so
  127.0.0.0-15 (the Genesis systems, the second cluster node) is the private network and every
  other loopback address (phones, providers, scanners) is on the public side.
- ``Sipp``: one sipp process with its message trace and statistics, run to completion (a caller,
  a registration, a probe) or kept running (a called party, a registrar), stopped by its PID.
- ``Endpoint``: a Genesis system, a phone or a provider: a called-party sipp that also answers
  OPTIONS and INFO (``-aa``), plus REGISTERs sent from the same address naming its port.
- ``NotifyServer``: an HTTP server on 127.0.0.1 that records what arrives, with Basic or Digest
  authentication and redirects per path.

Every process is started in its own session and stopped by its PID (process group); every
address is in 127.0.0.0/8; every load is bounded in count and time.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from genweb.commit.snapshot import Snapshot
from genweb.kamailio import kamailio_files, reload_commands
from genweb.kamailio.rows import kamailio_rows
from tests.render.kamailio_helpers import (
    Daemon,
    Kamailio,
    MariaDB,
    free_port,
    problems,
    sql_literal,
    wait_for,
)

SCENARIOS = Path(__file__).parent / "scenarios"
PRIV, PUB = "127.0.0.1", "127.0.0.2"
NODE2 = "127.0.0.3"  # the second cluster node's private address (allowList by 7.1.12)
PRIVATE_SUBNET = "255.255.255.240"  # 127.0.0.0/28: dot-decimal, as an operator may write it
DB_PASSWORD = "sip-harness-pw"
NODES = [{"nodeID": "1", "nodeName": "node1", "privateIP": PRIV, "publicIP": PUB},
         {"nodeID": "2", "nodeName": "node2", "privateIP": NODE2}]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP/HTTP digest is MD5


def udp_port(host: str = PRIV) -> int:
    return free_port((socket.SOCK_DGRAM,), host)


def bound(host: str, port: int) -> bool:
    """Whether something listens on UDP host:port already."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def media_ports(host: str) -> int:
    """An even port P with P..P+3 free for UDP on host: sipp binds its RTP echo sockets there."""
    for _ in range(200):
        base = udp_port(host) & ~1
        try:
            probes = []
            for offset in range(4):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind((host, base + offset))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return base
    raise RuntimeError("no free media ports")


# -- sipp -------------------------------------------------------------------------------------


@dataclass
class Message:
    """One SIP message from a sipp message trace."""

    time: float
    sent: bool
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def code(self) -> int:
        parts = self.first_line.split(" ", 2)
        return int(parts[1]) if parts[0] == "SIP/2.0" else 0

    @property
    def method(self) -> str:
        return "" if self.code else self.first_line.split(" ", 1)[0]

    def headers(self, name: str) -> list[str]:
        head = self.text.split("\n\n", 1)[0]
        found = []
        for line in head.splitlines()[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                found.append(value.strip())
        return found

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return values[0] if values else None


_TRACE_SPLIT = re.compile(r"^-{47} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n", re.MULTILINE)


def read_trace(path: Path) -> list[Message]:
    """sipp's -trace_msg file: '----- <date time>' then 'UDP message sent|received ...'."""
    if not path.exists():
        return []
    text = path.read_text(errors="replace").replace("\r\n", "\n")
    parts = _TRACE_SPLIT.split(text)
    messages = []
    for stamp, body in zip(parts[1::2], parts[2::2], strict=True):
        kind, _, message = body.partition("\n\n")
        if "message" not in kind:
            continue
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        messages.append(Message(when, "sent" in kind, message.strip("\n") + "\n"))
    return messages


class Sipp:
    """One sipp process: ``run()`` to completion (a caller, a registration, a probe) or
    ``start()`` to keep it running (a called party, a registrar)."""

    DEFAULT_KEYS = {"ua": "sip-harness", "from_user": "caller", "from_domain": PRIV,
                    "domain": PRIV, "expires": "600", "realm": "provider", "user": "user",
                    "password": "password", "contact_port": "5060"}

    def __init__(self, folder: Path, name: str, scenario: str, ip: str, *, port: int = 0,
                 target: str = "", service: str = "s", keys: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), trace: bool = True):
        self.folder, self.name, self.ip = folder, name, ip
        self.port = port or udp_port(ip)
        self.trace = folder / f"{name}.msg"
        self.stat = folder / f"{name}.csv"
        self.daemon: Daemon | None = None
        keys = {**self.DEFAULT_KEYS, "ruri": f"sip:{service}@{target or PRIV}",
                "contact": f"sip:{service}@{ip}:{self.port}", **(keys or {})}
        key_args = [item for name, value in keys.items() for item in ("-key", name, value)]
        self.command = ["sipp", *([target] if target else []), "-sf", str(SCENARIOS / scenario),
                        "-s", service, "-i", ip, "-p", str(self.port),
                        "-cp", str(free_port((socket.SOCK_DGRAM,), "0.0.0.0")),
                        "-mi", ip, "-mp", str(media_ports(ip)), "-nostdin",
                        *(["-trace_msg", "-message_file", str(self.trace)] if trace else []),
                        "-trace_stat", "-stf", str(self.stat), "-fd", "1",
                        "-buff_size", "4194304", *key_args, *args]

    # -- lifecycle

    def start(self) -> Sipp:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.name}.cmd").write_text(" ".join(self.command) + "\n")
        self.daemon = Daemon(self.command, self.folder / f"{self.name}.log")
        return self

    def wait(self, timeout: float = 30) -> int:
        assert self.daemon, "not started"
        try:
            return self.daemon.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"sipp {self.name} still running after {timeout} s") from None

    def run(self, timeout: float = 30) -> Sipp:
        self.start()
        self.wait(timeout)
        return self

    @property
    def rc(self) -> int | None:
        return self.daemon.popen.poll() if self.daemon else None

    def alive(self) -> bool:
        return bool(self.daemon and self.daemon.alive())

    def pause(self) -> None:
        """SIGSTOP: the agent goes silent (a hung Genesis); resume() brings it back."""
        assert self.daemon and self.daemon.alive()
        os.kill(self.daemon.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.daemon and self.daemon.alive():
            os.kill(self.daemon.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.daemon:
            self.resume()
            self.daemon.stop()

    # -- what it saw

    def messages(self) -> list[Message]:
        return read_trace(self.trace)

    def received(self, method: str = "") -> list[Message]:
        """Requests received (of ``method`` if given)."""
        return [item for item in self.messages()
                if not item.sent and not item.code and (not method or item.method == method)]

    def sent(self, method: str = "") -> list[Message]:
        return [item for item in self.messages()
                if item.sent and not item.code and (not method or item.method == method)]

    def responses(self) -> list[Message]:
        return [item for item in self.messages() if not item.sent and item.code]

    def codes(self) -> list[int]:
        return [item.code for item in self.responses()]

    def stats(self) -> dict[str, str]:
        lines = self.stat.read_text().splitlines() if self.stat.exists() else []
        if len(lines) < 2:
            return {}
        return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))

    def counts(self) -> tuple[int, int]:
        """(successful, failed) calls, from the statistics file."""
        stats = self.stats()
        return int(stats.get("SuccessfulCall(C)", 0)), int(stats.get("FailedCall(C)", 0))

    def log(self) -> str:
        return self.daemon.text() if self.daemon else ""

    def describe(self) -> str:
        """For assertion messages: the command, its output and the last messages."""
        tail = "\n".join(f"{'>>' if item.sent else '<<'} {item.first_line}"
                         for item in self.messages()[-12:])
        return f"{' '.join(self.command)}\nrc={self.rc}\n{self.log()[-1500:]}\n{tail}"


class Agents:
    """The sipp processes of a test or a module, stopped together by PID."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: list[Sipp] = []
        self.count = 0

    def sipp(self, scenario: str, ip: str, **kwargs: object) -> Sipp:
        self.count += 1
        name = f"{self.count:03d}-{Path(scenario).stem}-{ip}"
        agent = Sipp(self.folder, name, scenario, ip, **kwargs)  # type: ignore[arg-type]
        self.running.append(agent)
        return agent

    def stop(self) -> None:
        for agent in reversed(self.running):
            agent.stop()
        self.running.clear()


# -- the proxy ---------------------------------------------------------------------------------


@dataclass
class Ports:
    private: int = field(default_factory=free_port)
    public: int = field(default_factory=lambda: free_port(host=PUB))
    http: int = field(default_factory=lambda: free_port((socket.SOCK_STREAM,)))


def snapshot(ports: Ports, proxy: Mapping[str, str] | None = None,
             records: Mapping[str, list[Mapping[str, str]]] | None = None,
             system: Mapping[str, str] | None = None) -> Snapshot:
    """A snapshot as an operator would stage it: both sides, two cluster nodes, MySQL."""
    settings = {
        "systemConfig": {"systemName": "siptest", "privateIP": PRIV,
                         "privatePort": str(ports.private), "privateSubnet": PRIVATE_SUBNET,
                         "privatePing": PRIV, "publicIP": PUB, "publicPort": str(ports.public),
                         "publicPing": PUB, **(system or {})},
        "proxyConfig": dict(proxy or {}),
        "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": DB_PASSWORD},
    }
    return Snapshot.build(settings, {"haNodes": NODES, **(records or {})})


_databases = iter(range(1, 10000))


def load_rows(mariadb: MariaDB, database: str,
              tables: Mapping[str, Iterable[Mapping[str, object]]]) -> None:
    """Replace each table's rows, as the commit does; the SQL goes through stdin (a thousand
    subscribers do not fit on a command line)."""
    statements = []
    for table, rows in tables.items():
        statements.append(f"DELETE FROM `{table}`;")
        for row in rows:
            columns = ", ".join(f"`{column}`" for column in row)
            values = ", ".join(sql_literal(value) for value in row.values())
            statements.append(f"INSERT INTO `{table}` ({columns}) VALUES ({values});")
    result = subprocess.run(["mariadb", "--no-defaults", f"--socket={mariadb.socket_path}",
                             "-uroot", database], input="\n".join(statements), text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


class ProxyKamailio(Kamailio):
    """Kamailio whose start tolerates the log lines a scenario provokes on purpose (a provider
    refusing a registration logs an ERROR from uac as soon as the proxy starts)."""

    expected: re.Pattern[str] | None = None

    def start(self, settle: float = 0.3) -> ProxyKamailio:
        try:
            super().start(settle)
        except AssertionError:
            if not (self.daemon and self.daemon.alive() and self.expected):
                raise
            unexpected = [line for line in problems(self.daemon.text())
                          if not self.expected.search(line)]
            assert not unexpected, self.daemon.text()
        return self


class Proxy:
    """The rendered Kamailio with its own database, on 127.0.0.1 / 127.0.0.2."""

    def __init__(self, snap: Snapshot, ports: Ports, folder: Path, mariadb: MariaDB):
        self.snapshot, self.ports, self.folder, self.mariadb = snap, ports, folder, mariadb
        self.database = f"sip{os.getpid()}_{next(_databases)}"
        self.kamailio = ProxyKamailio(folder)
        self.started = 0.0

    @property
    def private(self) -> str:
        return f"{PRIV}:{self.ports.private}"

    @property
    def public(self) -> str:
        return f"{PUB}:{self.ports.public}"

    @property
    def http(self) -> str:
        return f"http://{PRIV}:{self.ports.http}"

    def start(self) -> Proxy:
        self.prepare()
        self.started = time.time()
        self.kamailio.start()
        return self

    def prepare(self) -> Proxy:
        """Render, fill the database, install and check; not started."""
        files = [item for item in kamailio_files(self.snapshot, self.snapshot.nodes[0])
                 if item.path.startswith("/etc/kamailio/")]
        self.mariadb.create_kamailio_database(self.database, "amtelco", DB_PASSWORD)
        load_rows(self.mariadb, self.database, kamailio_rows(self.snapshot))
        etc = self.folder / "etc"
        # only paths change: /etc/kamailio into the folder, the database URL to this database
        self.kamailio.install(files, {
            "/etc/kamailio/": f"{etc}/",
            "@127.0.0.1/kamailio\"": f"@127.0.0.1:{self.mariadb.port}/{self.database}\""})
        self.kamailio.check()
        return self

    def stop(self) -> None:
        self.kamailio.stop()

    # -- control and inspection

    def rpc(self, *command: str) -> str:
        return self.kamailio.rpc(*command)

    def sql(self, query: str) -> list[list[str]]:
        return self.mariadb.rows(query, self.database)

    def log(self) -> str:
        return self.kamailio.log()

    def expect_errors(self, pattern: str) -> None:
        """Log lines matching pattern are what the scenario provokes: not problems."""
        self.kamailio.expected = re.compile(pattern)

    def problems(self) -> list[str]:
        expected = self.kamailio.expected
        return [line for line in problems(self.log())
                if not (expected and expected.search(line))]

    def destinations(self) -> dict[str, tuple[int, str]]:
        """dispatcher.list: destination URI -> (set, flags), e.g. 'AP' active, 'IP' inactive."""
        found: dict[str, tuple[int, str]] = {}
        setid = -1
        for line in self.rpc("dispatcher.list").splitlines():
            line = line.strip()
            if line.startswith("ID:"):
                setid = int(line.split(":", 1)[1])
            elif line.startswith("URI:"):
                uri = line.split(":", 1)[1].strip()
            elif line.startswith("FLAGS:"):
                found[uri] = (setid, line.split(":", 1)[1].strip())
        return found

    def primary_set(self) -> int:
        rows = self.sql("SELECT key_value FROM htable WHERE key_name='primary'")
        return int(rows[0][0]) if rows else 1

    def apply(self, new: Snapshot, changed: Iterable[tuple[str, str | None]]) -> list[str]:
        """What a live commit does: replace the rows, then the RPCs live.py names."""
        commands = reload_commands(new, changed)
        assert commands is not None, f"{changed} needs a restart"
        load_rows(self.mariadb, self.database, kamailio_rows(new))
        self.snapshot = new
        return [self.rpc(*command) for command in commands]


# -- endpoints ----------------------------------------------------------------------------------


class Endpoint:
    """A Genesis system, a phone or a provider at ``ip``: a called party that answers INVITEs
    (and OPTIONS/INFO queries), registering as ``user`` when asked."""

    def __init__(self, agents: Agents, ip: str, user: str = "", password: str = "",
                 domain: str = PRIV):
        self.agents, self.ip, self.user, self.password, self.domain = (agents, ip, user,
                                                                      password, domain)
        self.uas = agents.sipp("uas.xml", ip, args=["-aa"])
        self.registrations: list[Sipp] = []

    @property
    def port(self) -> int:
        return self.uas.port

    @property
    def uri(self) -> str:
        """The destination the proxy's dispatcher keeps for it."""
        return f"sip:{self.ip}:{self.port}"

    def start(self) -> Endpoint:
        self.uas.start()
        wait_for(lambda: not self.uas.alive() or bound(self.ip, self.port), what="sipp uas")
        assert self.uas.alive(), self.uas.describe()
        return self

    def register(self, proxy: Proxy, expires: int = 600, password: str | None = None,
                 auth_user: str = "", check: bool = True) -> Sipp:
        password = self.password if password is None else password
        scenario = "register_auth.xml" if password else "register.xml"
        args = ["-m", "1", "-recv_timeout", "3000"]
        if password:
            args += ["-au", auth_user or self.user, "-ap", password]
        reg = self.agents.sipp(scenario, self.ip, target=proxy.private, service=self.user,
                               keys={"contact_port": str(self.port), "expires": str(expires),
                                     "domain": self.domain}, args=args).run()
        self.registrations.append(reg)
        if check:
            assert reg.rc == 0, reg.describe()
        return reg

    def invites(self) -> list[Message]:
        return self.uas.received("INVITE")

    def silence(self) -> None:
        self.uas.pause()

    def recover(self) -> None:
        self.uas.resume()

    def stop(self) -> None:
        self.uas.stop()


def call(agents: Agents, proxy: Proxy, ip: str, ruri: str, *, count: int = 1,
         rate: float = 10, target: str = "", auth: tuple[str, str] | None = None,
         from_user: str = "caller", from_domain: str = PRIV, contact: str = "",
         duration_ms: int = 100, recv_timeout_ms: int = 6000, timeout: float = 60) -> Sipp:
    """``count`` calls from ip to ``ruri`` through the proxy (its public side unless target);
    INVITE-200-ACK-BYE, or with auth the 407 round first."""
    keys = {"ruri": ruri, "from_user": from_user, "from_domain": from_domain,
            **({"contact": contact} if contact else {})}
    args = ["-m", str(count), "-r", str(rate), "-rp", "1000", "-d", str(duration_ms),
            "-recv_timeout", str(recv_timeout_ms), "-max_retrans", "3"]
    if auth:
        args += ["-au", auth[0], "-ap", auth[1]]
    agent = agents.sipp("uac_auth.xml" if auth else "uac.xml", ip, target=target or proxy.public,
                        keys=keys, args=args)
    return agent.run(timeout)


def probe(agents: Agents, proxy: Proxy, ip: str, *, count: int = 1, rate: float = 10,
          port: int = 0, timeout_ms: int = 1000, target: str = "", start: bool = False) -> Sipp:
    """REGISTER for no subscriber: 403 unless the proxy drops the source. ``start`` returns
    the running agent (``wait()`` for it) instead of running it to the end."""
    agent = agents.sipp("probe.xml", ip, port=port, target=target or proxy.public,
                        args=["-m", str(count), "-r", str(rate), "-rp", "1000",
                              "-recv_timeout", str(timeout_ms)])
    return agent.start() if start else agent.run(timeout=count / rate + timeout_ms / 1000 + 20)


def options(agents: Agents, proxy: Proxy, ip: str, *, ua: str = "Yealink SIP-T46S",
            target: str = "", ruri: str = "", timeout_ms: int = 1000,
            start: bool = False) -> Sipp:
    """One OPTIONS for the proxy itself (or ruri)."""
    target = target or proxy.private
    agent = agents.sipp("options.xml", ip, target=target,
                        keys={"ua": ua, "ruri": ruri or f"sip:{target}"},
                        args=["-m", "1", "-recv_timeout", str(timeout_ms)])
    return agent.start() if start else agent.run(timeout=timeout_ms / 1000 + 20)


def finish(*running: Sipp, timeout: float = 30) -> None:
    """Wait for agents started together."""
    deadline = time.monotonic() + timeout
    for agent in running:
        agent.wait(max(1.0, deadline - time.monotonic()))


def answered(agent: Sipp) -> bool:
    """Whether any answer at all reached the agent."""
    return bool(agent.responses())


# -- notifications ------------------------------------------------------------------------------


@dataclass
class Notice:
    path: str
    method: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class NotifyServer:
    """An HTTP receiver on 127.0.0.1. Paths: /basic/... asks for Basic, /digest/... for Digest
    (both user ``USER`` / ``PASSWORD``), /redirect/... answers 307 and /found/... 302 to
    /moved/..., anything else
    is accepted as is. Every request that gets through is recorded (and 401/307 ones too in
    ``attempts``)."""

    USER, PASSWORD, REALM = "proxy", 'n"p;w=#x', "events"

    def __init__(self) -> None:
        self.received: list[Notice] = []
        self.attempts: list[Notice] = []
        self.nonces: set[str] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.handle_any()

            def do_GET(self) -> None:  # noqa: N802
                self.handle_any()

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                notice = Notice(self.path, self.command, dict(self.headers.items()),
                                self.rfile.read(length))
                server.attempts.append(notice)
                status, headers = server.decide(notice)
                if status == 204:
                    server.received.append(notice)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port((socket.SOCK_STREAM,))
        self.httpd = http.server.ThreadingHTTPServer((PRIV, self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{PRIV}:{self.port}{path}"

    def decide(self, notice: Notice) -> tuple[int, dict[str, str]]:
        auth = notice.headers.get("Authorization", "")
        if notice.path.startswith("/basic"):
            token = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
            if auth != f"Basic {token}":
                return 401, {"WWW-Authenticate": f'Basic realm="{self.REALM}"'}
        elif notice.path.startswith("/digest"):
            if not self.digest_ok(notice.method, auth):
                nonce = secrets.token_hex(8)
                self.nonces.add(nonce)
                return 401, {"WWW-Authenticate": f'Digest realm="{self.REALM}", '
                                                 f'nonce="{nonce}", qop="auth", algorithm=MD5'}
        elif notice.path.startswith("/redirect"):
            return 307, {"Location": notice.path.replace("/redirect", "/moved", 1)}
        elif notice.path.startswith("/found"):
            return 302, {"Location": notice.path.replace("/found", "/moved", 1)}
        return 204, {}

    def digest_ok(self, method: str, header: str) -> bool:
        if not header.startswith("Digest "):
            return False
        params = {key: quoted or bare for key, quoted, bare
                  in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])}
        if params.get("username") != self.USER or params.get("nonce") not in self.nonces:
            return False
        ha1 = md5(f"{self.USER}:{self.REALM}:{self.PASSWORD}")
        ha2 = md5(f"{method}:{params.get('uri', '')}")
        if params.get("qop"):
            expected = md5(f"{ha1}:{params['nonce']}:{params.get('nc')}:{params.get('cnonce')}:"
                           f"{params['qop']}:{ha2}")
        else:
            expected = md5(f"{ha1}:{params['nonce']}:{ha2}")
        return params.get("response") == expected

    def events(self, path_prefix: str, event: str = "") -> list[dict]:
        return [item.event for item in self.received if item.path.startswith(path_prefix)
                and (not event or item.event.get("event") == event)]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- a proxy and its agents for one test module --------------------------------------------------


@dataclass
class Lab:
    """A started proxy and the agents around it, all stopped by ``stop()``."""

    proxy: Proxy
    agents: Agents
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def endpoint(self, name: str, ip: str, user: str = "", password: str = "",
                 register: bool = True) -> Endpoint:
        item = Endpoint(self.agents, ip, user, password).start()
        self.endpoints[name] = item
        if user and register:
            item.register(self.proxy)
        return item

    def stop(self) -> None:
        self.agents.stop()
        self.proxy.stop()


def start_lab(folder: Path, mariadb: MariaDB, proxy: Mapping[str, str] | None = None,
              records: Mapping[str, list[Mapping[str, str]]] | None = None,
              ports: Ports | None = None, agents: Agents | None = None,
              expected_errors: str = "") -> Lab:
    """Render and start a proxy; ``agents`` already started (a registrar the proxy registers
    with at start) join the lab and stop with it."""
    ports = ports or Ports()
    agents = agents or Agents(folder / "sipp")
    started = Proxy(snapshot(ports, proxy, records), ports, folder / "kamailio", mariadb)
    if expected_errors:
        started.expect_errors(expected_errors)
    try:
        started.start()
    except BaseException:
        agents.stop()
        started.stop()
        raise
    return Lab(started, agents)


def registrar(agents: Agents, ip: str, scenario: str = "registrar.xml", user: str = "",
              password: str = "", realm: str = "provider", expires: int = 300) -> Sipp:
    """A provider's registrar (scenarios registrar*.xml), running; its port is free now."""
    agent = agents.sipp(scenario, ip, keys={"user": user or "user",
                                             "password": password or "password",
                                             "realm": realm, "expires": str(expires)})
    agent.start()
    wait_for(lambda: not agent.alive() or bound(ip, agent.port), what="sipp registrar")
    assert agent.alive(), agent.describe()
    return agent


def genesis_subscribers(*users: str, password: str = "") -> list[dict[str, str]]:
    return [{"username": user, "domain": PRIV, "password": password} for user in users]


def invite_counts(lab: Lab, *names: str) -> dict[str, int]:
    return {name: len(lab.endpoints[name].invites()) for name in names}


def calls_reach(lab: Lab, source: str, count: int, *names: str, rate: float = 5) -> dict[str, int]:
    """Place ``count`` calls from source to the proxy's public address (rule 3: to Genesis);
    every call must succeed. Returns how many INVITEs each named endpoint got."""
    before = invite_counts(lab, *names)
    caller = call(lab.agents, lab.proxy, source, f"sip:5551234@{lab.proxy.public}",
                  count=count, rate=rate)
    assert caller.counts() == (count, 0), caller.describe()
    after = invite_counts(lab, *names)
    return {name: after[name] - before[name] for name in names}


def wait_flags(proxy: Proxy, uri: str, state: str, timeout: float) -> float:
    """Seconds until the dispatcher shows ``uri`` with flags starting ``state`` ('A'/'I')."""
    start = time.monotonic()
    wait_for(lambda: proxy.destinations().get(uri, (0, ""))[1].startswith(state),
             timeout=timeout, what=f"{uri} to become {state}: {proxy.destinations()}")
    return time.monotonic() - start


def uac_records(proxy: Proxy) -> dict[str, dict[str, str]]:
    """uac.reg_dump by l_uuid: expires, flags (1 disabled, 2 ongoing, 4 online, 8 auth sent,
    16 initialised), diff_expires (seconds to the next attempt), reg_delay ..."""
    return parse_reg_dump(proxy.rpc("uac.reg_dump"))


def parse_reg_dump(text: str) -> dict[str, dict[str, str]]:
    """kamcmd's uac.reg_dump output, by l_uuid."""
    records: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(": ")
        if not sep:
            continue
        if key == "l_uuid":
            current = records.setdefault(value, {})
        current[key] = value
    return records
