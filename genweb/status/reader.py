"""Reading the cluster's status from its nodes: in parallel, bounded in time, cached briefly.

Every committed HA node is asked at once over node access (genweb.nodes) for
``crm_mon --output-as=xml``; the node that holds the floating IPs also answers Kamailio's
``dispatcher.list``. The answer of a quorate node is shown (the first in nodeID order), naming
it; every node that could not be reached is listed with the reason. A read never takes longer
than ``READ_BUDGET`` seconds: a node that has not answered by then counts as unreachable, and
its session ends on its own timeouts.

Reads are shared: requests within ``CACHE_SECONDS`` of the last read get it, and concurrent
requests wait for the one read in progress instead of starting their own, so an open page per
operator and the API together never multiply the SSH sessions. When no node answers, the last
cluster state read is kept and marked stale (with when, and from which node), so the page
goes on showing the last known picture with a clear message.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paramiko
from flask import Flask

from ..commit.clusterstate import CRM_MON, StateUnreadable
from ..nodes import Node, NodeAccess, NodeError, Target
from . import dispatcher
from .crm import read_cluster

CONNECT_TIMEOUT = 3.0  # s: a status page must not wait for a dead node's TCP timeout
COMMAND_TIMEOUT = 6.0  # s for crm_mon (it answers in well under a second)
RPC_TIMEOUT = 2.0  # s per kamcmd: a wedged Kamailio must not cost the node its crm_mon answer
# connect + crm_mon + two kamcmd calls fit in a read, so a slow node is not called unreachable
READ_BUDGET = CONNECT_TIMEOUT + COMMAND_TIMEOUT + 2 * RPC_TIMEOUT + 1.0
CACHE_SECONDS = 3.0  # s a read is reused: the page refreshes every 5 s
MAX_PARALLEL = 15  # the manual's largest cluster


@dataclass
class NodeAnswer:
    """What one node said, or why it could not be asked."""

    name: str
    host: str
    reachable: bool = False
    message: str = ""
    cluster: dict[str, Any] | None = None
    dispatcher: dict[str, Any] | None = None

    def reach(self) -> dict[str, Any]:
        return {"name": self.name, "host": self.host, "reachable": self.reachable,
                "answered": self.cluster is not None, "message": self.message}


@dataclass
class Known:
    """The last cluster and dispatcher state read, for when no node answers."""

    cluster: dict[str, Any] | None = None
    cluster_from: str = ""
    cluster_at: float = 0.0
    dispatcher: dict[str, Any] | None = None


@dataclass
class StatusCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    document: dict[str, Any] | None = None
    read_at: float = 0.0  # monotonic
    known: Known = field(default_factory=Known)


def cache_of(app: Flask) -> StatusCache:
    return app.extensions.setdefault("genweb_status", StatusCache())


def status_access(access: NodeAccess) -> NodeAccess:
    """The app's node access with the short timeouts of a status read (a copy: the commit
    keeps its own, longer ones)."""
    short = copy.copy(access)
    short.connect_timeout = min(access.connect_timeout, CONNECT_TIMEOUT)
    short.command_timeout = min(access.command_timeout, COMMAND_TIMEOUT)
    return short


# -- one node ------------------------------------------------------------------------------------


def ask(access: NodeAccess, target: Target) -> NodeAnswer:
    """crm_mon on the node, and the dispatcher too when this node holds the floating IPs."""
    answer = NodeAnswer(target.name, target.host)
    # Like the database download: an address whose host key nobody recorded gets no traffic
    # (the check after the handshake would refuse it anyway).
    if not access.knows_host(target):
        answer.message = "not contacted: its host key is not recorded (run cpsshkeys)"
        return answer
    try:
        with access.open(target) as node:
            answer.reachable = True
            result = node.run(CRM_MON, sudo=True, timeout=access.command_timeout)
            if result.rc != 0 and not result.stdout.strip().startswith("<"):
                answer.message = f"reached, but crm_mon failed: {_last_line(result.stderr, result.rc)}"
                return answer
            _read_cluster(answer, result.stdout, result.stderr, result.rc)
            if answer.cluster is not None:
                active = answer.cluster["serviceNode"] or answer.cluster["primary"]
                if active == target.name:
                    answer.dispatcher = read_dispatcher(node)
    except NodeError as exc:
        answer.message = _strip_name(str(exc), target.name)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        # A peer that accepts TCP and never speaks SSH gets here from paramiko directly.
        answer.message = f"SSH session failed: {exc or type(exc).__name__}"
    return answer


def _read_cluster(answer: NodeAnswer, xml: str, stderr: str, rc: int) -> None:
    try:
        cluster = read_cluster(xml)
    except StateUnreadable as exc:
        answer.message = f"reached, but crm_mon's answer is unreadable: {exc}"
        return
    if rc != 0 and not cluster["nodes"]:
        # crm_mon answers in XML even when it cannot reach the local cluster daemons.
        answer.message = ("reached, but its cluster software is not running "
                          f"(crm_mon: {_last_line(stderr, rc)})")
        return
    answer.cluster = cluster
    answer.message = "answered"


def read_dispatcher(node: Node) -> dict[str, Any]:
    """The dispatcher table from this node's Kamailio, or why it cannot be read."""
    base = {"node": node.name, "available": False, "primarySet": None, "destinations": [],
            "message": ""}
    try:
        listing = node.run(list(dispatcher.LIST), sudo=True, timeout=RPC_TIMEOUT)
        if listing.rc != 0 or listing.stdout.lstrip().startswith("error"):
            base["message"] = (f"Kamailio on {node.name} did not answer dispatcher.list: "
                               f"{_last_line(listing.stderr or listing.stdout, listing.rc)}")
            return base
        role = node.run(list(dispatcher.PRIMARY), sudo=True, timeout=RPC_TIMEOUT)
        primary = dispatcher.parse_primary(role.stdout + role.stderr)
        rows = dispatcher.parse_list(listing.stdout, primary)
    except (dispatcher.RpcUnreadable, ValueError, TypeError) as exc:
        # RpcUnreadable, or a structure of another shape (a set ID that is not a number): the
        # table is lost, never the node's crm_mon answer read before it.
        base["message"] = f"Kamailio on {node.name} answered something unreadable: {exc}"
        return base
    except NodeError as exc:
        base["message"] = f"{node.name}: {_strip_name(str(exc), node.name)}"
        return base
    return {**base, "available": True, "primarySet": primary, "destinations": rows,
            "message": "" if rows else "no Genesis system is registered in either set"}


