"""The building blocks of Commit, Rebuild Nodes, Start System and UnFence: named steps on nodes,
each reported as it starts (Figure 26's "Status: ..." lines), each undoable.

A ``Run`` holds one job's node sessions, its progress and its journal. Every step that changes a
node first records how to put it back (a file's previous content, a stopped cluster, the CIB as
it was); on a failure the job calls ``rollback()``, which undoes the journal newest first and
reports each undo, so a failed commit leaves the nodes as they were. Every step is idempotent:
writing a file that already holds the content does nothing, a cluster start on a running node
is a no-op, so running the same job again converges.

Commands are argument lists (genweb.nodes quotes them); each is one the sudoers contract in
deploy/sudoers.genweb allows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..jobs import Progress
from ..nodes import CommandFailed, Node, NodeAccess, NodeError, Result, Target, redact
from . import cluster
from .clusterstate import CRM_MON, ClusterState, StateUnreadable, parse_crm_mon
from .render import File

AGENTS_DIR = Path(__file__).resolve().parent.parent / "agents"
CRM_SCRIPT = "/etc/genproxy/cluster.crm"  # the loaded script, root only (SNMP communities)
# Directories the commit may have to create (deploy/sudoers.genweb GENWEB_DIRS): mode, group.
MANAGED_DIRS = {
    "/etc/genproxy": ("0755", "root"),
    cluster.FENCE_SECRETS_DIR: ("0700", "root"),
    "/etc/ssl/genproxy_pvt": ("0750", "genproxy"),
    cluster.OCF_PROVIDER_DIR: ("0755", "root"),
}
# Files in these directories can be removed when the configuration no longer has them (a
# deleted fence's pass phrases, a TLS key); elsewhere a stale file stays, unused.
REMOVABLE_DIRS = (cluster.FENCE_SECRETS_DIR, "/etc/ssl/genproxy_pvt")
POLL_SECONDS = 1.0


class StepFailed(Exception):
    """A step failed; the message names the step, the node and the reason (secrets masked)."""


@dataclass
class Undo:
    description: str  # shown as "Status: <description>" when it runs
    action: Callable[[], None]


class Run:
    """One job's sessions, progress and journal."""

    def __init__(self, progress: Progress, access: NodeAccess, targets: Iterable[Target],
                 secrets: Iterable[str] = (), sleep: Callable[[float], None] = time.sleep) -> None:
        self.progress = progress
        self.access = access
        self.targets = {target.name: target for target in targets}
        self.secrets = [secret for secret in secrets if secret and len(secret) >= 3]
        self.sleep = sleep
        self.journal: list[Undo] = []
        self._sessions: dict[str, Node] = {}
        self.dirs: set[tuple[str, str]] = set()  # (node, directory) already ensured
        self.left: dict[str, list[str]] = {}  # node -> new files a rollback cannot remove

    # -- reporting ---------------------------------------------------------------------------

    def clean(self, text: str) -> str:
        """Text for an operator: every secret the job knows replaced by the mask."""
        return redact(text, self.secrets)

    def status(self, message: str) -> None:
        self.progress.status(self.clean(message))

    def warning(self, message: str) -> None:
        self.progress.warning(self.clean(message))

    @contextlib.contextmanager
    def step(self, message: str, *, quiet: bool = False) -> Iterator[None]:
        """Report the step, run it; a node error becomes StepFailed naming the step."""
        if not quiet:
            self.status(message)
        try:
            yield
        except NodeError as exc:
            raise StepFailed(self.clean(f"{message} failed: {reason(exc)}")) from None

    # -- nodes -------------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        """The open session to a node (opened once per job)."""
        session = self._sessions.get(name)
        if session is None:
            try:
                session = self.access.open(self.targets[name])
            except NodeError as exc:
                raise StepFailed(self.clean(f"Cannot reach node '{name}': {reason(exc)}")) \
                    from None
            self._sessions[name] = session
        return session

    def run(self, name: str, argv: Sequence[str], *, sudo: bool = True, check: bool = True,
            stdin: str | None = None, secret_stdin: bool = False,
            timeout: float | None = None) -> Result:
        return self.node(name).run(argv, sudo=sudo, check=check, stdin=stdin,
                                   secret_stdin=secret_stdin, timeout=timeout)

    def close(self) -> None:
        for session in self._sessions.values():
            with contextlib.suppress(Exception):
                session.close()
        self._sessions.clear()

    # -- the journal -------------------------------------------------------------------------

    def remember(self, description: str, action: Callable[[], None]) -> None:
        self.journal.append(Undo(description, action))

    def rollback(self) -> list[str]:
        """Undo the journal, newest first; every undo is tried. Returns what could not be undone."""
        failures = []
        while self.journal:
            undo = self.journal.pop()
            if undo.description:
                self.status(undo.description)
            try:
                undo.action()
            except (NodeError, StepFailed) as exc:
                message = self.clean(f"{undo.description} failed: {reason(exc)}")
                self.progress.error(message)
                failures.append(message)
        for name, paths in self.left.items():
            self.warning(f"Left in place on node '{name}', as genweb may not delete them (they "
                         f"did not exist before this job): {', '.join(sorted(paths))}")
        self.left.clear()
        return failures


