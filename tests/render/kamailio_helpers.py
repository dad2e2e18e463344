"""Engine-test helpers for Kamailio (and anyone who needs them): a throw-away MariaDB with the
Kamailio schema, an ODBC DSN onto it, Kamailio started from rendered files, a tiny SIP client.

Everything runs on 127.0.0.0/8 with ports the kernel says are free, in folders under pytest's
tmp_path; every process started here is stopped by its own PID (process group).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

KAMAILIO_SCHEMA_DIR = Path("/usr/share/kamailio/mysql")
KAMAILIO_SCHEMA_MODULES = ("standard", "auth_db", "registrar", "usrloc", "permissions",
                           "dispatcher", "uac", "htable")
MARIADB_ODBC_DRIVER = "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so"


def free_port(kinds: Iterable[int] = (socket.SOCK_STREAM, socket.SOCK_DGRAM),
              host: str = "127.0.0.1") -> int:
    """A port free for every kind on host (SIP binds UDP and TCP on the same port)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as other:
                    other.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def run(command: Sequence[str], env: Mapping[str, str] | None = None,
        check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout,
                            env=None if env is None else {**os.environ, **env})
    if check and result.returncode:
        raise AssertionError(f"{command[0]} exited {result.returncode}: "
                             f"{result.stderr}{result.stdout}")
    return result


class Daemon:
    """A process in its own session, output to a log, stopped by its PID's process group."""

    def __init__(self, command: Sequence[str], log: Path, env: Mapping[str, str] | None = None):
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(list(command), stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                      env=None if env is None else {**os.environ, **env})

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        # The group is the one this Popen created (start_new_session): our process and its
        # own children only.
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._out.close()


# -- MariaDB ---------------------------------------------------------------------------------


