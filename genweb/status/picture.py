"""The cluster as a picture (inline SVG) beside the status text: one box per node with its
state, the floating IPs drawn on the node that holds them, and each resource's role there.

Pure: a function of the status document. Every text goes through markupsafe's escape (node and
resource names come from the cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

BOX_W, BOX_GAP, LINE_H, TOP = 190, 24, 16, 74
# fill, stroke per node state (the page's CSS palette)
COLOURS = {"Online": ("#e7f4ea", "#1e6b35"), "standby": ("#fff6e0", "#8a5a00"),
           "maintenance": ("#fff6e0", "#8a5a00"), "pending": ("#fff6e0", "#8a5a00"),
           "OFFLINE": ("#eef1f4", "#5b6875"), "Fenced": ("#fbe9e7", "#b3261e"),
           "UNCLEAN": ("#fbe9e7", "#b3261e"), "unknown": ("#f6f8fa", "#9aa5b1")}
ROLE_MARK = {"Promoted": "★", "Unpromoted": "☆", "Started": "●", "Stopped": "○"}


def placements(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, list[tuple[str, str]]],
                                                              list[str]]:
    """(node -> [(resource id, role)], ids of primitives running nowhere)."""
    where: dict[str, list[tuple[str, str]]] = {}
    stopped: list[str] = []

    def walk(item: dict[str, Any]) -> None:
        if item["kind"] != "primitive":
            for member in item["members"]:
                walk(member)
            return
        if not item["nodes"]:
            stopped.append(item["id"])
        for node in item["nodes"]:
            role = "Failed" if item["failed"] else (item["role"] or "Started")
            where.setdefault(node, []).append((item["id"], role))

    for resource in resources:
        walk(resource)
    # A clone's spare instance is stopped while its siblings run: only ids running nowhere count.
    running = {rid for placed in where.values() for rid, _ in placed}
    return where, [rid for rid in dict.fromkeys(stopped) if rid not in running]


def node_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configured node (and any the cluster knows beyond them) with its state."""
    cluster = document.get("cluster") or {}
    known = {node["name"]: node for node in cluster.get("nodes", [])}
    reach = {node["name"]: node for node in document.get("nodes", [])}
    names = list(dict.fromkeys([*reach, *known]))
    return [{"name": name, "state": known.get(name, {}).get("state", "unknown"),
             "dc": known.get(name, {}).get("dc", False),
             "reachable": reach.get(name, {}).get("reachable", name in known),
             "answered": name == document.get("answeredBy")} for name in names]


def render_svg(document: dict[str, Any]) -> Markup:
    cluster = document.get("cluster") or {}
    where, stopped = placements(cluster.get("resources", []))
    rows = node_rows(document)
    holder = cluster.get("primary")
    height = TOP + 60 + LINE_H * max([len(where.get(r["name"], [])) for r in rows] + [1]) + 40
    width = max(len(rows), 1) * (BOX_W + BOX_GAP) + BOX_GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="cluster-picture" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="Cluster picture">', _floating_box(document, rows, holder)]
    for index, row in enumerate(rows):
        parts.append(_node_box(index, row, where.get(row["name"], []), holder, height))
    if stopped:
        parts.append(f'<text x="{BOX_GAP}" y="{height - 12}" class="stopped" fill="#5b6875" '
                     f'font-size="12">Stopped: {escape(", ".join(stopped))}</text>')
    if document.get("stale"):
        parts.append(f'<text x="{width - 8}" y="14" text-anchor="end" fill="#8a5a00" '
                     f'font-size="12">last known state</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _floating_box(document: dict[str, Any], rows: list[dict[str, Any]],
                  holder: str | None) -> str:
    addresses = ", ".join(ip["address"] for ip in document.get("floatingIps", [])) or "floating IPs"
    names = [row["name"] for row in rows]
    if holder:
        label, colour = f"{addresses} → {holder}", "#1f5f99"
    elif document.get("cluster"):
        label, colour = f"{addresses}: held by no node", "#b3261e"
    else:  # no node told us: not known to be down
        label, colour = f"{addresses}: holder unknown", "#5b6875"
    text = (f'<text x="{BOX_GAP}" y="20" font-size="13" font-weight="bold" '
            f'class="floating-ips" fill="{colour}">'
            f'{escape(label)}</text>')
    if holder in names:
        x = BOX_GAP + names.index(holder) * (BOX_W + BOX_GAP) + BOX_W // 2
        text += (f'<line x1="{x}" y1="28" x2="{x}" y2="{TOP}" stroke="#1f5f99" '
                 f'stroke-width="3" marker-end="none"/>'
                 f'<circle cx="{x}" cy="34" r="6" fill="#1f5f99"/>')
    return text


def _node_box(index: int, row: dict[str, Any], resources: list[tuple[str, str]],
              holder: str | None, height: int) -> str:
    x = BOX_GAP + index * (BOX_W + BOX_GAP)
    fill, stroke = COLOURS.get(row["state"], COLOURS["unknown"])
    dash = "" if row["reachable"] else ' stroke-dasharray="6 4"'
    state = row["state"] if row["reachable"] else f"{row['state']}, unreachable"
    name = escape(row["name"])
    out = [f'<g class="node node-{escape(row["state"].lower())}" data-node="{name}">',
           f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{height - TOP - 30}" rx="8" '
           f'fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>',
           f'<text x="{x + 10}" y="{TOP + 20}" font-size="14" font-weight="bold">{name}'
           f'{" (DC)" if row["dc"] else ""}</text>',
           f'<text x="{x + 10}" y="{TOP + 38}" font-size="12" fill="{stroke}" '
           f'class="node-state">{escape(state)}</text>']
    if row["state"] in ("Fenced", "UNCLEAN", "OFFLINE"):
        out.append(f'<line x1="{x + 6}" y1="{TOP + 6}" x2="{x + BOX_W - 6}" '
                   f'y2="{height - 36}" stroke="{stroke}" stroke-opacity="0.35" stroke-width="3"/>')
    if row["name"] == holder:
        out.append(f'<text x="{x + BOX_W - 10}" y="{TOP + 20}" text-anchor="end" '
                   f'font-size="11" fill="#1f5f99">floating IPs</text>')
    for line, (rid, role) in enumerate(resources):
        mark = ROLE_MARK.get(role, "✖" if role == "Failed" else "•")
        colour = "#b3261e" if role == "Failed" else "#1d2733"
        out.append(f'<text x="{x + 10}" y="{TOP + 60 + line * LINE_H}" font-size="12" '
                   f'fill="{colour}">{mark} {escape(rid)}: {escape(role)}</text>')
    out.append("</g>")
    return "".join(out)
