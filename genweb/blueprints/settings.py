"""Key/value pages: System Config, Proxy Config, Proxy Media Config, Database Config.

Thin: form -> store.save_settings -> page. Nothing is stored until Save (2.0).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .. import store
from ..catalogue import PAGES, SETTINGS_PAGES, Page, database_keys
from .forms import echo_values, secrets_pending, submitted_values

bp = Blueprint("settings", __name__)


def shown_keys(page: Page, values: dict[str, str]):
    """The keys a page shows: Database Config shows those of the saved dbEngine (13.1.1)."""
    if page.name == "databaseConfig":
        names = database_keys(values["dbEngine"])
        return [key for key in page.keys if key.name in names]
    return list(page.keys)


def _view(name: str):
    page = PAGES[name]
    view = store.get_settings(name)
    keys = shown_keys(page, view.values)
    if request.method == "GET":
        return render_template("settings.html", page=page, keys=keys,
                               values=view.public_values(), secrets_set=view.secrets_set(),
                               revision=view.revision, errors={})
    submitted = submitted_values(request.form, keys)
    revision = request.form.get("revision", type=int)
    try:
        store.save_settings(name, submitted, revision=revision)
    except store.ValidationFailed as exc:
        return _refused(page, view, keys, submitted, exc.errors, revision, status=422)
    except store.Conflict as exc:
        return _refused(page, view, keys, submitted, {}, revision, status=409, message=str(exc))
    flash(f"{page.title} saved. Use Commit Configs to apply it to the cluster.", "success")
    return redirect(url_for(request.endpoint))


def _refused(page, view, keys, submitted, errors, revision, *, status: int, message: str = ""):
    """Show the page again with what the operator typed and a message beside each field."""
    values = {**view.public_values(), **echo_values(submitted, keys)}
    return render_template("settings.html", page=page, keys=keys, values=values,
                           secrets_set=view.secrets_set(), revision=revision, errors=errors,
                           pending_secrets=secrets_pending(submitted, keys),
                           refused_message=message), status


for _page in SETTINGS_PAGES:
    bp.add_url_rule(_page.url, _page.name, lambda name=_page.name: _view(name),
                    methods=["GET", "POST"])
