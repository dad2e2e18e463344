"""The cluster as System Status shows it (4.0, Figure 4), from ``crm_mon --output-as=xml``.

``genweb.commit.clusterstate`` reads the same XML for the commit's decisions (which node is
primary, what runs where); it is reused here for those answers. This module keeps what the
commit does not need: the summary lines, each node's state and every resource with its role,
as a tree (groups and clones hold their members), for the page, its picture and the API.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..commit.clusterstate import ClusterState, StateUnreadable, parse_crm_mon

# Pacemaker 2.1 says Promoted/Unpromoted; older versions (and the manual's figure) Master/Slave.
ROLE_NAMES = {"Master": "Promoted", "Slave": "Unpromoted"}
FENCE_HISTORY = 5  # the newest fence events shown


def read_cluster(xml: str) -> dict[str, Any]:
    """The status document's ``cluster`` part; raises StateUnreadable for anything not XML."""
    state = parse_crm_mon(xml)  # validates, and gives the primary as the commit sees it
    root = ET.fromstring(xml)
    fences = _fence_history(root)
    return {
        "summary": _summary(root),
        "nodes": [_node(item, fences) for item in root.iterfind("nodes/node")],
        "resources": [_resource(item) for item in _children(root.find("resources"))],
        "primary": state.primary,
        "serviceNode": state.service_node,
        "failures": [str(failure) for failure in state.failures],
        "fenceHistory": fences[:FENCE_HISTORY],
    }


def cluster_state(xml: str) -> ClusterState:
    return parse_crm_mon(xml)


def _summary(root: ET.Element) -> dict[str, Any]:
    def attr(path: str, name: str) -> str:
        found = root.find(path)
        return found.get(name, "") if found is not None else ""

    dc = root.find("summary/current_dc")
    present = dc is not None and dc.get("present") == "true"
    change = root.find("summary/last_change")
    changed = ""
    if change is not None:
        changed = (f"{change.get('time', '')} by {change.get('user', '?')} via "
                   f"{change.get('client', '?')} on {change.get('origin', '?')}")
    return {
        "stack": attr("summary/stack", "type"),
        "dc": dc.get("name", "") if present and dc is not None else "",
        "dcVersion": dc.get("version", "") if present and dc is not None else "",
        "quorum": present and dc is not None and dc.get("with_quorum") == "true",
        "lastUpdated": attr("summary/last_update", "time"),
        "lastChange": changed,
        "nodesConfigured": _int(attr("summary/nodes_configured", "number")),
        "resourcesConfigured": _int(attr("summary/resources_configured", "number")),
        "stonithEnabled": attr("summary/cluster_options", "stonith-enabled") == "true",
        "maintenanceMode": attr("summary/cluster_options", "maintenance-mode") == "true",
    }


def _node(item: ET.Element, fences: list[dict[str, str]]) -> dict[str, Any]:
    name = item.get("name", "")
    flags = {key: item.get(key) == "true" for key in
             ("online", "standby", "maintenance", "unclean", "pending", "shutdown")}
    last_fence = next((f for f in fences if f["target"] == name), None)
    # A node that is offline and whose newest fence operation succeeded was cut off by its
    # fence device and stays so until UnFence (genweb's fences turn reboot into off).
    fenced = (not flags["online"] and last_fence is not None
              and last_fence["status"] == "success" and last_fence["action"] != "on")
    return {"name": name, "id": item.get("id", ""), **flags,
            "dc": item.get("is_dc") == "true", "fenced": fenced,
            "remote": item.get("type", "member") != "member",
            "resourcesRunning": _int(item.get("resources_running", "0")),
            "state": _node_state(flags, fenced)}


def _node_state(flags: dict[str, bool], fenced: bool) -> str:
    """One word, as crm_mon's text output groups nodes."""
    if flags["unclean"]:
        return "UNCLEAN"
    if fenced:
        return "Fenced"
    if not flags["online"]:
        return "OFFLINE"
    if flags["pending"]:
        return "pending"
    if flags["standby"]:
        return "standby"
    if flags["maintenance"]:
        return "maintenance"
    return "Online"


def _children(parent: ET.Element | None) -> list[ET.Element]:
    if parent is None:
        return []
    return [child for child in parent if child.tag in ("resource", "group", "clone", "bundle")]


def _resource(item: ET.Element) -> dict[str, Any]:
    if item.tag == "resource":
        role = item.get("role", "")
        return {"id": item.get("id", ""), "kind": "primitive",
                "agent": item.get("resource_agent", ""),
                "role": ROLE_NAMES.get(role, role),
                "active": item.get("active") == "true",
                "failed": item.get("failed") == "true",
                "managed": item.get("managed", "true") == "true",
                "nodes": [node.get("name", "") for node in item.iterfind("node")],
                "members": []}
    members = [_resource(child) for child in _children(item)]
    return {"id": item.get("id", ""), "kind": item.tag,
            "agent": "", "role": "", "active": any(m["active"] for m in members),
            "failed": any(m["failed"] for m in members),
            "managed": item.get("managed", "true") == "true",
            "promotable": item.get("multi_state") == "true" or item.get("promotable") == "true",
            "unique": item.get("unique") == "true",
            "nodes": list(dict.fromkeys(n for m in members for n in m["nodes"])),
            "members": members}


def _fence_history(root: ET.Element) -> list[dict[str, str]]:
    """Newest first (crm_mon lists them so; kept in that order)."""
    return [{"target": event.get("target", ""), "action": event.get("action", ""),
             "status": event.get("status", ""), "delegate": event.get("delegate", ""),
             "origin": event.get("origin", ""), "completed": event.get("completed", "")}
            for event in root.iterfind("fence_history/fence_event")]


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


__all__ = ["StateUnreadable", "cluster_state", "read_cluster"]
