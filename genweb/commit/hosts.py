"""/etc/hosts on every node: each node's nodeName with its privateIP (5.2.2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .render import File, node_renderer
from .snapshot import Snapshot

HEADER = "# Written by genweb at each commit: edits here are lost.\n"


@node_renderer
def hosts_file(snapshot: Snapshot, node: Mapping[str, str]) -> Iterable[File]:
    lines = [HEADER, "127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n"]
    lines += [f"{other['privateIP']}\t{other['nodeName']}\n" for other in snapshot.nodes]
    yield File("/etc/hosts", "".join(lines))
