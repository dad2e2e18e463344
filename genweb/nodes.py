"""Node access: the one way genweb talks to cluster nodes (SSH over paramiko).

Every remote command is an argument list joined with ``shlex.quote`` (``run``); operator data is
never spliced into a shell string. Host keys live in the instance's ``ssh/known_hosts`` and are
checked on every connection: an unknown key is refused unless the operator explicitly records it
(``NodeAccess.record_host_key``, the ``cpsshkeys`` step), a changed key is always refused.
Authentication uses the web server's key (``<instance>/ssh/id_ed25519``) unless a node's
``sshKeyEnable`` is No, then the node's ``sshPassword``. Secrets (passwords, argv elements
wrapped in ``Secret``, file contents written with ``secret=True``) never reach logs or
exception messages.

Tests swap the SSH transport for a ``Recorder`` (``NodeAccess(transport_factory=recorder)``) and
assert the exact command lines a commit sends, as ClusterLabs pcs's runner tests do.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import os
import re
import select
import shlex
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paramiko

log = logging.getLogger("genweb.nodes")

NODE_USER = "genweb"
MASK = "********"
EOF_GRACE = 2.0  # s to wait for the end of output after a command exited
Connector = Callable[[str, int, float], socket.socket]

# Fixed script for atomic writes: operator data arrives only as positional parameters ($1..$4)
# and on stdin, so nothing an operator types is ever parsed as shell code.
# mktemp creates the file 0600 in the target directory: the content is never readable by
# others, and the final rename is atomic because it stays on one filesystem.
WRITE_SCRIPT = (
    'set -eu; tmp=$(mktemp -- "$(dirname -- "$1")/.${1##*/}.genweb.XXXXXX"); '
    "trap 'rm -f -- \"$tmp\"' EXIT; cat > \"$tmp\"; "
    'chown -- "$3:$4" "$tmp"; chmod -- "$2" "$tmp"; sync -- "$tmp"; '
    'mv -fT -- "$tmp" "$1"; trap - EXIT'  # -T: never into a directory named $1
)
_ACCOUNT = re.compile(r"^(?:[a-z_][a-z0-9_.-]{0,31}\$?|[0-9]{1,10})$")


# -- errors ------------------------------------------------------------------------------------

class NodeError(Exception):
    """A node could not be reached or did not do what was asked; the message is for operators."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"{node}: {message}")
        self.node = node


class ConnectFailed(NodeError):
    """No SSH session could be opened (network, timeout, protocol)."""


class HostKeyUnknown(NodeError):
    """The node's host key is not recorded: record it explicitly (cpsshkeys) first."""


class HostKeyChanged(NodeError):
    """The node presents a different key than the recorded one: possible impersonation."""


class AuthenticationFailed(NodeError):
    """The node refused our key or password."""


class CommandTimeout(NodeError):
    """A command did not finish within its time limit (the channel was closed)."""


class CommandFailed(NodeError):
    """A command exited non-zero where success was required."""

    def __init__(self, node: str, message: str, result: Result) -> None:
        super().__init__(node, message)
        self.result = result


# -- values ------------------------------------------------------------------------------------

class Secret(str):
    """An argument that is sent as is but shown as ******** in logs, errors and repr()."""

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


@dataclass(frozen=True)
class Target:
    """Where and how to reach one node (from its HA Nodes record)."""

    name: str
    host: str
    port: int = 22
    user: str = NODE_USER
    use_key: bool = True
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_node(cls, node: Mapping[str, Any], port: int = 22) -> Target:
        """A target from a node record: nodeName, privateIP, sshKeyEnable, sshPassword."""
        use_key = (node.get("sshKeyEnable") or "Default") != "No"  # manual 5.2.5: default Yes
        password = None if use_key else (node.get("sshPassword") or "")
        return cls(name=str(node["nodeName"]), host=str(node["privateIP"]), port=port,
                   use_key=use_key, password=password)

    @property
    def known_hosts_name(self) -> str:
        """The host's name as OpenSSH writes it in known_hosts."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class Result:
    """What a remote command returned."""

    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


def command_line(argv: Sequence[str]) -> str:
    """The exact string sent to the node's shell: every argument quoted."""
    if not argv:
        raise ValueError("empty command")
    for arg in argv:
        if not isinstance(arg, str) or "\0" in arg:
            raise ValueError("command arguments must be strings without NUL bytes")
    return shlex.join(argv)


