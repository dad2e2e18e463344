"""The Download Database response, shared by the page (Figure 24) and the API, so they cannot
differ."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask, Response, current_app, send_file

from ..auth import auth
from ..nodes import NodeAccess
from ..store import db
from . import build_dump, dump_filename, encode

CONNECT_TIMEOUT = 5.0  # s per node: an operator is waiting for the download
MEDIA_TYPE = "application/gzip"


def node_access(app: Flask) -> NodeAccess:
    """The app's node access, as the commit gets it (``NODE_ACCESS``, else the instance's key
    and known_hosts over ``NODE_CONNECTOR``), with a shorter wait per node."""
    from ..commit.access import connector

    configured = app.config.get("NODE_ACCESS")
    if configured is not None:
        return configured
    return NodeAccess.for_instance(Path(app.instance_path),
                                   connector=connector(app.config.get("NODE_CONNECTOR")),
                                   connect_timeout=CONNECT_TIMEOUT, command_timeout=120)


def store_path() -> Path:
    return Path(db.engine.url.database or "")


def download_response() -> Response:
    """The gzip file as an attachment; never cached (it describes the whole configuration)."""
    try:
        access, note = node_access(current_app._get_current_object()), ""
    except ValueError as exc:  # a wrong NODE_CONNECTOR must not cost the operator the file
        access, note = None, f"node access is misconfigured: {exc}"
    document = build_dump(store_path(), access, requested_by=auth.current_user(),
                          proxy_note=note)
    response = send_file(io.BytesIO(encode(document)), mimetype=MEDIA_TYPE, as_attachment=True,
                         download_name=dump_filename(document), max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