def _last_line(text: str, rc: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else f"exit status {rc}"


def _strip_name(text: str, name: str) -> str:
    prefix = f"{name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# -- all nodes -----------------------------------------------------------------------------------


def ask_all(access: NodeAccess, targets: Sequence[Target],
            budget: float = READ_BUDGET) -> list[NodeAnswer]:
    """Every node in parallel; answers in the targets' order. A node still silent when the
    budget is spent is reported as such (its thread ends on its own timeouts)."""
    if not targets:
        return []
    pool = ThreadPoolExecutor(max_workers=min(len(targets), MAX_PARALLEL),
                              thread_name_prefix="genweb-status")
    futures: dict[Future[NodeAnswer], Target] = {pool.submit(ask, access, t): t for t in targets}
    deadline = time.monotonic() + budget
    pending = set(futures)
    while pending and time.monotonic() < deadline:
        _done, pending = wait(pending, timeout=deadline - time.monotonic(),
                              return_when=FIRST_COMPLETED)
    pool.shutdown(wait=False, cancel_futures=True)
    answers = []
    for future, target in futures.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            answers.append(future.result())
        else:
            answers.append(NodeAnswer(target.name, target.host, message=(
                f"no answer within {budget:g} s" if not future.done()
                else f"could not be asked: {future.exception()}")))
    return answers


def chosen(answers: Sequence[NodeAnswer]) -> NodeAnswer | None:
    """The answer shown: a quorate node's first (in nodeID order), else any node's first."""
    answered = [a for a in answers if a.cluster is not None]
    quorate = [a for a in answered if a.cluster and a.cluster["summary"]["quorum"]]
    return (quorate or answered or [None])[0]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
