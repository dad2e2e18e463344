"""The REST resources: one per catalogue page, thin, calling the same store operations as the
browser pages (genweb/blueprints), so the two cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .. import store
from ..catalogue import COLLECTIONS, PAGES, SETTINGS_PAGES, Page
from . import schemas

blp = Blueprint("api", __name__, url_prefix="/api",
                description="Where the resources are.")

BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})
ETAG_HEADER = {"ETag": {"description": "the revision, quoted: send it back in If-Match",
                        "schema": {"type": "string"}}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": "The ETag you read. If the resource changed since, nothing is saved "
                           "and the answer is 409. Leave it out to write unconditionally."}
CONFLICT_DOC = "If-Match names an older revision, or the action does not fit the record's state"


# -- errors: one JSON shape ------------------------------------------------------------------


def error_response(code: int, status: str, message: str,
                   errors: dict[str, Any] | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return jsonify(body), code


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    data = getattr(error, "data", None) or {}  # set by flask_smorest.abort and webargs
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or (_correct_message() if error.code == 422
                                      else error.description or error.name)
    response, code = error_response(error.code or 500, error.name, message, errors)
    response.headers.extend(data.get("headers") or {})
    return response, code


def _correct_message() -> str:
    if request.method in BODY_METHODS:
        return "Nothing was saved: correct the values listed in errors"
    return "Correct the parameters listed in errors"


@blp.errorhandler(store.ValidationFailed)
def _invalid(error: store.ValidationFailed):
    errors = {"json": {key: [message] for key, message in error.errors.items()}}
    return error_response(422, "Unprocessable Entity", _correct_message(), errors)


@blp.errorhandler(store.NotFound)
def _not_found(error: store.NotFound):
    return error_response(404, "Not Found", str(error))


@blp.errorhandler(store.Conflict)
@blp.errorhandler(store.Refused)
def _conflict(error: store.StoreError):
    return error_response(409, "Conflict", str(error))


@blp.after_app_request
def _json_for_unrouted_api_paths(response: Response) -> Response:
    """/api/ paths no route matched (404, 405) get the app's HTML error: answer JSON instead."""
    if (request.path.startswith("/api/") and response.status_code >= 400
            and response.mimetype == "text/html"):
        code = response.status_code
        message = _html_error_message(code)
        replaced, _ = error_response(code, HTTP_STATUS_CODES.get(code, "Error"), message)
        replaced.status_code = code
        if "Allow" in response.headers:
            replaced.headers["Allow"] = response.headers["Allow"]
        return replaced
    return response


def _html_error_message(code: int) -> str:
    if code == 405:
        return f"{request.path} does not accept {request.method}: see Allow"
    if code == 404:
        return "There is no such resource here: see /openapi/"
    if code >= 500:
        return "Internal error: the details are in the server log"
    return HTTP_STATUS_CODES.get(code, "Error")


@blp.before_request
def _json_bodies_only() -> None:
    """Writes must say Content-Type: application/json. A cross-site HTML form cannot send that
    (it would need a CORS preflight, which we never grant), so cached basic-auth credentials
    cannot be used to write from another site. DELETE cannot come from a form at all."""
    if request.method not in BODY_METHODS:
        return
    if not request.is_json:
        abort(415, message="Send the request body as JSON, with Content-Type: application/json")
    body = request.get_data(cache=True)
    if body:
        try:  # webargs parses again; this catches what it would let through as a 500
            json.loads(body)
        except (ValueError, RecursionError):
            abort(400, message="The body is not valid JSON",
                  errors={"json": {"_schema": ["Invalid JSON body."]}})


# -- helpers ---------------------------------------------------------------------------------


def etag(revision: int) -> dict[str, str]:
    return {"ETag": f'"{revision}"'}


def precondition(current: int) -> int | None:
    """The revision a write may go ahead on: None without If-Match, else the current one if the
    client's ETag names it. A stale ETag is a conflict (409): nothing is written.

    The store compares the revision again inside its write transaction (BEGIN IMMEDIATE), so
    nobody can save in between."""
    tags = request.if_match
    if not tags:
        return None
    if not tags.contains(str(current)):
        raise store.Conflict(
            f"If-Match {request.headers.get('If-Match')} does not match the current ETag "
            f'"{current}": someone else saved in between. Nothing was saved: read it again, then '
            "make your change again.")
    return current


def settings_body(view: store.SettingsView) -> dict[str, Any]:
    return {"revision": view.revision, "values": view.public_values(),
            "secretsSet": view.secrets_set()}


def record_body(view: store.RecordView) -> dict[str, Any]:
    return {"id": view.id, "state": view.state, "revision": view.revision,
            "values": view.public_values(), "secretsSet": view.secrets_set(),
            "locked": [key.name for key in view.page.keys if view.is_locked(key.name)]}


# -- the index -------------------------------------------------------------------------------


@blp.route("/", endpoint="index")
@blp.response(200, schemas.Index)
def index():
    """List the pages

    Every page of the browser interface has a resource here, under its own name.
    """
    pages = {name: url_for(f".{name}_{'records' if page.collection else 'settings'}")
             for name, page in PAGES.items()}
    return {"openapi": url_for("api-docs.openapi_json"), "pages": pages}


# -- key/value pages -------------------------------------------------------------------------