def reason(exc: Exception) -> str:
    """An error's message without the leading "node: " genweb.nodes puts there; for a command
    that failed, its exit status and last words (the step already says what it was)."""
    if isinstance(exc, CommandFailed):
        said = (exc.result.stderr.strip() or exc.result.stdout.strip())[-400:]
        return f"exit status {exc.result.rc}" + (f": {said}" if said else "")
    text = str(exc)
    node = getattr(exc, "node", None)
    return text[len(node) + 2:] if node and text.startswith(f"{node}: ") else text


# -- files -------------------------------------------------------------------------------------


def is_secret(file: File) -> bool:
    """A file others may not read holds something secret: its content is never shown."""
    return not file.mode & 0o004


def read_current(run: Run, name: str, path: str, *, sudo: bool = True) -> str | None:
    """The file's content on the node, or None when it does not exist. A file anyone may read
    is read without sudo (the sudoers contract lets genweb read only its private files)."""
    try:
        return run.node(name).read_file(path, sudo=sudo)
    except CommandFailed as exc:
        if "No such file" in exc.result.stderr:
            return None
        if not sudo and "Permission denied" in exc.result.stderr:
            return read_current(run, name, path, sudo=True)  # made private by hand since
        raise


def ensure_dir(run: Run, name: str, path: str) -> None:
    """Create a directory genweb owns (once per node and job); the others come with packages."""
    directory = str(Path(path).parent)
    if directory not in MANAGED_DIRS or (name, directory) in run.dirs:
        return
    mode, group = MANAGED_DIRS[directory]
    run.run(name, ["install", "-d", "-m", mode, "-o", "root", "-g", group, directory])
    run.dirs.add((name, directory))


def install_file(run: Run, name: str, file: File, *, force: bool = False,
                 journal: bool = True) -> bool:
    """Write a file if the node's copy differs (always when ``force``: mode and owner too).

    The previous content goes into the journal first (unless ``journal`` is False: Rebuild
    Nodes has nothing worth putting back); True when the file was written.
    """
    message = f"Updating '{file.path}' on node '{name}'"
    current = None
    if journal or not force:  # nothing to compare or keep otherwise
        with run.step(message, quiet=True):
            current = read_current(run, name, file.path, sudo=is_secret(file))
    if current == file.content and not force:
        return False
    with run.step(message):
        ensure_dir(run, name, file.path)
        run.node(name).write_file(file.path, file.content, mode=file.mode, owner=file.owner,
                                  group=file.group, secret=is_secret(file))
    if not journal:
        return True
    if current is None and not removable(file.path):
        run.remember("", lambda: run.left.setdefault(name, []).append(file.path))
    else:
        run.remember(f"Putting back '{file.path}' on node '{name}'",
                     lambda: _restore(run, name, file, current))
    return True


def removable(path: str) -> bool:
    return path.startswith(tuple(f"{d}/" for d in REMOVABLE_DIRS))


