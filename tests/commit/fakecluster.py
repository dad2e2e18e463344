"""A cluster that exists only as a ``genweb.nodes.Recorder``: every command genweb sends is
recorded (as pcs's runner tests do), and the few that matter answer as a node would.

Each node has a file system (cat, the atomic write script, rm) and a cluster stack (crm cluster
start/stop, crm resource move/restart, crm_mon --output-as=xml built from that state), so a
test can assert both the exact commands and their effect: which files a node holds after a
commit or after a rollback. Anything else succeeds with no output, or fails where a test says.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from genweb.nodes import Call, Recorder, Result

OK = Result(0, "", "")
SUDO = ("sudo", "-n", "--")


@dataclass
class Failure:
    node: str | None
    prefix: tuple[str, ...]
    result: Result
    times: int = 1  # how many matching calls fail (then it is used up)


@dataclass
class FakeCluster(Recorder):
    names: Sequence[str] = ("node1", "node2", "node3")
    primary: str | None = "node1"
    running: set[str] = field(default_factory=set)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    kamailio_starts: bool = True  # False: Kamailio fails wherever it is moved or restarted
    delays: dict[tuple[str, ...], float] = field(default_factory=dict)  # prefix -> seconds
    cib_ids: set[str] = field(default_factory=set)  # object ids the loaded scripts defined

    def __post_init__(self) -> None:
        Recorder.__init__(self)
        for name in self.names:
            self.files.setdefault(name, {})

    # -- test controls -----------------------------------------------------------------------

    @classmethod
    def up(cls, names: Sequence[str] = ("node1", "node2", "node3"), primary: str = "node1"):
        """Every node running, the service on ``primary``."""
        return cls(names=tuple(names), primary=primary, running=set(names))

    def fail(self, argv_prefix: Iterable[str], *, node: str | None = None, rc: int = 1,
             stderr: str = "failed", times: int = 1) -> None:
        self.failures.append(Failure(node, tuple(argv_prefix), Result(rc, "", stderr), times))

    def actions(self, node: str | None = None) -> list[str]:
        """'node: command' for every call that changes something (no reads, no polls); the
        atomic write script reads 'write PATH MODE OWNER GROUP'."""
        return [f"{call.node}: {shown(strip(call.argv))}" for call in self.calls
                if not is_read(strip(call.argv)) and (node is None or call.node == node)]

    # -- the nodes ---------------------------------------------------------------------------

    def _receive(self, call: Call) -> Result:
        self.calls.append(call)
        argv = strip(call.argv)
        for prefix, seconds in self.delays.items():
            if argv[:len(prefix)] == prefix:
                time.sleep(seconds)  # a slow node, for tests that watch progress live
        for failure in self.failures:
            if failure.times and failure.node in (None, call.node) \
                    and argv[:len(failure.prefix)] == failure.prefix:
                failure.times -= 1
                return failure.result
        return self._answer(call.node, argv, call.stdin)

    def _answer(self, node: str, argv: tuple[str, ...], stdin: bytes | None) -> Result:
        files = self.files[node]
        if argv[:2] == ("cat", "--"):
            if argv[2] in files:
                return Result(0, files[argv[2]], "")
            return Result(1, "", f"cat: {argv[2]}: No such file or directory")
        if argv[:2] == ("sh", "-c") and argv[3:4] == ("genweb-write",):
            files[argv[4]] = (stdin or b"").decode()
            return OK
        if argv[:3] == ("rm", "-f", "--"):
            files.pop(argv[3], None)
            return OK
        if argv[:2] == ("crm_mon", "--output-as=xml"):
            if node not in self.running:
                return Result(102, "", "crm_mon: Error: cluster is not available on this node")
            return Result(0, self.crm_mon(), "")
        if argv[:3] == ("crm", "cluster", "start"):
            self.running.add(node)
            return Result(0, "INFO: BEGIN Starting pacemaker(delaying start of sbd for 0s)\n"
                             "INFO: END Starting pacemaker(delaying start of sbd for 0s)\n"
                             "INFO: The cluster stack started on " + node + "\n", "")
        if argv[:3] == ("crm", "cluster", "stop"):
            self.running.discard(node)
            if self.primary == node:
                self.primary = None
            return OK
        if argv[:5] == ("crm", "-D", "plain", "configure", "load"):
            self.cib_ids |= script_ids(files.get(argv[6], ""))
            return OK
        if argv[:5] == ("crm", "-D", "plain", "configure", "delete"):
            self.cib_ids -= set(argv[6:])
            return OK
        if argv[:2] == ("cibadmin", "--query"):
            objects = "".join(f'<primitive id="{rid}"/>' for rid in sorted(self.cib_ids))
            return Result(0, f"<configuration><resources>{objects}</resources>"
                             "</configuration>", "")
        if argv[:3] == ("crm", "resource", "move"):
            self.primary = argv[4] if self.kamailio_starts else None
            return OK
        if argv[:3] == ("crm", "resource", "restart") and not self.kamailio_starts:
            return Result(1, "", "ERROR: kam_heartbeats failed to start")
        if argv[:3] == ("mariadb", "--batch", "--skip-column-names") and \
                any(arg.startswith("--execute=SHOW TABLES") for arg in argv):
            return Result(0, "version\n", "")
        return OK

    def crm_mon(self) -> str:
        online = [name for name in self.names if name in self.running]
        quorate = len(online) * 2 > len(self.names)
        primary = self.primary if self.primary in self.running else None
        if primary is None and quorate and self.kamailio_starts:
            primary = self.primary = online[0] if online else None
        nodes = "".join(f'<node name="{n}" id="{i}" online="{str(n in online).lower()}" '
                        f'type="member"/>' for i, n in enumerate(self.names, 1))
        where = f'<node name="{primary}" id="1" cached="true"/>' if primary else ""
        active = str(primary is not None).lower()
        resources = (
            f'<group id="ip_group" number_resources="1">'
            f'<resource id="failover_ip1" role="{"Started" if primary else "Stopped"}" '
            f'active="{active}" failed="false" nodes_running_on="{int(bool(primary))}">{where}'
            f'</resource></group>'
            f'<resource id="kam_heartbeats" role="{"Started" if primary else "Stopped"}" '
            f'active="{active}" failed="false">{where}</resource>'
            # the ping clone of privatePing runs on every online node
            '<clone id="ping_private_clone">' + "".join(
                f'<resource id="ping_private" role="Started" active="true" failed="false">'
                f'<node name="{n}" id="{i}" cached="true"/></resource>'
                for i, n in enumerate(online, 1)) + '</clone>')
        return (f'<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">'
                f'<summary><current_dc present="true" name="{online[0] if online else ""}" '
                f'with_quorum="{str(quorate).lower()}"/></summary>'
                f'<nodes>{nodes}</nodes><resources>{resources}</resources>'
                f'<status code="0" message="OK"/></pacemaker-result>')


def script_ids(crm: str) -> set[str]:
    """The ids a crm script defines (the second word of its object statements)."""
    kinds = ("primitive", "group", "clone", "location", "colocation", "order")
    return {line.split()[1] for line in crm.splitlines()
            if line.split()[:1] and line.split()[0] in kinds and len(line.split()) > 1}


def strip(argv: Sequence[str]) -> tuple[str, ...]:
    """The command without the sudo prefix genweb.nodes adds."""
    argv = tuple(argv)
    return argv[3:] if argv[:3] == SUDO else argv


def shown(argv: tuple[str, ...]) -> str:
    if argv[:2] == ("sh", "-c") and argv[3:4] == ("genweb-write",):
        return "write " + " ".join(argv[4:])
    return " ".join(argv)


def is_read(argv: tuple[str, ...]) -> bool:
    return argv[:2] in (("cat", "--"), ("crm_mon", "--output-as=xml"))
