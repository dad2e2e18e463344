"""render: a pure function from a configuration snapshot to every node's files, the cluster's
crm script and the proxy database's rows. No I/O; the same snapshot gives the same bytes.

Each engine contributes through a small renderer registered below:
- a *node renderer* ``(snapshot, node) -> Iterable[File]`` for files on each node;
- a *crm renderer* ``(snapshot) -> str`` for its part of the cluster configuration;
- a *rows renderer* ``(snapshot) -> Mapping[table, rows]`` for the proxy database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .snapshot import Snapshot


@dataclass(frozen=True)
class File:
    """A file to install on a node: the commit writes it atomically with this mode and owner."""

    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"


Row = Mapping[str, str | int | None]


@dataclass(frozen=True)
class Rendered:
    files: Mapping[str, tuple[File, ...]]  # nodeName -> files, sorted by path
    crm: str  # crm shell script (``crm configure load update``) for the whole cluster
    db_rows: Mapping[str, tuple[Row, ...]] = field(default_factory=dict)  # table -> rows

    def file(self, node: str, path: str) -> File:
        for candidate in self.files[node]:
            if candidate.path == path:
                return candidate
        raise KeyError(f"{path} is not rendered for {node}")


NodeRenderer = Callable[[Snapshot, Mapping[str, str]], Iterable[File]]
CrmRenderer = Callable[[Snapshot], str]
RowsRenderer = Callable[[Snapshot], Mapping[str, Iterable[Row]]]

NODE_RENDERERS: list[NodeRenderer] = []
CRM_RENDERERS: list[CrmRenderer] = []
ROWS_RENDERERS: list[RowsRenderer] = []


def node_renderer(func: NodeRenderer) -> NodeRenderer:
    NODE_RENDERERS.append(func)
    return func


def crm_renderer(func: CrmRenderer) -> CrmRenderer:
    CRM_RENDERERS.append(func)
    return func


def rows_renderer(func: RowsRenderer) -> RowsRenderer:
    ROWS_RENDERERS.append(func)
    return func


def render(snapshot: Snapshot) -> Rendered:
    _load_engines()
    files = {}
    for node in snapshot.nodes:
        node_files = [file for renderer in NODE_RENDERERS for file in renderer(snapshot, node)]
        paths = [file.path for file in node_files]
        duplicates = {path for path in paths if paths.count(path) > 1}
        if duplicates:
            raise ValueError(f"two renderers write {sorted(duplicates)}")
        files[node["nodeName"]] = tuple(sorted(node_files, key=lambda file: file.path))
    crm = "\n".join(part.rstrip("\n") + "\n" for part in (r(snapshot) for r in CRM_RENDERERS) if part)
    rows: dict[str, tuple[Row, ...]] = {}
    for renderer in ROWS_RENDERERS:
        for table, table_rows in renderer(snapshot).items():
            rows[table] = rows.get(table, ()) + tuple(table_rows)
    return Rendered(MappingProxyType(files), crm, MappingProxyType(rows))


def _load_engines() -> None:
    """Import the engine modules once so that their renderers register themselves."""
    from .. import kamailio  # noqa: F401
    from . import alerts, cluster, database, hosts, media  # noqa: F401
