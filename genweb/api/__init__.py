"""The REST API at /api/ and its OpenAPI document at /openapi/ (flask-smorest).

Every page of the browser interface is a resource here, built from the same catalogue and
calling the same store operations. See docs/api.md for the operator's tasks with curl.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from .. import __version__, csrf
from ..catalogue import PAGES
from . import database, docs, jobs, operations, resources, schemas, status

DESCRIPTION = """\
Everything the browser pages configure, for scripts. Each page of the manual is a resource
named as the page (systemConfig, haNodes ...); each key keeps the manual's exact name.

Values are strings, as typed in the pages: tri-states are "Yes", "No" or "Default"; integers
are digits; lists are lines. Blank ("") means "not used" or the default. Saved changes are
staged: they reach the cluster only when the configuration is committed (POST /api/commit).

Authentication: HTTP basic, the same users as the browser pages.

Writes (POST, PATCH) must send Content-Type: application/json (415 otherwise).

Write-only keys (passwords, HA1 hashes) are never returned: secretsSet tells whether one is
set. In a PATCH, a key left out keeps its value; a key present, even "", sets it.

Concurrency: every page and record has a revision, also sent as its ETag. Send it back in
If-Match with PATCH, DELETE or undelete: if someone saved in between, nothing is written and
the answer is 409 Conflict (the browser pages answer a stale form the same way).

Errors are JSON: {"code": 422, "status": "Unprocessable Entity", "message": "...",
"errors": {"json": {"privateIP": ["..."]}}}. 422 lists every value to correct, with the same
message the page shows beside the field; 404 unknown record; 409 conflict or a state that
does not allow the action; 401 without valid credentials.

Lists are paginated with offset and limit (at most 1000) and filtered by the index columns.
"""

CONFIG = {
    "API_TITLE": "Genesis High Availability Proxy Server API",
    "API_VERSION": __version__,
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/openapi",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {"info": {"description": DESCRIPTION},
                         "security": [{"basicAuth": []}]},
}


class GenwebApi(Api):
    ERROR_SCHEMA = schemas.Error

    def _register_error_handlers(self) -> None:
        """Errors are JSON under /api/ only (resources.blp handles them): the browser pages
        keep their HTML error pages."""


def register(app: Flask) -> None:
    for key, value in CONFIG.items():
        app.config.setdefault(key, value)
    api = GenwebApi(app)
    api.spec.components.security_scheme("basicAuth", {
        "type": "http", "scheme": "basic",
        "description": "the web users of genweb (genweb passwd USER)"})
    api.register_blueprint(resources.blp)
    api.register_blueprint(database.blp)
    api.register_blueprint(jobs.blp)
    api.register_blueprint(operations.blp)
    api.register_blueprint(status.blp)
    for page in PAGES.values():
        kind = "records" if page.collection else "key/value page"
        api.spec.tag({"name": page.name,
                      "description": f"{page.title}: the {page.sidebar} {kind} (manual "
                                     f"{page.section}). {page.intro}".strip()})
    csrf.exempt(resources.blp)  # writes need a JSON content type instead (see resources)
    app.register_blueprint(docs.bp)
