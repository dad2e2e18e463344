"""Database Utilities (14.0, Figure 24): the Download Database button and its file."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import store
from ..catalogue import DATABASE_CONFIG, HA_NODES
from ..dbutil.download import download_response

bp = Blueprint("database_utilities", __name__)


@bp.get("/databaseUtilities")
def index():
    engine = DATABASE_CONFIG.key("dbEngine").effective(
        store.get_settings(DATABASE_CONFIG.name).values["dbEngine"])
    nodes = [f"{item.values['nodeName']} ({item.values['privateIP']})"
             for item in store.list_records(HA_NODES.name).items]
    return render_template("database_utilities.html", engine=engine, nodes=nodes)


@bp.get("/databaseUtilities/download")
def download():
    return download_response()
