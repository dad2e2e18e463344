"""System Status (manual 4.0, Figure 4): what the cluster and Kamailio say now, read-only.

``status_document(app)`` (inside an application context) is the one document the page, its
JSON refresh and ``GET /api/status`` all show: commit status from the store, the cluster from
``crm_mon`` of a node that answered (named), every node's reachability, and the dispatcher
table from the active node's Kamailio. Nothing secret is in it: node passwords stay in the
targets, and node errors are the operator messages of genweb.nodes, which mask secrets.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from .. import store
from ..commit.access import node_access, target
from ..commit.cluster import floating_ips
from ..commit.snapshot import Snapshot, take_snapshot
from .reader import (
    CACHE_SECONDS,
    Known,
    NodeAnswer,
    StatusCache,
    ask_all,
    cache_of,
    chosen,
    iso,
    now_iso,
    status_access,
)

REFRESH_SECONDS = 5  # how often the page asks again


def commit_status() -> dict[str, str]:
    """4.0's "Commit Status": Current, or Changes pending (saved but not committed)."""
    if store.has_pending_changes():
        return {"status": "pending", "label": "Changes pending",
                "detail": "Saved changes are not committed yet: Commit Configs applies them."}
    return {"status": "current", "label": "Current",
            "detail": "The nodes run the configuration last committed."}


def _floating(snapshot: Snapshot) -> list[dict[str, str]]:
    try:
        return [{"resource": rid, "address": params["ip"]} for rid, params in floating_ips(snapshot)]
    except (ValueError, KeyError):  # incomplete configuration: the picture names no address
        return []


def status_document(app: Flask, *, max_age: float = CACHE_SECONDS) -> dict[str, Any]:
    """The status, read at most ``max_age`` seconds ago (one read at a time)."""
    cache = cache_of(app)
    with cache.lock:
        if cache.document is not None and time.monotonic() - cache.read_at < max_age:
            # The commit status is the store's and cheap: always current.
            return {**cache.document, "commit": commit_status()}
        # The nodes the cluster runs: the committed ones, else (never committed) the staged.
        committed = take_snapshot(committed=True)
        snapshot = committed if committed.nodes else take_snapshot()
        targets = [target(node) for node in snapshot.nodes]
        answers = ask_all(status_access(node_access(app)), targets)
        document = _document(cache, answers, snapshot)
        cache.document, cache.read_at = document, time.monotonic()
        return document


def _document(cache: StatusCache, answers: list[NodeAnswer], snapshot: Snapshot) -> dict[str, Any]:
    shown = chosen(answers)
    known = cache.known
    stale = False
    if shown is not None and shown.cluster is not None:
        known.cluster, known.cluster_from, known.cluster_at = shown.cluster, shown.name, time.time()
    elif known.cluster is not None and answers:
        stale = True  # (with every HA Node deleted there is no cluster to remember)
    dispatcher = _dispatcher(shown, answers)
    if dispatcher.get("available"):
        known.dispatcher = dispatcher
    elif stale and known.dispatcher is not None:
        dispatcher = {**known.dispatcher, "stale": True,
                      "message": f"{dispatcher['message']} (showing the last table read)"}
    cluster = known.cluster if (shown or stale) else None
    unreachable = [a.name for a in answers if not a.reachable]
    return {
        "readAt": now_iso(),
        "commit": commit_status(),
        "answeredBy": shown.name if shown else None,
        "stale": stale,
        "clusterFrom": known.cluster_from if cluster else None,
        "clusterReadAt": iso(known.cluster_at) if cluster else None,
        "message": _message(answers, shown, stale, known),
        "unreachable": unreachable,
        "nodes": [answer.reach() for answer in answers],
        "floatingIps": _floating(snapshot),
        "cluster": cluster,
        "dispatcher": dispatcher,
        "refreshSeconds": REFRESH_SECONDS,
    }


def _dispatcher(shown: NodeAnswer | None, answers: list[NodeAnswer]) -> dict[str, Any]:
    empty: dict[str, Any] = {"node": None, "available": False, "primarySet": None,
                             "destinations": [], "stale": False}
    if not answers:
        return {**empty, "message": "No HA Nodes are configured: there is no dispatcher to show."}
    if shown is None or shown.cluster is None:
        return {**empty, "message": "No node answered: the active node is unknown."}
    active = shown.cluster["serviceNode"] or shown.cluster["primary"]
    if active is None:
        return {**empty, "message": "No node holds the floating IPs: Kamailio is not running."}
    found = next((a for a in answers if a.name == active), None)
    if found is None or not found.reachable:
        reason = f": {found.message}" if found is not None and found.message else ""
        return {**empty, "node": active,
                "message": f"The active node {active} could not be reached{reason}."}
    if found.dispatcher is None:
        return {**empty, "node": active,
                "message": f"The active node {active} did not report itself active: "
                           f"{found.message or 'the nodes disagree (a failover in progress?)'}."}
    return {**found.dispatcher, "stale": False}


def _message(answers: list[NodeAnswer], shown: NodeAnswer | None, stale: bool,
             known: Known) -> str:
    if not answers:
        return "No HA Nodes are configured: there is no cluster to show."
    if shown is not None:
        return f"Cluster status as reported by {shown.name}."
    if stale:
        return (f"No node answered now: showing the last status, reported by "
                f"{known.cluster_from} at {iso(known.cluster_at)}.")
    return "No node answered: the cluster status is unknown."
