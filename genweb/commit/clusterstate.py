"""What the running cluster says about itself: ``crm_mon --output-as=xml``, read on a node.

The primary (the manual's "current primary node", 15.0) is the node that holds ``ip_group``:
every service follows the floating IPs (cluster.py), so that is where calls go.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .cluster import IP_GROUP, KAMAILIO

CRM_MON = ("crm_mon", "--output-as=xml")


@dataclass(frozen=True)
class Failure:
    """One failed operation, as crm_mon's <failures> lists it."""

    resource: str
    node: str
    task: str
    reason: str  # the agent's exit reason, or the exit status' name

    def __str__(self) -> str:
        return f"{self.resource} {self.task} on {self.node}: {self.reason}"


@dataclass(frozen=True)
class ClusterState:
    quorate: bool
    online: tuple[str, ...]  # member nodes online, in crm_mon's order
    running: dict[str, tuple[str, ...]] = field(default_factory=dict)  # resource -> nodes
    failed: tuple[str, ...] = ()  # resources with a failed instance
    failures: tuple[Failure, ...] = ()  # failed operations Pacemaker keeps (until cleanup)

    def failures_of(self, resource: str) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.resource == resource)

    @property
    def primary(self) -> str | None:
        """The node holding every member of ip_group, or None (not running, or split)."""
        nodes = self.running.get(IP_GROUP, ())
        return nodes[0] if len(nodes) == 1 else None

    def runs(self, resource: str, node: str) -> bool:
        return node in self.running.get(resource, ())

    @property
    def service_node(self) -> str | None:
        """Where the service answers: the IPs and Kamailio started on the same node."""
        primary = self.primary
        return primary if primary and self.runs(KAMAILIO, primary) else None


class StateUnreadable(ValueError):
    """crm_mon's output was not the XML we expect (the message says what)."""


def parse_crm_mon(xml: str) -> ClusterState:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise StateUnreadable(f"crm_mon did not answer with XML ({exc})") from None
    dc = root.find("summary/current_dc")
    quorate = dc is not None and dc.get("with_quorum") == "true"
    online = tuple(node.get("name", "") for node in root.iterfind("nodes/node")
                   if node.get("online") == "true" and node.get("type", "member") == "member")
    running: dict[str, tuple[str, ...]] = {}
    failed: list[str] = []
    resources = root.find("resources")
    for element in resources if resources is not None else ():
        _collect(element, running, failed)
    failures = tuple(_failure(item) for item in root.iterfind("failures/failure"))
    return ClusterState(quorate, online, running, tuple(dict.fromkeys(failed)), failures)


def _failure(item: ET.Element) -> Failure:
    """op_key is <resource>_<task>_<interval>; the resource id may hold underscores."""
    key = item.get("op_key", "")
    resource, task = key, item.get("task", "")
    parts = key.rsplit("_", 2)
    if len(parts) == 3:
        resource, task = parts[0], parts[1]
    reason = item.get("exitreason") or item.get("exitstatus") or item.get("status") or "failed"
    return Failure(resource, item.get("node", ""), task, reason)


def _collect(element: ET.Element, running: dict[str, tuple[str, ...]],
             failed: list[str]) -> tuple[str, ...]:
    """A resource, group or clone: record where each id runs; return where this one runs.

    A group runs on a node only where all its members run (a half-started ip_group is not a
    primary). A clone runs wherever an instance runs; a promotable clone (and its primitive)
    also records ``<id>:Promoted``. Instances of an anonymous clone share one id: their nodes
    are merged, never overwritten.
    """
    rid = element.get("id", "")
    if element.get("failed") == "true":
        failed.append(rid)
    if element.tag == "resource":
        nodes = _nodes(element)
        _add(running, rid, nodes)
        if element.get("role") in ("Promoted", "Master"):
            _add(running, f"{rid}:Promoted", nodes)
        return nodes
    member_nodes = [(member, _collect(member, running, failed)) for member in element
                    if member.tag in ("resource", "group", "clone")]
    if any(member.get("failed") == "true" for member, _ in member_nodes):
        failed.append(rid)
    if element.tag == "group":
        sets = [set(nodes) for _, nodes in member_nodes]
        nodes = tuple(sorted(set.intersection(*sets))) if sets else ()
    else:
        nodes = tuple(dict.fromkeys(n for _, found in member_nodes for n in found))
        promoted = [n for member, found in member_nodes
                    if member.get("role") in ("Promoted", "Master") for n in found]
        if promoted:
            _add(running, f"{rid}:Promoted", tuple(promoted))
    _add(running, rid, nodes)
    return nodes


def _add(running: dict[str, tuple[str, ...]], rid: str, nodes: tuple[str, ...]) -> None:
    running[rid] = tuple(dict.fromkeys((*running.get(rid, ()), *nodes)))


RUNNING_ROLES = ("Started", "Promoted", "Unpromoted", "Master", "Slave")


def _nodes(resource: ET.Element) -> tuple[str, ...]:
    """Where a primitive runs: active in a settled role, not failed, nothing pending (a start
    in progress shows as active with role "Starting", or with a pending attribute)."""
    if resource.get("active") != "true" or resource.get("role") not in RUNNING_ROLES \
            or resource.get("failed") == "true" or resource.get("pending"):
        return ()
    return tuple(node.get("name", "") for node in resource.iterfind("node"))
