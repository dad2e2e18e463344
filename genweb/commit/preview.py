"""What the Commit Configs page (16.0, Figure 27) and ``GET /api/commit`` show before anything
runs: every staged change, its effect, the commit's effect, and the rendered file differences
per node (last committed render against the staged one), with no secret in any of it.

Secrets are kept out by construction, not by pattern: both configurations are also rendered
with every secret (and every generated value) replaced by a fixed stand-in. A line of a file
that differs between the real and the stand-in render depends on a secret, directly or through
a hash (an HA1, a database URL); such lines are shown as ``SECRET_LINE``. The differences shown
are those of the stand-in renders with those lines hidden, so a password change shows as
"changed (secret values only)".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..catalogue import PAGES, Effect
from .inputs import PUBLIC_GENERATED, CommitInputs, gather, token_changed
from .plan import Change
from .render import Rendered, render
from .snapshot import Snapshot

SECRET_LINE = "•••••• (holds a secret: hidden)"
HIDDEN_FILE = "•••••• (the whole file holds secrets: hidden)"
# A stand-in every secret kind accepts: 32 hex digits is an HA1 hash, and a pass phrase of 8+
# printable characters.
STAND_IN = "0123456789abcdef0123456789abcdef"
GENERATED_STAND_INS = {
    "rtpDbPass": "standInRtpDbPass0000",
    "corosyncAuthkey": "A" * 344,
    "kamailioDefaultKey": "-----BEGIN PRIVATE KEY-----\nstand-in\n-----END PRIVATE KEY-----\n",
    "kamailioDefaultCert": "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n",
}
CLUSTER = "(cluster configuration: crm script)"
DATABASE = "(proxy database rows)"


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str  # "new", "changed", "unchanged", "removed"
    diff: str  # unified diff, secrets hidden ("" when unchanged)
    secret_only: bool = False  # only secret values changed: nothing to show

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "status": self.status, "secretOnly": self.secret_only,
                "diff": self.diff}


@dataclass(frozen=True)
class NodeDiff:
    node: str
    status: str  # "new node", "removed node" or ""
    files: tuple[FileDiff, ...]

    @property
    def changed(self) -> tuple[FileDiff, ...]:
        return tuple(file for file in self.files if file.status != "unchanged")


@dataclass(frozen=True)
class Preview:
    changes: tuple[Change, ...]
    effect: Effect
    full_rebuild: bool
    first_commit: bool
    summary: str
    nodes: tuple[NodeDiff, ...] = ()
    cluster: FileDiff | None = None
    database: FileDiff | None = None
    error: str = ""  # the staged configuration cannot be rendered: the commit would fail
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        return {
            "effect": self.effect.name.lower(), "effectLabel": self.effect.label,
            "fullRebuild": self.full_rebuild, "firstCommit": self.first_commit,
            "summary": self.summary, "error": self.error, "notes": list(self.notes),
            "changes": [{"page": c.page, "where": c.where, "record": c.record,
                         "action": c.action, "key": c.key, "old": c.old, "new": c.new,
                         "effect": c.effect.name.lower(), "effectLabel": c.effect.label}
                        for c in self.changes],
            "nodes": [{"node": n.node, "status": n.status,
                       "files": [f.as_json() for f in n.files]} for n in self.nodes],
            "cluster": self.cluster.as_json() if self.cluster else None,
            "database": self.database.as_json() if self.database else None,
        }


def make_preview() -> Preview:
    """Inside an application context."""
    inputs = gather(renew=False)
    plan = inputs.plan
    effect = Effect.RESTART if inputs.first_commit or token_changed(inputs) else plan.effect
    summary = ("First commit: the whole high availability system is built and started (full "
               "restart)." if inputs.first_commit else plan.summary())
    notes = _notes(inputs)
    base = dict(changes=plan.changes, effect=effect, full_rebuild=plan.full_rebuild,
                first_commit=inputs.first_commit, summary=summary, notes=notes)
    try:
        new = Shown.of(inputs.staged)
    except (ValueError, KeyError) as exc:
        return Preview(**base, error=f"The staged configuration cannot be built: {exc}")
    old = None
    if inputs.committed is not None and inputs.committed.nodes:
        try:
            old = Shown.of(inputs.committed)
        except (ValueError, KeyError):
            old = None
    return Preview(**base, nodes=node_diffs(old, new),
                   cluster=file_diff(CLUSTER, old.crm if old else None, new.crm,
                                     real_old=old.real_crm if old else None,
                                     real_new=new.real_crm),
                   database=file_diff(DATABASE, old.rows if old else None, new.rows,
                                      real_old=old.real_rows if old else None,
                                      real_new=new.real_rows))


def _notes(inputs: CommitInputs) -> tuple[str, ...]:
    notes = []
    if inputs.staged.flag("mediaConfig", "updateRtpDbPass"):
        notes.append("updateRtpDbPass is Yes: the commit generates a new media database "
                     "password (redis and rtpengine restart with it), then sets it back to "
                     "Default.")
    if not inputs.staged.nodes:
        notes.append("No HA Nodes are configured: there is nothing to commit to.")
    if token_changed(inputs):
        notes.append("CLUSTER_TOKEN_MS changed since the last commit: the commit restarts the "
                     "cluster with the new Corosync token (full restart).")
    return tuple(notes)


# -- rendering with secrets hidden ------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A configuration's render as it may be shown: {node: {path: text}}, crm, rows."""

    files: Mapping[str, Mapping[str, str]]
    real: Mapping[str, Mapping[str, str]]  # the real contents, only to tell "changed" apart
    crm: str
    rows: str
    real_crm: str
    real_rows: str

    @classmethod
    def of(cls, snapshot: Snapshot) -> Shown:
        real, masked = render(snapshot), render(stand_in(snapshot))
        files = {}
        contents = {}
        for node, node_files in real.files.items():
            hidden = {file.path: file.content for file in masked.files.get(node, ())}
            files[node] = {file.path: sanitize(file.content, hidden.get(file.path, ""))
                           for file in node_files}
            contents[node] = {file.path: file.content for file in node_files}
        return cls(MappingProxyType(files), MappingProxyType(contents),
                   sanitize(real.crm, masked.crm),
                   sanitize(rows_text(real), rows_text(masked)), real.crm, rows_text(real))


