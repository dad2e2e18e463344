"""Commit Configuration (16.0), Rebuild Nodes (15.0), Start System (5.1.4) and UnFence (6.1.4)
in the API: the same analysis and the same jobs as the browser pages (genweb.commit)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import fields
from werkzeug.exceptions import HTTPException

from .. import csrf, jobs, store
from ..auth import auth
from ..commit import apply, operations
from ..commit.access import AccessConfigError, node_access
from ..commit.preview import make_preview
from . import resources, schemas
from .jobs import Started, busy_error, started

blp = Blueprint("operations_api", __name__, url_prefix="/api",
                description="Commit the staged configuration, rebuild nodes, start a node's "
                            "cluster software, unfence.")
blp.errorhandler(HTTPException)(resources._http_error)
blp.errorhandler(store.NotFound)(resources._not_found)
blp.errorhandler(store.Refused)(resources._conflict)
# Like the resources: writes need Content-Type: application/json, which a cross-site form
# cannot send, instead of a CSRF token.
blp.before_request(resources._json_bodies_only)
csrf.exempt(blp)


class CommitPreview(ma.Schema):
    class Meta:
        description = ("What committing would do (16.0, Figure 27): every staged change with "
                       "its effect, the commit's effect, and the rendered file differences per "
                       "node (committed -> staged); lines that hold a secret are hidden.")

    effect = fields.String(metadata={"description": "none, live, switch or restart"})
    effectLabel = fields.String(metadata={"example": "no downtime"})
    fullRebuild = fields.Boolean(metadata={"description": "nothing changed: the commit "
                                                          "rebuilds everything (16.0)"})
    firstCommit = fields.Boolean()
    summary = fields.String()
    error = fields.String(metadata={"description": "non-empty: the staged configuration "
                                                   "cannot be built, a commit would fail"})
    notes = fields.List(fields.String())
    changes = fields.List(fields.Dict())
    nodes = fields.List(fields.Dict())
    cluster = fields.Dict(allow_none=True)
    database = fields.Dict(allow_none=True)


class RebuildChoice(ma.Schema):
    refused = fields.String(metadata={"description": "non-empty: nodes cannot be rebuilt now "
                                                     "(uncommitted changes)"})
    primary = fields.String(allow_none=True)
    note = fields.String()
    nodes = fields.List(fields.String(), metadata={"description": "every committed node but "
                                                                  "the current primary"})


class NodeNames(fields.List):
    """A list of node names whose errors stay flat (key -> messages, as every API error)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError as exc:
            raise ma.ValidationError("Send a list of nodeName strings.") from exc


class RebuildRequest(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    nodes = NodeNames(schemas.Text(), required=True,
                      metadata={"description": "nodeName of each node to rebuild"})


def _user() -> str:
    return auth.current_user() or "unknown"


def _start(begin) -> tuple[dict[str, Any], int, dict[str, str]]:
    try:
        return started(begin(_user()))
    except jobs.JobBusy as busy:
        busy_error(busy)
    except AccessConfigError as exc:
        abort(500, message=str(exc))
    raise AssertionError("unreachable")


@blp.route("/commit", endpoint="commit", methods=["GET"])
@blp.doc(summary="Analyse a commit", tags=["commit"])
@blp.response(200, CommitPreview)
def commit_preview():
    """Analyse a commit

    Nothing runs: this is the Commit Configs page's analysis.
    """
    return make_preview().as_json()


@blp.route("/commit", endpoint="commit_start", methods=["POST"])
@blp.doc(summary="Commit the staged configuration", tags=["commit"])
@blp.arguments(schemas.Empty, required=False)
@blp.response(202, Started)
@blp.alt_response(409, response="CONFLICT", description="another job is running (Location: it)")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def commit_start(_empty: dict):
    """Commit the staged configuration

    Starts the commit as a job and answers at once: follow it at Location (GET /api/jobs/ID).
    """
    return _start(apply.start)


@blp.route("/rebuild", endpoint="rebuild", methods=["GET"])
@blp.doc(summary="Nodes that can be rebuilt", tags=["rebuild"])
@blp.response(200, RebuildChoice)
def rebuild_choice():
    """Nodes that can be rebuilt

    Every node except the current primary (asked of the nodes with crm_mon), or why none can
    be (uncommitted changes, 15.0).
    """
    choice = operations.rebuild_choice(node_access(current_app))
    return {"refused": choice.refusal, "primary": choice.primary, "note": choice.note,
            "nodes": [node["nodeName"] for node in choice.nodes]}


@blp.route("/rebuild", endpoint="rebuild_start", methods=["POST"])
@blp.doc(summary="Rebuild nodes", tags=["rebuild"])
@blp.arguments(RebuildRequest)
@blp.response(202, Started)
@blp.alt_response(409, response="CONFLICT", description="uncommitted changes, or a job runs")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def rebuild_start(body: dict[str, list[str]]):
    """Rebuild nodes

    The job of the Rebuild button (Figure 26). Refused (409) while changes are not committed.
    """
    if store.has_pending_changes():
        abort(409, message=operations.PENDING_REFUSAL)
    if not body["nodes"]:
        abort(422, message="name at least one node",
              errors={"json": {"nodes": ["Name at least one node."]}})
    return _start(lambda user: operations.start_rebuild(user, body["nodes"]))


@blp.route("/haNodes/<int(max=2147483647):record_id>/startSystem", endpoint="start_system",
           methods=["POST"])
@blp.doc(summary="Start the node's cluster software", tags=["haNodes"])
@blp.arguments(schemas.Empty, required=False)
@blp.response(202, Started)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="another job is running")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def start_system(_empty: dict, record_id: int):
    """Start the node's cluster software

    Start System (5.1.4): 'sudo crm cluster start' on the node; no effect if it runs.
    """
    store.get_record("haNodes", record_id)
    return _start(lambda user: operations.start_system(user, record_id))


@blp.route("/fences/<int(max=2147483647):record_id>/unfence", endpoint="unfence",
           methods=["POST"])
@blp.doc(summary="UnFence", tags=["fences"])
@blp.arguments(schemas.Empty, required=False)
@blp.response(202, Started)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="not committed yet, or a job runs")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def unfence(_empty: dict, record_id: int):
    """UnFence

    6.1.4: the fence's agent with action 'on' for its plug, run from another node.
    """
    store.get_record("fences", record_id)
    return _start(lambda user: operations.unfence(user, record_id))
