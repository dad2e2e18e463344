"""Index pages and their record pages: HA Nodes, Fences, Proxy TLS Configs, Proxy
Notifications, Subscribers, Outbound Registrations (Create New / Edit / Delete / UnDelete).

Thin: form -> store operation -> page.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import store
from ..catalogue import COLLECTIONS, FENCES, PAGES, Page
from .forms import echo_values, secrets_pending, submitted_values

bp = Blueprint("records", __name__)
_NAMES = ", ".join(page.name for page in COLLECTIONS)


def _page(name: str) -> Page:
    page = PAGES.get(name)
    if page is None or not page.collection:
        abort(404)
    return page


@bp.get("/<any(" + _NAMES + "):name>")
def index(name: str):
    page = _page(name)
    size = current_app.config["INDEX_PAGE_SIZE"]
    number = max(request.args.get("page", 1, type=int), 1)
    query = request.args.get("q", "").strip()
    filters = {page.index_columns[0]: query} if query else {}
    listing = store.list_records(name, offset=(number - 1) * size, limit=size, filters=filters)
    pages = max((listing.total + size - 1) // size, 1)
    return render_template("index.html", page=page, listing=listing, number=number, pages=pages,
                           query=query)


@bp.route("/<any(" + _NAMES + "):name>/create", methods=["GET", "POST"])
def create(name: str):
    page = _page(name)
    if request.method == "GET":
        return _form(page, None, page.initial_values(), {})
    submitted = submitted_values(request.form, page.keys)
    try:
        record = store.create_record(name, submitted)
    except store.ValidationFailed as exc:
        return _form(page, None, {**page.initial_values(), **echo_values(submitted, page.keys)},
                     exc.errors, pending=secrets_pending(submitted, page.keys), status=422)
    flash(f"{_label(page, record.values)} created. Use Commit Configs to apply it.", "success")
    return redirect(url_for(".index", name=name))


@bp.route("/<any(" + _NAMES + "):name>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(name: str, record_id: int):
    page = _page(name)
    record = _get(name, record_id)
    if request.method == "GET":
        if record.state == "deleted":
            flash(f"{_label(page, record.values)} is marked for deletion: UnDelete it first.",
                  "error")
            return redirect(url_for(".index", name=name))
        return _form(page, record, record.public_values(), {})
    locked = [key.name for key in page.keys if record.is_locked(key.name)]
    submitted = submitted_values(request.form, page.keys, locked=locked)
    revision = request.form.get("revision", type=int)
    try:
        record = store.update_record(name, record_id, submitted, revision=revision)
    except store.ValidationFailed as exc:
        return _refused(page, record, submitted, exc.errors, revision, 422)
    except (store.Conflict, store.Refused) as exc:
        return _refused(page, record, submitted, {}, revision, 409, str(exc))
    flash(f"{_label(page, record.values)} saved. Use Commit Configs to apply it.", "success")
    return redirect(url_for(".index", name=name))


@bp.post("/<any(" + _NAMES + "):name>/<int:record_id>/delete")
def delete(name: str, record_id: int):
    page = _page(name)
    record = _get(name, record_id)
    try:
        marked = store.delete_record(name, record_id)
    except store.Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index", name=name))
    label = _label(page, record.values)
    if marked is None:
        flash(f"{label} deleted.", "success")
    else:
        cascade = " with its fences" if name == "haNodes" else ""
        flash(f"{label} marked for deletion{cascade}: it is removed at the next commit "
              "(UnDelete to keep it).", "success")
    return redirect(url_for(".index", name=name))


@bp.post("/<any(" + _NAMES + "):name>/<int:record_id>/undelete")
def undelete(name: str, record_id: int):
    page = _page(name)
    try:
        record = store.undelete_record(name, record_id)
    except store.Refused as exc:
        flash(str(exc), "error")
    else:
        flash(f"{_label(page, record.values)} undeleted.", "success")
    return redirect(url_for(".index", name=name))


def _get(name: str, record_id: int) -> store.RecordView:
    try:
        return store.get_record(name, record_id)
    except store.NotFound:
        abort(404)


def _label(page: Page, values: dict[str, str]) -> str:
    shown = " / ".join(values.get(column, "") for column in page.index_columns)
    return f"{page.record_name.capitalize()} {shown}"


def _choices(page: Page) -> dict[str, list[str]]:
    """Pulldowns whose options are other records: fenceNodeName lists the defined nodes."""
    return {"fenceNodeName": store.node_names()} if page is FENCES else {}


def _form(page: Page, record: store.RecordView | None, values: dict[str, str],
          errors: dict[str, str], *, pending=(), status: int = 200, message: str = "",
          revision: int | None = None):
    secrets_set = record.secrets_set() if record else dict.fromkeys(page.secret_keys, False)
    locked = {key.name for key in page.keys if record and record.is_locked(key.name)}
    return render_template(
        "record.html", page=page, record=record, values=values, errors=errors,
        secrets_set=secrets_set, pending_secrets=list(pending), locked=locked,
        choices=_choices(page), refused_message=message,
        revision=revision if revision is not None else (record.revision if record else None),
    ), status


def _refused(page, record, submitted, errors, revision, status, message=""):
    values = {**record.public_values(), **echo_values(submitted, page.keys)}
    return _form(page, record, values, errors, pending=secrets_pending(submitted, page.keys),
                 status=status, message=message, revision=revision)
