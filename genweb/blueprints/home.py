"""The home page: links and some information about the system (2.0, Figure 2)."""

from __future__ import annotations

import platform

from flask import Blueprint, render_template

from .. import __version__, store

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    system = store.get_settings("systemConfig")
    page = system.page
    info = {
        "systemName": page.key("systemName").effective(system.values["systemName"]),
        "privateIP": system.values["privateIP"] or "not set",
        "publicIP": system.values["publicIP"] or "not used",
        "HA nodes": store.list_records("haNodes").total,
        "Fences": store.list_records("fences").total,
        "Subscribers": store.list_records("subscribers").total,
        "Configuration": "changes saved but not committed" if store.has_pending_changes()
        else "no changes since the last commit",
        "Web server": f"{platform.node()} (genweb {__version__})",
    }
    return render_template("home.html", info=info)
