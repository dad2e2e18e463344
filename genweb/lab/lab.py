"""The lab: N cluster nodes on this machine, each a set of Linux namespaces with its own sshd.

Follows the proven recipe in the shared notes (ha-lab.md): per node a network namespace wired
to a lab switch namespace, and a PID-1 holder (node-init.sh under ``unshare``) that owns the
node's mount, UTS, IPC and PID namespaces. Everything started is recorded (PID and start time)
in the state dir, so ``down`` stops exactly that and nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import files, netns, procs
from .procs import Proc
from .topology import (
    SWITCH_IP,
    WEB_PRIVATE_IP,
    WEB_PUBLIC_IP,
    NodeSpec,
    check_lab_name,
    hosts_file,
    node_specs,
    switch_netns,
    web_netns,
)

DEFAULT_NAME = "glab"
DEFAULT_STATE_ROOT = Path("/run/genweb-lab")
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NODE_USER = "genweb"
READY_TIMEOUT = 10.0
TOOLS = ("ip", "nsenter", "unshare", "ssh-keygen", "/usr/sbin/sshd", "/usr/sbin/snmpd",
         "useradd", "chpasswd")

_children: dict[int, subprocess.Popen] = {}  # holders we started in this process, to reap


class LabError(Exception):
    """The lab cannot do what was asked; the message says why and what to do."""


@dataclass
class LabNode:
    """One node as tests and the CLI see it."""

    name: str
    index: int
    netns: str
    private_ip: str
    public_ip: str
    private_port: str   # switch port name (IF-MIB ifDescr): the fence plug
    public_port: str
    host_key: str       # "ssh-ed25519 AAAA…" as sshd presents it
    ssh_port: int = 22
    init: Proc | None = None      # PID 1 of the node (host PID)
    holder: Proc | None = None    # the unshare process that forked it

    @property
    def host_key_fingerprint(self) -> str:
        blob = base64.b64decode(self.host_key.split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass
class Switch:
    """The lab switch: bridges for both networks and snmpd answering IF-MIB on SWITCH_IP."""

    netns: str
    ip: str
    community: str      # read-write SNMP v2c community
    v3_user: str        # read-write SNMP v3 user (SHA/AES)
    v3_auth: str = field(repr=False, default="")
    v3_priv: str = field(repr=False, default="")
    snmpd: Proc | None = None


def state_root() -> Path:
    return Path(os.environ.get("GENWEB_LAB_DIR") or DEFAULT_STATE_ROOT)


class Lab:
    """A running (or recorded) lab. Build one with ``Lab.up``, find one with ``Lab.load``."""

    def __init__(self, name: str, root: Path, nodes: list[LabNode], switch: Switch,
                 password: str, password_auth: bool, root_ssh: bool = True,
                 sudoers: str = "all") -> None:
        self.name = name
        self.dir = root / name
        self.nodes = nodes
        self.switch = switch
        self.web_netns = web_netns(name)
        self.web_private_ip, self.web_public_ip = WEB_PRIVATE_IP, WEB_PUBLIC_IP
        self.password = password          # the genweb user's password on every node
        self.password_auth = password_auth
        self.root_ssh = root_ssh           # nodes trust each other's root keys (crmsh needs it)
        self.sudoers = sudoers             # "all" or "contract" (deploy/sudoers.genweb)

    def __repr__(self) -> str:
        return f"Lab({self.name!r}, nodes={[n.name for n in self.nodes]})"

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def up(cls, count: int = 3, name: str = DEFAULT_NAME, *, root: Path | None = None,
           password_auth: bool = True, root_ssh: bool = True,
           authorized_keys: Sequence[str] = (), sudoers: str = "all") -> Lab:
        """Build the lab, or return it if it is already up with that many nodes.

        ``sudoers="contract"`` gives genweb the rights install.sh --node gives it
        (deploy/sudoers.genweb) instead of every right: a commit then proves that every command
        it sends is one real nodes allow.
        """
        files.sudoers_text(sudoers)  # refuse a bad choice before building anything
        root = root or state_root()
        specs = node_specs(name, count)
        check_prerequisites(root)
        with _locked(root, name):
            existing = cls.load(name, root)
            if existing and existing.is_up():
                if len(existing.nodes) != count:
                    raise LabError(f"lab {name} is already up with {len(existing.nodes)} nodes; "
                                   f"run 'genweb lab down --name {name}' first")
                for key in authorized_keys:
                    existing.authorize_key(key)
                return existing
            if existing:
                existing._teardown()  # half-built or crashed earlier: clear it first
            _refuse_foreign_namespaces(name, specs)
            lab = cls._new(name, root, specs, password_auth, root_ssh)
            lab.sudoers = sudoers
            try:
                lab._build(authorized_keys)
            except BaseException:
                lab._teardown()
                raise
            return lab

    @classmethod
    def _new(cls, name: str, root: Path, specs: list[NodeSpec], password_auth: bool,
             root_ssh: bool) -> Lab:
        lab_dir = root / name
        lab_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        nodes = []
        for spec in specs:
            key = lab_dir / "keys" / spec.name / "ssh_host_ed25519_key"
            files.ssh_keygen(key, f"root@{spec.name}")
            public = key.with_suffix(".pub").read_text().split()
            nodes.append(LabNode(spec.name, spec.index, spec.netns, spec.private_ip,
                                 spec.public_ip, spec.private_port, spec.public_port,
                                 host_key=f"{public[0]} {public[1]}"))
        switch = Switch(switch_netns(name), SWITCH_IP, community=_token("rw"),
                        v3_user="genweblab", v3_auth=_token("a"), v3_priv=_token("p"))
        lab = cls(name, root, nodes, switch, _token("pw"), password_auth, root_ssh)
        lab._save()
        return lab

    def _build(self, authorized_keys: Sequence[str]) -> None:
        files.ssh_keygen(self.client_key, f"lab-operator@{self.name}")
        for shim in (self.dir / "systemctl", self.dir / "bin" / "systemctl"):
            shim.parent.mkdir(exist_ok=True)
            shutil.copyfile(files.package_file("systemctl"), shim)
            os.chmod(shim, 0o755)
        self._build_network()
        self._start_switch_agent()
        self._start_nodes()
        keys = [self.client_key.with_suffix(".pub").read_text().strip(), *authorized_keys]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda node: self._provision(node, keys), self.nodes))
        self._write_known_hosts()
        self._save()

    def _build_network(self) -> None:
        netns.build_switch(self.switch.netns)
        netns.build_web_network(self.switch.netns, self.web_netns)
        for spec in self._specs():
            netns.build_node_network(self.switch.netns, spec)

    def _start_switch_agent(self) -> None:
        folder = self.dir / "switch"
        shutil.rmtree(folder, ignore_errors=True)  # snmpd persists v3 users: start clean
        (folder / "persist").mkdir(parents=True)
        config = folder / "snmpd.conf"
        config.write_text(files.snmpd_config(self.switch.ip, self.switch.community,
                                             self.switch.v3_user, self.switch.v3_auth,
                                             self.switch.v3_priv, f"{self.name}-switch"))
        os.chmod(config, 0o600)
        # ip netns exec execs snmpd itself, so the PID we get is snmpd's.
        env = {"PATH": NODE_PATH, "MIBS": "", "SNMP_PERSISTENT_DIR": str(folder / "persist")}
        child = _spawn(["ip", "netns", "exec", self.switch.netns, "/usr/sbin/snmpd", "-f", "-C",
                        "-c", str(config), "-Lf", str(folder / "snmpd.log"), "-p",
                        str(folder / "snmpd.pid")], folder / "snmpd.out", env)
        self.switch.snmpd = Proc.of(child.pid)
        self._save()
        _wait_for(lambda: _udp_listening(child.pid, 161), READY_TIMEOUT,
                  f"snmpd did not start (see {folder / 'snmpd.log'})")

    def _root_ssh(self) -> files.RootSSH | None:
        if not self.root_ssh:
            return None
        keys = {}
        for node in self.nodes:
            keys[node.name] = self.dir / "keys" / node.name / "root_id_ed25519"
            files.ssh_keygen(keys[node.name], f"root@{node.name}")
        known = "".join(f"{n.name},{n.private_ip} {n.host_key}\n" for n in self.nodes)
        return files.RootSSH(keys, known)

    def _start_nodes(self) -> None:
        init = files.package_file("node-init.sh")
        root_ssh = self._root_ssh()
        for spec, node in zip(self._specs(), self.nodes, strict=True):
            node_dir = self._node_dir(node)
            files.prepare_node(node_dir, spec, hosts_file(self._specs()),
                               files.sshd_config(node.private_ip, self.password_auth,
                                                 self.root_ssh),
                               self.dir / "keys" / node.name / "ssh_host_ed25519_key",
                               self.dir / "systemctl", root_ssh, self.sudoers)
            child = _spawn(["nsenter", f"--net={netns.NETNS_DIR / node.netns}", "unshare",
                            "--mount", "--uts", "--ipc", "--pid", "--fork", "--mount-proc",
                            "--propagation", "private", "bash", str(init), str(node_dir)],
                           node_dir / "init.log", {"PATH": NODE_PATH})
            node.holder = Proc.of(child.pid)
        self._save()
        for node in self.nodes:
            self._wait_node_ready(node)
        self._save()

    def _wait_node_ready(self, node: LabNode) -> None:
        log = self._node_dir(node) / "init.log"

        def ready() -> bool:
            if node.holder is None or not node.holder.alive():
                raise LabError(f"{node.name}: node init failed: {_tail(log)}")
            if node.init is None:
                kids = procs.children(node.holder.pid)
                node.init = Proc.of(kids[0]) if kids else None
            return node.init is not None and \
                Path(f"/proc/{node.init.pid}/root/run/genweb-lab-ready").exists()

        _wait_for(ready, READY_TIMEOUT, f"{node.name}: node init not ready: {_tail(log)}")

    def _provision(self, node: LabNode, keys: Sequence[str]) -> None:
        """The genweb user (password and keys), then sshd on the node's private address."""
        self.exec(node.name, ["useradd", "--create-home", "--user-group", "--shell",
                              "/bin/bash", NODE_USER])
        self.exec(node.name, ["chpasswd"], input=f"{NODE_USER}:{self.password}\n")
        self.exec(node.name, ["sh", "-c", files.NODE_PREPARATION])
        for key in keys:
            self.authorize_key(key, only=node.name)
        self.exec(node.name, ["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config", "-E",
                              "/var/log/sshd.log"])
        _wait_for(lambda: self._sshd_listening(node), READY_TIMEOUT,
                  f"{node.name}: sshd is not listening (see /var/log/sshd.log in the node)")

    def _sshd_listening(self, node: LabNode) -> bool:
        return any(procs.comm(pid) == "sshd" and _tcp_listening(pid, node.ssh_port)
                   for pid in self.processes(node.name))

    # -- using ----------------------------------------------------------------------------------

    def node(self, name: str) -> LabNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"no node {name!r} in lab {self.name} "
                       f"(nodes: {', '.join(n.name for n in self.nodes)})")

    def exec(self, node: str, argv: Sequence[str], *, input: str | bytes | None = None,
             timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        """Run argv as root inside the node (all its namespaces, a clean environment)."""
        target = self.node(node)
        if target.init is None or not target.init.alive():
            raise LabError(f"{node} is not running (lab {self.name}); run 'genweb lab up'")
        command = ["nsenter", "-t", str(target.init.pid), "-m", "-u", "-i", "-n", "-p",
                   "--wd=/", "env", "-i", f"PATH={NODE_PATH}", "HOME=/root", "LANG=C.UTF-8",
                   *argv]
        done = subprocess.run(command, input=input, capture_output=True, timeout=timeout,
                              text=not isinstance(input, bytes))
        if check and done.returncode != 0:
            raise LabError(f"{node}: {' '.join(argv)} exited {done.returncode}: "
                           f"{str(done.stderr).strip()[-500:]}")
        return done

    def connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection from the lab's web-server namespace (a genweb.nodes connector)."""
        return netns.connect_in_netns(self.web_netns, host, port, timeout)

    def authorize_key(self, public_key: str, only: str | None = None) -> None:
        """Let a key log in as genweb (on every node, or one): what cpsshkeys does for real."""
        line = public_key.strip()
        if not line or "\n" in line:
            raise LabError("a public key is one line")
        script = ('set -e; h=$(getent passwd "$1" | cut -d: -f6); install -d -m 700 -o "$1" '
                  '-g "$1" "$h/.ssh"; f="$h/.ssh/authorized_keys"; touch "$f"; '
                  'grep -qxF -- "$2" "$f" || printf "%s\\n" "$2" >> "$f"; '
                  'chown "$1:$1" "$f"; chmod 600 "$f"')
        for node in [self.node(only)] if only else self.nodes:
            self.exec(node.name, ["sh", "-c", script, "authorize", NODE_USER, line])

    def processes(self, node: str) -> list[int]:
        """Host PIDs of every process inside the node."""
        target = self.node(node)
        if target.init is None or not target.init.alive():
            return []
        ns = procs.namespace_id(target.init.pid, "pid")
        return procs.members(ns) if ns else []

    def is_up(self) -> bool:
        """Every node and the switch agent run, and every namespace exists."""
        return (self.switch.snmpd is not None and self.switch.snmpd.alive()
                and all(n.init is not None and n.init.alive() for n in self.nodes)
                and all(netns.netns_exists(ns) for ns in self.namespaces()))

    def namespaces(self) -> list[str]:
        return [self.switch.netns, self.web_netns, *(n.netns for n in self.nodes)]

    @property
    def client_key(self) -> Path:
        """The lab's own operator key (authorized for genweb on every node)."""
        return self.dir / "keys" / "client" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def status(self) -> list[dict[str, object]]:
        """One row per node: addresses and the host PIDs of sshd, corosync and pacemakerd."""
        rows = []
        for node in self.nodes:
            found: dict[str, list[int]] = {"sshd": [], "corosync": [], "pacemakerd": []}
            for pid in self.processes(node.name):
                name = procs.comm(pid)
                # sshd: only the listener (its parent is the node's PID 1), not sessions
                if name in found and (name != "sshd" or procs.ppid(pid) == node.init.pid):
                    found[name].append(pid)
            rows.append({"node": node.name, "netns": node.netns, "private_ip": node.private_ip,
                         "public_ip": node.public_ip,
                         "init": node.init.pid if node.init and node.init.alive() else None,
                         **found})
        return rows

    # -- tearing down -------------------------------------------------------------------------

    def down(self, purge: bool = False) -> None:
        """Stop what up started (by recorded PID), remove its namespaces; keep keys unless purge."""
        root = self.dir.parent
        with _locked(root, self.name):
            self._teardown()
            if purge:
                shutil.rmtree(self.dir, ignore_errors=True)

    def _teardown(self) -> None:
        """Every step is tried even if one fails, so one stuck node does not keep the rest."""
        errors = []
        for node in self.nodes:
            try:
                _stop_node(node)
            except LabError as exc:
                errors.append(str(exc))
        if self.switch.snmpd is not None:
            procs.terminate(self.switch.snmpd)
            _reap(self.switch.snmpd.pid)
            self.switch.snmpd = None
        for ns in reversed(self.namespaces()):
            try:
                netns.delete_netns(ns)
            except RuntimeError as exc:
                errors.append(str(exc))
        if self.dir.exists():
            self._save()
        if errors:
            raise LabError("; ".join(errors))

    # -- state ------------------------------------------------------------------------------------

    def _specs(self) -> list[NodeSpec]:
        return node_specs(self.name, len(self.nodes))

    def _node_dir(self, node: LabNode) -> Path:
        return self.dir / "nodes" / node.name

    def _write_known_hosts(self) -> None:
        lines = [f"{n.private_ip} {n.host_key}\n" for n in self.nodes]
        self.known_hosts.write_text("".join(lines))

    def _save(self) -> None:
        data = {"name": self.name, "password": self.password,
                "password_auth": self.password_auth, "root_ssh": self.root_ssh,
                "sudoers": self.sudoers,
                "switch": {**asdict(self.switch),
                           "snmpd": self.switch.snmpd.to_json() if self.switch.snmpd else None},
                "nodes": [{**asdict(n), "init": n.init.to_json() if n.init else None,
                           "holder": n.holder.to_json() if n.holder else None}
                          for n in self.nodes]}
        path = self.dir / "lab.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.chmod(tmp, 0o600)  # it holds the lab's passwords
        os.replace(tmp, path)

    @classmethod
    def load(cls, name: str = DEFAULT_NAME, root: Path | None = None) -> Lab | None:
        """The lab recorded under that name (running or not), or None."""
        root = root or state_root()
        path = root / check_lab_name(name) / "lab.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        switch = data["switch"]
        switch["snmpd"] = Proc.from_json(switch["snmpd"])
        nodes = [LabNode(**{**n, "init": Proc.from_json(n["init"]),
                            "holder": Proc.from_json(n["holder"])}) for n in data["nodes"]]
        return cls(name, root, nodes, Switch(**switch), data["password"], data["password_auth"],
                   data.get("root_ssh", True), data.get("sudoers", "all"))


# -- helpers ------------------------------------------------------------------------------------

def check_prerequisites(root: Path) -> None:
    """Root, iproute2 with netns, the daemons; and a state dir the overlays can live beside."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (namespaces, mounts)")
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (install openssh-server, snmpd, "
                       "iproute2, util-linux, passwd)")
    if any(c.isspace() for c in str(root)):
        raise LabError(f"the lab state dir {root!r} must not contain spaces")
    resolved = root.resolve()
    for lower in files.OVERLAYS:
        if resolved == Path(lower) or Path(lower) in resolved.parents:
            raise LabError(f"the lab state dir {root} must not be under {lower} "
                           f"(nodes see {lower} through an overlay)")


def _refuse_foreign_namespaces(name: str, specs: list[NodeSpec]) -> None:
    """Never adopt or delete a namespace this lab did not record."""
    ours = [switch_netns(name), web_netns(name), *(s.netns for s in specs)]
    present = [ns for ns in ours if netns.netns_exists(ns)]
    if present:
        raise LabError(f"network namespaces {', '.join(present)} exist but are not recorded by "
                       f"lab {name}; remove them ('ip netns delete NAME') or choose another "
                       "--name")


def _stop_node(node: LabNode) -> None:
    """SIGKILL the node's PID 1: the kernel then kills every process of the node."""
    if node.init is not None and node.init.alive():
        members = procs.members(procs.namespace_id(node.init.pid, "pid") or "")
        node.init.signal(signal.SIGKILL)
        left = procs.wait_gone(members, 10.0)
        if left:
            raise LabError(f"{node.name}: processes {left} survived the node's end")
    if node.holder is not None:
        node.holder.signal(signal.SIGKILL)  # it exits by itself once its child is gone
        procs.wait_gone([node.holder.pid], 5.0)
        _reap(node.holder.pid)
    node.init = node.holder = None


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a lab process in its own session, output to a log file, remembered for reaping."""
    with open(log, "ab") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _children[child.pid] = child
    return child


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def _wait_for(check, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise LabError(failure)
        time.sleep(0.02)


def _listening(pid: int, table: str, port: int, state: str) -> bool:
    """Whether the process's network namespace has a socket on port in state (hex in /proc)."""
    try:
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(f":{port:04X}" == fields[1][-5:] and fields[3] == state
               for fields in (line.split() for line in lines))


def _tcp_listening(pid: int, port: int) -> bool:
    return _listening(pid, "tcp", port, "0A")


def _udp_listening(pid: int, port: int) -> bool:
    return _listening(pid, "udp", port, "07")


def _tail(path: Path, size: int = 400) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip() or "(no output)"
    except OSError:
        return "(no log)"


def _token(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8)}"


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """One up/down at a time per lab name (two shells, or pytest and a shell)."""
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