def display_line(argv: Sequence[str]) -> str:
    """The command line for logs and errors: Secret arguments masked."""
    return shlex.join(MASK if isinstance(arg, Secret) else arg for arg in argv)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Text with every known secret value replaced by the mask (remote tools may echo them)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint, e.g. 'SHA256:abc…' (what ssh-keygen -l prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# -- keys ----------------------------------------------------------------------------------------

def ensure_client_key(path: Path) -> str:
    """Create the web server's Ed25519 key at ``path`` (once); return its public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = path.with_name(path.name + ".pub")
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
        _write_private(path, private)
        pub.write_bytes(public + b" genweb\n")
    elif not pub.exists():
        loaded = paramiko.PKey.from_path(path)
        pub.write_text(f"{loaded.get_name()} {loaded.get_base64()} genweb\n")
    return pub.read_text().strip()


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class KnownHosts:
    """The instance's known_hosts file (OpenSSH format), written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> paramiko.HostKeys:
        keys = paramiko.HostKeys()
        if self.path.exists():
            keys.load(str(self.path))
        return keys

    def lookup(self, target: Target) -> dict[str, paramiko.PKey]:
        """Recorded keys of the target, by key type ({} when unknown)."""
        found = self._load().lookup(target.known_hosts_name)
        return dict(found) if found else {}

    def add(self, target: Target, key: paramiko.PKey) -> None:
        keys = self._load()
        keys.add(target.known_hosts_name, key.get_name(), key)
        self._save(keys)

    def forget(self, target: Target) -> bool:
        keys = self._load()
        if target.known_hosts_name not in keys:
            return False
        del keys[target.known_hosts_name]
        self._save(keys)
        return True

    def _save(self, keys: paramiko.HostKeys) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        os.close(fd)
        try:
            keys.save(tmp)  # paramiko writes OpenSSH format; the rename makes it atomic
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise


# -- transports -----------------------------------------------------------------------------------

class Transport(Protocol):
    """Carries argument lists to one node; SSH in production, a Recorder in tests."""

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result: ...

    def close(self) -> None: ...


ALLOWED_NETWORKS_ENV = "GENWEB_ALLOWED_NETWORKS"


def _allowed(host: str) -> bool:
    """$GENWEB_ALLOWED_NETWORKS (comma-separated CIDRs), when set, confines node connections:
    the test suite sets it to the loopback and lab ranges so no test can reach anything else."""
    networks = os.environ.get(ALLOWED_NETWORKS_ENV, "").strip()
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name could resolve anywhere
    return any(address in ipaddress.ip_network(net.strip(), strict=False)
               for net in networks.split(",") if net.strip())


def tcp_connect(host: str, port: int, timeout: float) -> socket.socket:
    """The production connector: a plain TCP connection."""
    if not _allowed(host):
        raise OSError(f"{host} is outside {ALLOWED_NETWORKS_ENV}={os.environ[ALLOWED_NETWORKS_ENV]}")
    return socket.create_connection((host, port), timeout=timeout)


class SSHTransport:
    """One authenticated SSH session to a node whose host key matches the recorded one."""

    def __init__(self, target: Target, *, key_file: Path | None, known_hosts: KnownHosts,
                 connector: Connector = tcp_connect, connect_timeout: float = 10.0) -> None:
        self.target = target
        self._ssh = _open_transport(target, connector, connect_timeout,
                                    preferred=list(known_hosts.lookup(target)))
        try:
            _check_host_key(target, _server_key(self._ssh, target), known_hosts)
            _authenticate(self._ssh, target, key_file)
        except BaseException:
            self._ssh.close()
            raise

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        line = command_line(argv)
        try:
            with self._ssh.open_session(timeout=timeout) as channel:
                channel.exec_command(line)
                if stdin:
                    channel.sendall(stdin)
                channel.shutdown_write()
                out, err = _collect(channel, time.monotonic() + timeout)
                if out is None:
                    # Closing the channel does not always stop the remote command.
                    raise CommandTimeout(self.target.name, f"no answer within {timeout:g} s: "
                                         f"{display_line(argv)}")
                rc = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectFailed(self.target.name, f"connection lost while running "
                                f"{display_line(argv)}: {type(exc).__name__}") from None
        return Result(rc, out, err)

    def close(self) -> None:
        self._ssh.close()


def _open_transport(target: Target, connector: Connector, timeout: float,
                    preferred: list[str]) -> paramiko.Transport:
    """Connect and negotiate; prefer the recorded host-key types, as OpenSSH does."""
    where = f"{target.host}:{target.port}"
    try:
        sock = connector(target.host, target.port, timeout)
    except OSError as exc:
        raise ConnectFailed(target.name, f"cannot connect to {where}: {exc}") from None
    ssh = paramiko.Transport(sock)
    ssh.banner_timeout = ssh.auth_timeout = ssh.handshake_timeout = timeout
    if preferred:
        options = ssh.get_security_options()
        options.key_types = preferred + [t for t in options.key_types if t not in preferred]
    try:
        ssh.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        ssh.close()
        raise ConnectFailed(target.name, f"SSH handshake with {where} failed: "
                            f"{exc or type(exc).__name__}") from None
    ssh.set_keepalive(30)
    return ssh


def _server_key(ssh: paramiko.Transport, target: Target) -> paramiko.PKey:
    """The node's host key; a peer that accepted TCP but never finished SSH is a connect failure."""
    try:
        return ssh.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectFailed(target.name, f"no SSH session with {target.host}:{target.port}: "
                            f"{exc or type(exc).__name__}") from None


def _check_host_key(target: Target, key: paramiko.PKey, known_hosts: KnownHosts) -> None:
    recorded = known_hosts.lookup(target)
    if not recorded:
        raise HostKeyUnknown(target.name, (
            f"host key of {target.known_hosts_name} ({key.get_name()} {fingerprint(key)}) is not "
            f"recorded in {known_hosts.path}; verify it and record it explicitly (cpsshkeys)"))
    if recorded.get(key.get_name()) != key:
        raise HostKeyChanged(target.name, (
            f"host key of {target.known_hosts_name} CHANGED (now {key.get_name()} "
            f"{fingerprint(key)}); refusing to connect. If the node was rebuilt, remove the old "
            f"key from {known_hosts.path} and record the new one"))


def _authenticate(ssh: paramiko.Transport, target: Target, key_file: Path | None) -> None:
    how = "key" if target.use_key else "password"
    try:
        if target.use_key:
            if key_file is None or not key_file.exists():
                raise AuthenticationFailed(target.name, f"no client key at {key_file}")
            ssh.auth_publickey(target.user, paramiko.PKey.from_path(key_file))
        else:
            ssh.auth_password(target.user, target.password or "")
    except paramiko.AuthenticationException:
        raise AuthenticationFailed(target.name, f"{target.user}@{target.host} refused our {how} "
                                   f"(sshKeyEnable {'Yes' if target.use_key else 'No'})") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectFailed(target.name, f"authentication with {how} failed: {exc}") from None


def _collect(channel: paramiko.Channel, deadline: float) -> tuple[str | None, str]:
    """Read stdout and stderr until the command exits; (None, '') on timeout."""
    out: list[bytes] = []
    err: list[bytes] = []

    def drain() -> None:
        while channel.recv_ready():
            out.append(channel.recv(65536))
        while channel.recv_stderr_ready():
            err.append(channel.recv_stderr(65536))

    while not channel.exit_status_ready():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, ""
        select.select([channel], [], [], min(remaining, 0.05))
        drain()
    # The last output can trail the exit status; but a daemon the command left behind may hold
    # stdout open forever, so wait for EOF only briefly.
    grace = min(deadline, time.monotonic() + EOF_GRACE)
    while not channel.eof_received and time.monotonic() < grace:
        select.select([channel], [], [], 0.05)
        drain()
    drain()
    return (b"".join(out).decode("utf-8", "surrogateescape"),
            b"".join(err).decode("utf-8", "surrogateescape"))


# -- the node session --------------------------------------------------------------------------

class Node:
    """An open session to one node: run commands, write and read files."""

    def __init__(self, target: Target, transport: Transport, command_timeout: float) -> None:
        self.target = target
        self.name = target.name
        self._transport = transport
        self._timeout = command_timeout

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def run(self, argv: Sequence[str], *, sudo: bool = False, stdin: bytes | str | None = None,
            secret_stdin: bool = False, timeout: float | None = None,
            check: bool = False) -> Result:
        """Run argv on the node (through ``sudo -n`` when asked); stdin is never logged."""
        full = self._with_sudo(list(argv), sudo)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        shown = display_line(full)
        log.info("%s: %s%s", self.name, shown,
                 f" <{'secret ' if secret_stdin else ''}stdin {len(data)} bytes>" if data else "")
        result = self._transport.execute(full, data, timeout or self._timeout)
        if result.rc != 0:
            log.info("%s: exit %d: %s", self.name, result.rc,
                     self._clean(result.stderr.strip()[-300:], full))
        if check and result.rc != 0:
            raise CommandFailed(self.name, f"{shown} exited {result.rc}: "
                                f"{self._clean(result.stderr.strip()[-500:], full)}", result)
        return result

    def write_file(self, path: str, content: bytes | str, *, mode: int = 0o644,
                   owner: str = "root", group: str = "root", secret: bool = False,
                   sudo: bool = True) -> None:
        """Replace ``path`` atomically: temporary file in its directory, chown/chmod, rename."""
        _check_path(path)
        if not 0 <= mode <= 0o7777:
            raise ValueError(f"bad file mode {mode!r}")
        for account in (owner, group):
            if not _ACCOUNT.match(account):
                raise ValueError(f"bad owner or group {account!r}")
        argv = ["sh", "-c", WRITE_SCRIPT, "genweb-write", path, f"{mode:04o}", owner, group]
        self.run(argv, sudo=sudo, stdin=content, secret_stdin=secret, check=True)

    def read_file(self, path: str, *, sudo: bool = True) -> str:
        """The content of a file on the node (raises CommandFailed if it cannot be read)."""
        _check_path(path)
        return self.run(["cat", "--", path], sudo=sudo, check=True).stdout

    def _with_sudo(self, argv: list[str], sudo: bool) -> list[str]:
        if not sudo or self.target.user == "root":
            return argv
        return ["sudo", "-n", "--", *argv]  # -n: fail instead of waiting for a password prompt

    def _clean(self, text: str, argv: Sequence[str]) -> str:
        secrets = [a for a in argv if isinstance(a, Secret)] + [self.target.password]
        return redact(text, secrets)


def _check_path(path: str) -> None:
    if not path.startswith("/") or "\0" in path or "\n" in path or path.endswith("/"):
        raise ValueError(f"not an absolute file path: {path!r}")


# -- the entry point -----------------------------------------------------------------------------

class NodeAccess:
    """Opens node sessions with the instance's client key and known_hosts."""

    def __init__(self, key_file: Path | None = None, known_hosts: Path | None = None, *,
                 connector: Connector = tcp_connect, connect_timeout: float = 10.0,
                 command_timeout: float = 300.0,
                 transport_factory: Callable[[Target], Transport] | None = None) -> None:
        if known_hosts is None and transport_factory is None:
            raise ValueError("node access over SSH needs a known_hosts file")
        self.key_file = key_file
        self.known_hosts = KnownHosts(known_hosts or Path("/dev/null"))  # unused when recording
        self.connector = connector
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._transport_factory = transport_factory

    @classmethod
    def for_instance(cls, instance: Path, **options: Any) -> NodeAccess:
        """Access with ``<instance>/ssh/id_ed25519`` and ``<instance>/ssh/known_hosts``."""
        ssh = instance / "ssh"
        return cls(ssh / "id_ed25519", ssh / "known_hosts", **options)

    def knows_host(self, target: Target) -> bool:
        """Whether ``open`` may reach this target: its host key is recorded (``open`` refuses
        it after the handshake otherwise, so callers can spare the node the traffic). A test
        transport has no host keys: always."""
        return self._transport_factory is not None or bool(self.known_hosts.lookup(target))

    def open(self, target: Target) -> Node:
        """An authenticated session (use it as a context manager)."""
        if self._transport_factory is not None:
            transport = self._transport_factory(target)
        else:
            transport = SSHTransport(target, key_file=self.key_file, known_hosts=self.known_hosts,
                                     connector=self.connector,
                                     connect_timeout=self.connect_timeout)
        return Node(target, transport, self.command_timeout)

    def scan_host_key(self, target: Target) -> paramiko.PKey:
        """The key the node presents now (no authentication, nothing recorded)."""
        ssh = _open_transport(target, self.connector, self.connect_timeout, preferred=[])
        try:
            return ssh.get_remote_server_key()
        finally:
            ssh.close()

    def record_host_key(self, target: Target) -> str:
        """Trust on first use, explicitly (cpsshkeys): record the node's key if none is recorded.

        A different recorded key is never replaced here: that needs ``forget_host_key`` first.
        Returns the fingerprint, for the operator to compare.
        """
        key = self.scan_host_key(target)
        recorded = self.known_hosts.lookup(target)
        if recorded and recorded.get(key.get_name()) != key:
            raise HostKeyChanged(target.name, (
                f"host key of {target.known_hosts_name} differs from the recorded one "
                f"(now {fingerprint(key)}); remove the old key first if the node was rebuilt"))
        if not recorded:
            self.known_hosts.add(target, key)
            log.info("%s: recorded host key %s %s", target.name, key.get_name(), fingerprint(key))
        return fingerprint(key)

    def forget_host_key(self, target: Target) -> bool:
        """Remove the recorded key(s) of a node (after it was rebuilt); True if there were any."""
        return self.known_hosts.forget(target)


# -- recording, for tests ----------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One command a Recorder received."""

    node: str
    argv: tuple[str, ...]
    stdin: bytes | None

    @property
    def command(self) -> str:
        return command_line(self.argv)


@dataclass(frozen=True)
class Expect:
    """One command a strict Recorder expects next, and what it answers."""

    node: str
    argv: tuple[str, ...] | list[str]
    result: Result = Result(0, "", "")
    stdin: bytes | None | object = None  # None: not checked


class Recorder:
    """A transport factory that records commands instead of sending them.

    Lenient by default (every command succeeds with empty output, or what ``answer`` set);
    strict when given ``expected`` calls: each call must match the next one exactly, and
    ``assert_done`` checks that none is left, like pcs's ``runner`` fixture.
    """

    def __init__(self, expected: Iterable[Expect] | None = None) -> None:
        self.calls: list[Call] = []
        self._expected = list(expected) if expected is not None else None
        self._answers: list[tuple[str | None, tuple[str, ...], Result]] = []

    def __call__(self, target: Target) -> Transport:
        return _RecordingTransport(self, target.name)

    def answer(self, argv_prefix: Sequence[str], result: Result, node: str | None = None) -> None:
        """Lenient mode: answer commands starting with argv_prefix (on node, or any) so."""
        self._answers.append((node, tuple(argv_prefix), result))

    @property
    def commands(self) -> list[str]:
        """'node: command line' for every call, in order."""
        return [f"{call.node}: {call.command}" for call in self.calls]

    def assert_done(self) -> None:
        assert not self._expected, f"expected commands not sent: {self._expected}"

    def _receive(self, call: Call) -> Result:
        self.calls.append(call)
        if self._expected is not None:
            return self._match_expected(call)
        for node, prefix, result in reversed(self._answers):
            if node in (None, call.node) and call.argv[:len(prefix)] == prefix:
                return result
        return Result(0, "", "")

    def _match_expected(self, call: Call) -> Result:
        assert self._expected, f"unexpected command {call.node}: {call.command}"
        want = self._expected.pop(0)
        assert (want.node, tuple(want.argv)) == (call.node, call.argv), (
            f"expected {want.node}: {command_line(want.argv)}\n"
            f"     got {call.node}: {call.command}")
        if want.stdin is not None:
            assert want.stdin == call.stdin, f"stdin differs for {call.command}"
        return want.result


class _RecordingTransport:
    def __init__(self, recorder: Recorder, node: str) -> None:
        self._recorder = recorder
        self._node = node

    def execute(self, argv: list[str], stdin: bytes | None, timeout: float) -> Result:
        return self._recorder._receive(Call(self._node, tuple(argv), stdin))

    def close(self) -> None:
        pass
