"""System Status (4.0, Figure 4): the page, and the JSON its script fetches to refresh itself."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from markupsafe import Markup

from ..status import status_document
from ..status.picture import node_rows, render_svg

bp = Blueprint("status", __name__)


def _body(document: dict) -> Markup:
    """The status section (rendered with autoescaping, so it is markup as a whole)."""
    return Markup(render_template("status_body.html", status=document,
                           picture=render_svg(document), node_rows=node_rows(document)))


@bp.get("/systemStatus")
def index():
    document = status_document(current_app._get_current_object())
    return render_template("status.html", status=document, body=_body(document))


@bp.get("/systemStatus/data")
def data():
    """The refresh: the status document and the page's status section rendered from it."""
    document = status_document(current_app._get_current_object())
    response = jsonify({"status": document, "html": _body(document)})
    response.headers["Cache-Control"] = "no-store"
    return response