def stand_in(snapshot: Snapshot) -> Snapshot:
    """The snapshot with every non-blank secret and every generated value replaced (the
    generated values that are settings, inputs.PUBLIC_GENERATED, are shown as they are)."""
    def hide(page: str, row: Mapping[str, str]) -> dict[str, str]:
        secret = PAGES[page].secret_keys
        return {key: (STAND_IN if key in secret and value else value) for key, value in row.items()}

    settings = {name: hide(name, values) for name, values in snapshot.settings.items()}
    records = {name: [hide(name, row) for row in rows] for name, rows in snapshot.records.items()}
    generated = {name: value if name in PUBLIC_GENERATED
                 else GENERATED_STAND_INS.get(name, STAND_IN)
                 for name, value in snapshot.generated.items()}
    return Snapshot.build(settings, records, generated)


def sanitize(real: str, masked: str) -> str:
    """The stand-in render with every line that depends on a secret hidden."""
    if real == masked:
        return real
    real_lines, masked_lines = real.splitlines(), masked.splitlines()
    if len(real_lines) != len(masked_lines):
        return HIDDEN_FILE + "\n"
    shown = [line if line == hidden else SECRET_LINE
             for line, hidden in zip(real_lines, masked_lines, strict=True)]
    return "\n".join(shown) + ("\n" if masked.endswith("\n") else "")


def rows_text(rendered: Rendered) -> str:
    lines = []
    for table in sorted(rendered.db_rows):
        for row in rendered.db_rows[table]:
            lines.append(f"{table}: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines) + ("\n" if lines else "")


# -- differences ----------------------------------------------------------------------------------


def file_diff(path: str, old: str | None, new: str | None, *, real_old: str | None = None,
              real_new: str | None = None) -> FileDiff:
    if old is None and new is None:
        return FileDiff(path, "unchanged", "")
    if old is None:
        status = "new"
    elif new is None:
        status = "removed"
    else:
        changed = (real_old != real_new) if real_old is not None or real_new is not None \
            else old != new
        status = "changed" if changed else "unchanged"
    if status == "unchanged":
        return FileDiff(path, status, "")
    diff = "".join(difflib.unified_diff(
        (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
        fromfile=f"{path} (committed)" if old is not None else "/dev/null",
        tofile=f"{path} (staged)" if new is not None else "/dev/null"))
    return FileDiff(path, status, diff, secret_only=status == "changed" and old == new)


def node_diffs(old: Shown | None, new: Shown) -> tuple[NodeDiff, ...]:
    nodes: list[NodeDiff] = []
    old_files = old.files if old else {}
    for node, files in new.files.items():
        before = old_files.get(node)
        real_before = old.real.get(node, {}) if old else {}
        diffs = [file_diff(path, before.get(path) if before is not None else None, text,
                           real_old=real_before.get(path), real_new=new.real[node][path])
                 for path, text in files.items()]
        if before is not None:
            diffs += [file_diff(path, text, None) for path, text in before.items()
                      if path not in files]
        nodes.append(NodeDiff(node, "new node" if before is None and old else "",
                              tuple(sorted(diffs, key=lambda d: d.path))))
    for node, files in old_files.items():
        if node not in new.files:
            nodes.append(NodeDiff(node, "removed node",
                                  tuple(file_diff(p, t, None) for p, t in sorted(files.items()))))
    return tuple(nodes)


def changed_files(preview: Preview) -> Sequence[tuple[str, FileDiff]]:
    return [(node.node, file) for node in preview.nodes for file in node.changed]