def _restore(run: Run, name: str, file: File, previous: str | None) -> None:
    if previous is not None:
        run.node(name).write_file(file.path, previous, mode=file.mode, owner=file.owner,
                                  group=file.group, secret=is_secret(file))
    else:
        run.run(name, ["rm", "-f", "--", file.path])


def remove_file(run: Run, name: str, file: File) -> bool:
    """Remove a file the configuration no longer has (``file``: as last committed), where
    that is allowed; its content goes into the journal first."""
    if not removable(file.path):
        return False
    message = f"Removing '{file.path}' on node '{name}'"
    with run.step(message, quiet=True):
        current = read_current(run, name, file.path)
    if current is None:
        return False
    with run.step(message):
        run.run(name, ["rm", "-f", "--", file.path])
    run.remember(f"Putting back '{file.path}' on node '{name}'",
                 lambda: _restore(run, name, file, current))
    return True


FIRST = ("/etc/hosts", "/etc/corosync/")


def write_order(files: Iterable[File]) -> list[File]:
    """Files in the order Figure 26 updates them: /etc/hosts (the node names everything else
    uses), corosync's files, then the rest by path."""
    def rank(file: File) -> tuple[int, str]:
        found = next((i for i, prefix in enumerate(FIRST) if file.path.startswith(prefix)),
                     len(FIRST))
        return found, file.path

    return sorted(files, key=rank)


def agent_files() -> tuple[File, ...]:
    """The programs genweb installs on every node (install.sh install_agents does the same):
    OCF resource agents (provider amtelco), fence agents, Pacemaker alert agents."""
    files = []
    ocf = AGENTS_DIR / "ocf"
    for path in sorted(ocf.iterdir()) if ocf.is_dir() else ():
        if path.is_file():
            files.append(File(f"{cluster.OCF_PROVIDER_DIR}/{path.name}", path.read_text(), 0o755))
    for path in sorted(AGENTS_DIR.rglob("fence_*")) if AGENTS_DIR.is_dir() else ():
        if path.is_file() and "." not in path.name:
            files.append(File(f"/usr/sbin/{path.name}", path.read_text(), 0o755))
    for folder in ("alert", "alerts"):
        for path in sorted((AGENTS_DIR / folder).glob("*")):
            if path.is_file():
                files.append(File(f"/usr/share/pacemaker/alerts/{path.name}", path.read_text(),
                                  0o755))
    return tuple(files)


# -- the cluster ---------------------------------------------------------------------------------


def cluster_state(run: Run, names: Sequence[str]) -> tuple[ClusterState | None, str | None]:
    """The cluster as the first node that answers crm_mon sees it, and that node."""
    for name in names:
        try:
            result = run.run(name, CRM_MON, check=False, timeout=30)
        except (NodeError, StepFailed):
            continue
        if result.rc != 0:
            continue
        try:
            return parse_crm_mon(result.stdout), name
        except StateUnreadable:
            continue
    return None, None


