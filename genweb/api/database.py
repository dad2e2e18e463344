"""Database Utilities in the API (14.0): the same file as the page's Download Database button."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..dbutil.download import MEDIA_TYPE, download_response

blp = Blueprint("databaseUtilities", __name__, url_prefix="/api/database",
                description="Database Utilities (manual 14.0): a diagnostic download of the web "
                            "interface's and the proxy's databases, secrets masked.")

FILE_RESPONSE = {
    "description": "genweb-database-<systemName>-<UTC timestamp>.json.gz: gzip-compressed JSON "
                   "(format genweb-database-dump). Every password, HA1 hash and generated "
                   "secret reads ******** (blank when not set). The proxy section names the "
                   "node that answered, or says why none could: an unreachable cluster never "
                   "makes this request fail. Display it with dbShow FILE.",
    "headers": {"Content-Disposition": {"description": "attachment; filename=...",
                                        "schema": {"type": "string"}}},
    "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}


@blp.route("/download")
@blp.doc(summary="Download the databases", operationId="downloadDatabase",
         responses={"200": FILE_RESPONSE})
def download():
    """Download the databases

    The file the Database Utilities page's Download Database button gives. The proxy database
    is read from the HA Nodes in order over SSH (a few seconds per unreachable node).
    """
    return download_response()
