"""System Status in the API (4.0): the same document the System Status page shows and
refreshes from (genweb.status), read-only."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields
from werkzeug.exceptions import HTTPException

from ..status import status_document
from . import resources

blp = Blueprint("status_api", __name__, url_prefix="/api",
                description="System Status (manual 4.0): commit status, the cluster as crm_mon "
                            "reports it on a node that answered, and the dispatcher table.")
blp.errorhandler(HTTPException)(resources._http_error)


class CommitStatus(ma.Schema):
    status = fields.String(metadata={"description": "current or pending"})
    label = fields.String(metadata={"example": "Current"})
    detail = fields.String()


class NodeReach(ma.Schema):
    name = fields.String(metadata={"description": "nodeName"})
    host = fields.String(metadata={"description": "its privateIP, where genweb connects"})
    reachable = fields.Boolean(metadata={"description": "an SSH session could be opened"})
    answered = fields.Boolean(metadata={"description": "its crm_mon gave the cluster state"})
    message = fields.String(metadata={"description": "answered, or why not"})


class FloatingIp(ma.Schema):
    resource = fields.String(metadata={"example": "failover_ip1"})
    address = fields.String()


class Resource(ma.Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "primitive, group, clone or bundle"})
    agent = fields.String(metadata={"example": "ocf:heartbeat:IPaddr2"})
    role = fields.String(metadata={"description": "primitives: Started, Stopped, Promoted, "
                                                  "Unpromoted (Master/Slave read as these)"})
    active = fields.Boolean()
    failed = fields.Boolean()
    managed = fields.Boolean()
    promotable = fields.Boolean()
    unique = fields.Boolean()
    nodes = fields.List(fields.String(), metadata={"description": "where it runs"})
    members = fields.List(fields.Nested(lambda: Resource()),
                          metadata={"description": "a group's or clone's resources"})


class ClusterNode(ma.Schema):
    name = fields.String()
    id = fields.String()
    state = fields.String(metadata={"description": "Online, standby, maintenance, pending, "
                                                   "OFFLINE, Fenced or UNCLEAN"})
    online = fields.Boolean()
    standby = fields.Boolean()
    maintenance = fields.Boolean()
    unclean = fields.Boolean()
    pending = fields.Boolean()
    shutdown = fields.Boolean()
    dc = fields.Boolean(metadata={"description": "the cluster's designated coordinator"})
    fenced = fields.Boolean(metadata={"description": "offline, and its newest fence operation "
                                                     "succeeded"})
    remote = fields.Boolean()
    resourcesRunning = fields.Integer()


class Summary(ma.Schema):
    stack = fields.String()
    dc = fields.String()
    dcVersion = fields.String()
    quorum = fields.Boolean()
    lastUpdated = fields.String()
    lastChange = fields.String()
    nodesConfigured = fields.Integer()
    resourcesConfigured = fields.Integer()
    stonithEnabled = fields.Boolean()
    maintenanceMode = fields.Boolean()


class FenceEvent(ma.Schema):
    target = fields.String()
    action = fields.String()
    status = fields.String()
    delegate = fields.String()
    origin = fields.String()
    completed = fields.String()


class Cluster(ma.Schema):
    summary = fields.Nested(Summary)
    nodes = fields.List(fields.Nested(ClusterNode))
    resources = fields.List(fields.Nested(Resource))
    primary = fields.String(allow_none=True, metadata={
        "description": "the node holding the floating IPs (ip_group)"})
    serviceNode = fields.String(allow_none=True, metadata={
        "description": "the primary, when Kamailio runs there too"})
    failures = fields.List(fields.String())
    fenceHistory = fields.List(fields.Nested(FenceEvent))


class Destination(ma.Schema):
    set = fields.Integer(metadata={"description": "1: dispatchPriUser systems (genesis_a), "
                                                  "0: dispatchSecUser systems (genesis_b)"})
    role = fields.String(metadata={"description": "Primary or Backup"})
    status = fields.String(metadata={"description": "Active, Inactive, Disabled or Trying"})
    probing = fields.Boolean()
    flags = fields.String(metadata={"description": "Kamailio's flags, e.g. AP"})
    uri = fields.String()


class Dispatcher(ma.Schema):
    node = fields.String(allow_none=True, metadata={"description": "the active node asked"})
    available = fields.Boolean()
    stale = fields.Boolean(metadata={"description": "the last table read, not a fresh one"})
    primarySet = fields.Integer(allow_none=True)
    destinations = fields.List(fields.Nested(Destination))
    message = fields.String()


class Status(ma.Schema):
    class Meta:
        description = ("System Status (4.0, Figure 4). Read from the nodes at most a few "
                       "seconds ago; every node is asked in parallel with short timeouts.")

    readAt = fields.String(metadata={"description": "UTC, ISO 8601"})
    commit = fields.Nested(CommitStatus)
    answeredBy = fields.String(allow_none=True, metadata={
        "description": "the node whose crm_mon is shown (null: none answered now)"})
    stale = fields.Boolean(metadata={"description": "no node answered now: cluster is the "
                                                    "last state read (clusterFrom, clusterReadAt)"})
    clusterFrom = fields.String(allow_none=True)
    clusterReadAt = fields.String(allow_none=True)
    message = fields.String()
    unreachable = fields.List(fields.String(), metadata={
        "description": "nodeName of every node no SSH session could be opened to"})
    nodes = fields.List(fields.Nested(NodeReach))
    floatingIps = fields.List(fields.Nested(FloatingIp))
    cluster = fields.Nested(Cluster, allow_none=True)
    dispatcher = fields.Nested(Dispatcher)
    refreshSeconds = fields.Integer()


@blp.route("/status", endpoint="status", methods=["GET"])
@blp.doc(summary="System Status", tags=["status"])
@blp.response(200, Status)
def status():
    """System Status

    The System Status page's data: commit status, the cluster from crm_mon of a node that
    answered (answeredBy), which nodes could not be reached and why, and the dispatcher table
    from Kamailio on the active node. Never changes anything.
    """
    return status_document(current_app._get_current_object())