def wait_for(run: Run, names: Sequence[str], ready: Callable[[ClusterState], bool],
             timeout: float, what: str, *, settle: float = 0.0) -> ClusterState:
    """Poll crm_mon until ``ready`` (and still ready ``settle`` seconds later: a resource can
    look started for a moment and fail); StepFailed naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: ClusterState | None = None
    since: float | None = None
    while True:
        state, _ = cluster_state(run, names)
        if state is not None:
            last = state
            if not ready(state):
                since = None
            elif since is None:
                since = time.monotonic()
            if since is not None and time.monotonic() - since >= settle:
                return state
        if time.monotonic() >= deadline:
            seen = (f"online: {', '.join(last.online) or 'none'}; quorum: "
                    f"{'yes' if last.quorate else 'no'}"
                    + (f"; failed: {'; '.join(map(str, last.failures[-3:]))}"
                       if last.failures else "")
                    ) if last else "no node answered crm_mon"
            raise StepFailed(f"{what} did not happen within {timeout:g} s ({seen})")
        run.sleep(POLL_SECONDS)


def set_fencing(run: Run, name: str, enabled: bool) -> None:
    run.run(name, ["crm", "configure", "property", f"stonith-enabled={str(enabled).lower()}"])


def crm_without_fencing(crm: str) -> str:
    """The crm script with stonith-enabled false: what is loaded while fencing is disabled, so
    that loading it does not switch fencing back on before the change is complete."""
    on, off = 'stonith-enabled="true"', 'stonith-enabled="false"'
    return crm.replace(on, off, 1)


def crm_holding(crm: str, rid: str) -> str:
    """The crm script with resource ``rid`` held stopped (meta target-role=Stopped).

    A full restart loads the CIB this way for Kamailio: it must not start before the proxy
    database on the new primary has its tables, users and rows, or its start fails and
    Pacemaker moves the whole service away from the node that was just prepared.
    ``crm resource start`` lets it go.
    """
    lines = crm.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(f"primitive {rid} ")),
                 None)
    if start is None:
        return crm
    end = start
    while lines[end].endswith(" \\") and end + 1 < len(lines):
        end += 1
    for i in range(start, end + 1):
        if lines[i].lstrip().startswith("meta "):
            tail = " \\" if lines[i].endswith(" \\") else ""
            body = lines[i][:-2] if tail else lines[i]
            lines[i] = f'{body} target-role="Stopped"{tail}'
            return "\n".join(lines)
    lines[end] += ' \\\n\tmeta target-role="Stopped"'
    return "\n".join(lines)


def load_crm(run: Run, name: str, crm: str) -> None:
    """``crm configure load update`` of a script written root-only on the node."""
    ensure_dir(run, name, CRM_SCRIPT)
    run.node(name).write_file(CRM_SCRIPT, crm, mode=0o600, secret=True)
    run.run(name, ["crm", "-D", "plain", "configure", "load", "update", CRM_SCRIPT],
            timeout=180)


def configured_ids(run: Run, name: str) -> set[str]:
    """Every id in the CIB's configuration section (to delete only what is there)."""
    import xml.etree.ElementTree as ET

    xml = run.run(name, ["cibadmin", "--query", "--scope", "configuration"]).stdout
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return set()
    return {element.get("id", "") for element in root.iter() if element.get("id")}


def delete_ids(run: Run, name: str, ids: Iterable[str]) -> list[str]:
    """Delete the ids still in the CIB (a resource first stopped by Pacemaker: --force)."""
    wanted = [rid for rid in ids if rid]
    if not wanted:
        return []
    present = configured_ids(run, name)
    stale = [rid for rid in wanted if rid in present]
    if stale:
        run.run(name, ["crm", "-D", "plain", "configure", "delete", "--force", *stale],
                timeout=180)
    return stale


def apply_cib(run: Run, name: str, crm: str, stale_ids: Iterable[str],
              previous: tuple[str, Sequence[str]] | None) -> None:
    """Load the script and delete the ids it no longer defines. ``previous`` is how to go
    back: the last committed script and the ids this one adds (load never deletes)."""
    with run.step("Updating the cluster configuration (CIB)"):
        load_crm(run, name, crm)
        delete_ids(run, name, stale_ids)
    if previous is not None:
        old_crm, added = previous
        run.remember("Putting back the previous cluster configuration (CIB)",
                     lambda: (load_crm(run, name, old_crm), delete_ids(run, name, added)))


def node_lines(nodes: Sequence[Mapping[str, str]]) -> str:
    """crm ``node`` statements: a shadow CIB needs the nodes its constraints name."""
    return "".join(f"node {int(node['nodeID'])}: {cluster.node_word(node['nodeName'])}\n"
                   for node in nodes)


def start_cluster(run: Run, name: str) -> None:
    """``crm cluster start`` (5.1.4): nothing happens where it already runs."""
    run.run(name, ["crm", "cluster", "start"], timeout=180)


def stop_cluster(run: Run, name: str) -> None:
    run.run(name, ["crm", "cluster", "stop"], timeout=300)


def boot_mode(run: Run, name: str, commands: Iterable[Sequence[str]]) -> None:
    for argv in commands:
        run.run(name, list(argv))