@dataclass
class MariaDB:
    """A server in ``folder`` on 127.0.0.1 and a unix socket; root has no password."""

    folder: Path
    port: int = 0
    daemon: Daemon | None = None

    @property
    def socket_path(self) -> Path:
        return self.folder / "mysqld.sock"

    def start(self) -> MariaDB:
        data = self.folder / "data"
        run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"])
        self.port = free_port((socket.SOCK_STREAM,))
        self.daemon = Daemon(["mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
                              f"--socket={self.socket_path}", f"--port={self.port}",
                              "--bind-address=127.0.0.1", "--skip-name-resolve",
                              "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                              f"--pid-file={self.folder / 'mysqld.pid'}",
                              f"--log-error={self.folder / 'error.log'}"],
                             self.folder / "stdout.log")
        wait_for(lambda: self.socket_path.exists() and self.sql("SELECT 1", check=False)
                 .returncode == 0, timeout=30, what="mariadbd")
        return self

    def sql(self, query: str, database: str = "", check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return run(["mariadb", "--no-defaults", f"--socket={self.socket_path}", "-uroot", "-N",
                    "-B", *([database] if database else []), "-e", query], check=check)

    def rows(self, query: str, database: str) -> list[list[str]]:
        out = self.sql(query, database).stdout
        return [line.split("\t") for line in out.splitlines()]

    def create_kamailio_database(self, name: str, user: str, password: str) -> None:
        """The Kamailio tables (5.6 schema files) and a read/write user on 127.0.0.1."""
        self.sql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")
        for module in KAMAILIO_SCHEMA_MODULES:
            script = (KAMAILIO_SCHEMA_DIR / f"{module}-create.sql").read_text()
            self.sql(script, name)
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        for host in ("127.0.0.1", "localhost"):
            self.sql(f"CREATE OR REPLACE USER '{user}'@'{host}' IDENTIFIED BY '{quoted}';"
                     f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'")

    def insert_rows(self, database: str, tables: Mapping[str, Iterable[Mapping[str, object]]]
                    ) -> None:
        """Replace each table's rows (what the commit does), values as SQL literals."""
        statements = []
        for table, rows in tables.items():
            statements.append(f"DELETE FROM `{table}`;")
            for row in rows:
                columns = ", ".join(f"`{column}`" for column in row)
                values = ", ".join(sql_literal(value) for value in row.values())
                statements.append(f"INSERT INTO `{table}` ({columns}) VALUES ({values});")
        if statements:
            self.sql("\n".join(statements), database)

    def stop(self) -> None:
        if self.daemon:
            self.daemon.stop()


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def odbc_environment(folder: Path, dsn: str, db: MariaDB, database: str) -> dict[str, str]:
    """unixODBC files naming ``dsn`` on MariaDB's driver (MS SQL's stand-in here), and the
    environment that points the driver manager at them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "odbcinst.ini").write_text(f"[MariaDB]\nDriver={MARIADB_ODBC_DRIVER}\n")
    # The session behaves like SQL Server where Kamailio's SQL meets it: "..." quotes
    # identifiers, and a backslash is an ordinary character in a string.
    (folder / "odbc.ini").write_text(
        f"[{dsn}]\nDriver=MariaDB\nServer=127.0.0.1\nPort={db.port}\nDatabase={database}\n"
        "InitStmt=SET SESSION sql_mode='ANSI_QUOTES,NO_BACKSLASH_ESCAPES'\n")
    return {"ODBCSYSINI": str(folder), "ODBCINI": str(folder / "odbc.ini")}


# -- Kamailio --------------------------------------------------------------------------------

# Lines that are not about the configuration: the machine's DNS, the missing SCTP module.
_HARMLESS = re.compile(r"rev\. resolve|sctp|openssl bug #1491|exited normally")


def problems(output: str) -> list[str]:
    """ERROR / CRITICAL lines: `kamailio -c` reports some of them with exit status 0."""
    return [line for line in output.splitlines()
            if re.search(r"\b(ERROR|CRITICAL|ALERT)\b", line) and not _HARMLESS.search(line)
            and "<script>" not in line]


@dataclass
class Kamailio:
    """Rendered files written under ``folder`` (with /etc paths moved there) and run."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    daemon: Daemon | None = None

    @property
    def cfg(self) -> Path:
        return self.folder / "etc" / "kamailio.cfg"

    @property
    def runtime(self) -> Path:
        return self.folder / "run"

    def install(self, files: Iterable[object], replace: Mapping[str, str]) -> None:
        """Write rendered File objects under folder/etc, /etc/... paths rewritten by
        ``replace`` (old -> new substrings) in every file's text."""
        (self.folder / "etc").mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(parents=True, exist_ok=True)
        for item in files:
            text = item.content
            for old, new in replace.items():
                text = text.replace(old, new)
            target = self.folder / "etc" / Path(item.path).name
            target.write_text(text)

    def check(self) -> str:
        result = run(["kamailio", "-c", "-f", str(self.cfg)], env=self.env, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0 and "config file ok" in output, output
        assert not problems(output), output
        return output

    def start(self, settle: float = 0.3) -> Kamailio:
        # 256 MB: OpenSSL loads CA bundles into Kamailio's shared memory (the cluster runs it
        # with more, see cluster.py)
        self.daemon = Daemon(["kamailio", "-DD", "-E", "-f", str(self.cfg), "-Y",
                              str(self.runtime), "-m", "256", "-M", "16"],
                             self.folder / "kamailio.log", env=self.env)
        # the RPC answers once every child is initialised; a failed init ends the process
        wait_for(lambda: not self.daemon.alive() or self._rpc_ok(), timeout=20,
                 what="kamailio to answer RPC")
        time.sleep(settle)
        assert self.daemon.alive(), self.daemon.text()
        assert not problems(self.daemon.text()), self.daemon.text()
        return self

    def _rpc_ok(self) -> bool:
        control = self.runtime / "kamailio_ctl"
        return control.exists() and run(["kamcmd", "-s", f"unix:{control}", "core.uptime"],
                                        check=False).returncode == 0

    def rpc(self, *command: str) -> str:
        return run(["kamcmd", "-s", f"unix:{self.runtime / 'kamailio_ctl'}", *command]).stdout

    def log(self) -> str:
        return self.daemon.text() if self.daemon else ""

    def stop(self) -> None:
        if self.daemon:
            self.daemon.stop()


# -- SIP over UDP ----------------------------------------------------------------------------


@dataclass
class Reply:
    code: int
    reason: str
    headers: list[tuple[str, str]]
    raw: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def parse_message(data: bytes) -> Reply:
    text = data.decode(errors="replace")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    first = head[0].split(" ", 2)
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in head[1:] if ":" in line]
    code = int(first[1]) if first[0].startswith("SIP/") else 0
    return Reply(code, first[2] if len(first) > 2 else "", headers, text)


class SipClient:
    """A UDP endpoint on (host, port) that sends requests and waits for final answers."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self.cseq = 1

    def close(self) -> None:
        self.sock.close()

    stop = close

    def request(self, method: str, uri: str, target: tuple[str, int],
                headers: Sequence[str] = (), to: str | None = None, from_uri: str | None = None,
                body: str = "", call_id: str | None = None, timeout: float = 2.0) -> Reply | None:
        call_id = call_id or uuid.uuid4().hex
        from_uri = from_uri or f"sip:test@{self.host}"
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch=z9hG4bK{uuid.uuid4().hex}",
                 "Max-Forwards: 70", f"From: <{from_uri}>;tag={uuid.uuid4().hex[:8]}",
                 f"To: <{to or uri}>", f"Call-ID: {call_id}", f"CSeq: {self.cseq} {method}",
                 *headers, f"Content-Length: {len(body.encode())}", "", body]
        self.cseq += 1
        self.sock.sendto("\r\n".join(lines).encode(), target)
        return self.final_reply(call_id, timeout)

    def final_reply(self, call_id: str, timeout: float) -> Reply | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                return None
            reply = parse_message(data)
            if reply.code >= 200 and reply.header("Call-ID") == call_id:
                return reply
        return None

    def receive(self, timeout: float = 2.0) -> tuple[Reply, tuple[str, int]] | None:
        """The next message (request or reply) that arrives."""
        self.sock.settimeout(timeout)
        try:
            data, peer = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        return parse_message(data), peer

    def answer(self, request: Reply, peer: tuple[str, int], code: int = 200,
               reason: str = "OK", extra: Sequence[str] = ()) -> None:
        """Reply to a request this endpoint received (a fake Genesis or provider)."""
        keep = [f"{name}: {value}" for name, value in request.headers
                if name.lower() in ("via", "from", "to", "call-id", "cseq", "record-route")]
        self.sock.sendto("\r\n".join([f"SIP/2.0 {code} {reason}", *keep, *extra,
                                      "Content-Length: 0", "", ""]).encode(), peer)


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str,
                         header: str = "Authorization") -> str:
    """The Authorization header answering a WWW-/Proxy-Authenticate digest challenge."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if "qop" in params:
        cnonce, nc = uuid.uuid4().hex[:8], "00000001"
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        extra = ""
    return (f'{header}: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{response}", algorithm=MD5{extra}')


def tool_missing(*tools: str) -> str | None:
    missing = [tool for tool in tools if not shutil.which(tool)]
    return f"needs {', '.join(missing)} (scripts/test.sh installs it)" if missing else None