def add_settings_resource(page: Page) -> None:
    name = page.name
    shape, values = schemas.SETTINGS[name], schemas.VALUES[name]

    class Settings(MethodView):
        @blp.doc(summary=f"Read {page.title}")
        @blp.response(200, shape, headers=ETAG_HEADER)
        def get(self):
            view = store.get_settings(name)
            return settings_body(view), etag(view.revision)

        @blp.doc(summary=f"Change {page.title}: one or many keys", parameters=[IF_MATCH],
                 description="Keys left out keep their values. The whole page is checked as "
                             "on Save in the browser: nothing is stored unless every value is "
                             "valid.")
        @blp.arguments(values)
        @blp.response(200, shape, headers=ETAG_HEADER)
        @blp.alt_response(409, response="CONFLICT", description=CONFLICT_DOC)
        @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
        def patch(self, changes: dict[str, str]):
            current = store.get_settings(name).revision
            view = store.save_settings(name, changes, revision=precondition(current))
            return settings_body(view), etag(view.revision)

    blp.add_url_rule(f"/{name}", f"{name}_settings", Settings, tags=[name])


# -- collections -----------------------------------------------------------------------------


def add_collection_resources(page: Page) -> None:
    name, what = page.name, page.record_name
    values, new = schemas.VALUES[name], schemas.NEW[name]
    record, listing, query = schemas.RECORDS[name], schemas.LISTINGS[name], schemas.QUERIES[name]

    class Records(MethodView):
        @blp.doc(summary=f"List {page.title}",
                 description="In the order of the browser's index. Filters match any part of "
                             "the column, in any case; several filters must all match.")
        @blp.arguments(query, location="query", unknown="raise")
        @blp.response(200, listing)
        def get(self, args: dict[str, Any]):
            offset, limit = args.pop("offset"), args.pop("limit")
            found = store.list_records(name, offset=offset, limit=limit, filters=args)
            return {"items": [record_body(item) for item in found.items], "total": found.total,
                    "offset": offset, "limit": limit}

        @blp.doc(summary=f"Create a {what}")
        @blp.arguments(new)
        @blp.response(201, record, headers={**ETAG_HEADER, "Location": {
            "description": "the new record's URL", "schema": {"type": "string"}}})
        @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
        def post(self, values_in: dict[str, str]):
            view = store.create_record(name, values_in)
            location = url_for(f".{name}_record", record_id=view.id)
            return record_body(view), {**etag(view.revision), "Location": location}

    class Record(MethodView):
        @blp.doc(summary=f"Read a {what}")
        @blp.response(200, record, headers=ETAG_HEADER)
        @blp.alt_response(404, response="NOT_FOUND")
        def get(self, record_id: int):
            view = store.get_record(name, record_id)
            return record_body(view), etag(view.revision)

        @blp.doc(summary=f"Change a {what}: one or many keys", parameters=[IF_MATCH],
                 description="Keys left out keep their values. Keys in locked cannot change "
                             "(422). A record marked for deletion must be undeleted first (409).")
        @blp.arguments(values)
        @blp.response(200, record, headers=ETAG_HEADER)
        @blp.alt_response(404, response="NOT_FOUND")
        @blp.alt_response(409, response="CONFLICT", description=CONFLICT_DOC)
        @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
        def patch(self, changes: dict[str, str], record_id: int):
            current = store.get_record(name, record_id).revision
            view = store.update_record(name, record_id, changes, revision=precondition(current))
            return record_body(view), etag(view.revision)

        @blp.doc(summary=f"Delete a {what}", parameters=[IF_MATCH],
                 description="As Delete in the browser: a record never committed is removed "
                             "(204); a committed one is marked for deletion at the next commit "
                             "(200, state deleted) and can be undeleted until then."
                             + (" Its fences go (or are marked) with it." if name == "haNodes"
                                else ""))
        @blp.response(200, record, headers=ETAG_HEADER, description="marked for deletion")
        @blp.alt_response(204, description="removed for good", success=True)
        @blp.alt_response(404, response="NOT_FOUND")
        @blp.alt_response(409, response="CONFLICT", description=CONFLICT_DOC)
        def delete(self, record_id: int):
            precondition(store.get_record(name, record_id).revision)
            marked = store.delete_record(name, record_id)
            if marked is None:
                removed = Response(status=204)
                del removed.headers["Content-Type"]  # no body, no type
                return removed
            return record_body(marked), etag(marked.revision)

    @blp.doc(summary=f"Undelete a {what}", parameters=[IF_MATCH],
             description="Clears the mark for deletion."
             + (" Undeleting a node brings back the fences deleted with it." if name == "haNodes"
                else ""))
    @blp.arguments(schemas.Empty, required=False)
    @blp.response(200, record, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description=CONFLICT_DOC)
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    def undelete(_empty: dict, record_id: int):
        precondition(store.get_record(name, record_id).revision)
        view = store.undelete_record(name, record_id)
        return record_body(view), etag(view.revision)

    one = f"/{name}/<int(max={schemas.MAX_ID}):record_id>"
    blp.add_url_rule(f"/{name}", f"{name}_records", Records, tags=[name])
    blp.add_url_rule(one, f"{name}_record", Record, tags=[name])
    blp.add_url_rule(one + "/undelete", f"{name}_undelete", undelete, tags=[name],
                     methods=["POST"])


for _page in SETTINGS_PAGES:
    add_settings_resource(_page)
for _page in COLLECTIONS:
    add_collection_resources(_page)
