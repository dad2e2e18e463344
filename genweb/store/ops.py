"""Store operations: save, create, update, delete, undelete, commit bookkeeping.

The browser pages and the API both call these, so their behaviour cannot drift apart.
Each public function is one transaction. Errors are exceptions an operator can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from ..catalogue import FENCES, HA_NODES, PAGES, TLS_CONFIGS, TLS_DEFAULT_DOMAIN, Page
from .models import Generated, PageState, Record, RecordKey, Setting, db
from .tx import write_operation

# -- errors ----------------------------------------------------------------------------------


class StoreError(Exception):
    """Base of every error the store reports to an operator."""


class ValidationFailed(StoreError):
    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors.items()))
        self.errors = dict(errors)


class Conflict(StoreError):
    """Someone else saved the same page or record since it was loaded."""


class NotFound(StoreError):
    pass


class Refused(StoreError):
    """The action is not allowed in the record's state (e.g. deleting a default TLS section)."""


CONFLICT_MESSAGE = (
    "This {what} was changed by someone else after you opened it. Your edits were not saved: "
    "open it again to see the current values, then make your changes again."
)

# -- views -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsView:
    page: Page
    values: dict[str, str]  # staged, secrets included: callers must not show them
    committed: dict[str, str | None]
    revision: int

    def public_values(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if not self.page.key(k).secret}

    def secrets_set(self) -> dict[str, bool]:
        return {name: bool(self.values.get(name)) for name in self.page.secret_keys}


@dataclass(frozen=True)
class RecordView:
    page: Page
    id: int
    values: dict[str, str]
    committed: dict[str, str] | None
    marked: bool
    marked_by_node: bool
    permanent: bool
    revision: int

    @property
    def state(self) -> str:
        """new, committed, changed or deleted (marked for deletion at the next commit)."""
        if self.marked or self.marked_by_node:
            return "deleted"
        if self.committed is None:
            return "new"
        return "committed" if self.committed == self.values else "changed"

    def public_values(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if not self.page.key(k).secret}

    def secrets_set(self) -> dict[str, bool]:
        return {name: bool(self.values.get(name)) for name in self.page.secret_keys}

    def is_locked(self, key: str) -> bool:
        """Whether the key can no longer change (committed node identity, default TLS sections)."""
        if self.permanent and key in ("tlsDomain", "tlsRole"):
            return True
        return self.committed is not None and self.page.key(key).immutable_after_commit


@dataclass
class Listing:
    items: list[RecordView]
    total: int
    offset: int = 0
    limit: int | None = None
    filters: dict[str, str] = field(default_factory=dict)


# -- key/value pages -------------------------------------------------------------------------


def _page(name: str, collection: bool) -> Page:
    page = PAGES.get(name)
    if page is None or page.collection != collection:
        raise NotFound(f"no such page: {name}")
    return page


def _page_state(name: str) -> PageState:
    state = db.session.get(PageState, name)
    if state is None:
        state = PageState(page=name, revision=0)
        db.session.add(state)
    return state


def get_settings(name: str) -> SettingsView:
    page = _page(name, collection=False)
    rows = {row.key: row for row in db.session.scalars(select(Setting).filter_by(page=name))}
    values = page.initial_values()
    committed: dict[str, str | None] = dict.fromkeys(values)
    for key, row in rows.items():
        if key in page.key_map:
            values[key] = row.staged
            committed[key] = row.committed
    state = db.session.get(PageState, name)
    return SettingsView(page, values, committed, state.revision if state else 0)


@write_operation
def save_settings(name: str, changes: Mapping[str, str], revision: int | None = None) -> SettingsView:
    """Validate the page with ``changes`` applied and store it, or store nothing.

    ``changes`` holds only the keys the operator submitted; a secret absent from it keeps its
    stored value. ``revision`` is the page revision the operator started from (None: don't check).
    """
    page = _page(name, collection=False)
    unknown = set(changes) - set(page.key_map)
    if unknown:
        raise ValidationFailed({k: f"{page.title} has no key named {k}" for k in sorted(unknown)})
    current = get_settings(name)
    state = _page_state(name)
    if revision is not None and revision != state.revision:
        raise Conflict(CONFLICT_MESSAGE.format(what="page"))
    cleaned, errors = page.validate({**current.values, **changes})
    if errors:
        db.session.rollback()
        raise ValidationFailed(errors)
    for key, value in cleaned.items():
        row = db.session.get(Setting, (name, key))
        if row is None:
            row = Setting(page=name, key=key, staged=value, committed=None)
            db.session.add(row)
        else:
            row.staged = value
    state.revision += 1
    state.updated_at = datetime.now(UTC)
    db.session.commit()
    return get_settings(name)


# -- collections -----------------------------------------------------------------------------


def _view(page: Page, record: Record) -> RecordView:
    values = page.initial_values()
    values.update({k: v for k, v in record.data.items() if k in page.key_map})
    return RecordView(page, record.id, values, record.committed, record.marked,
                      record.marked_by_node, record.permanent, record.revision)


def _sort_key(page: Page, values: Mapping[str, str]) -> str:
    parts = []
    for name in page.order_by or page.index_columns:
        value = values.get(name, "")
        parts.append(value.zfill(10) if value.isdigit() else value.lower())
    return "\x1f".join(parts)[:512]


def list_records(name: str, *, include_hidden: bool = False, offset: int = 0,
                 limit: int | None = None, filters: Mapping[str, str] | None = None) -> Listing:
    """Records in index order. Fences of a node marked for deletion are hidden (6.1.5).

    ``filters`` maps index columns to a case-insensitive substring to look for.
    """
    page = _page(name, collection=True)
    query = select(Record).filter_by(kind=name)
    if not include_hidden:
        query = query.filter_by(marked_by_node=False)
    for key, text in (filters or {}).items():
        if text:
            column = Record.data[key].as_string()
            query = query.where(column.ilike(f"%{_escape_like(text)}%", escape="\\"))
    query = query.order_by(Record.sort_key, Record.id)
    total = db.session.scalar(select(db.func.count()).select_from(query.subquery())) or 0
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    items = [_view(page, record) for record in db.session.scalars(query)]
    return Listing(items, total, offset, limit, dict(filters or {}))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(name: str, record_id: int) -> Record:
    record = db.session.get(Record, record_id)
    if record is None or record.kind != name:
        raise NotFound(f"no {PAGES[name].record_name} with id {record_id}")
    return record


def get_record(name: str, record_id: int) -> RecordView:
    page = _page(name, collection=True)
    return _view(page, _record(name, record_id))


def node_names(*, include_marked: bool = False) -> list[str]:
    """Names of defined nodes, for fenceNodeName (6.2.2)."""
    listing = list_records(HA_NODES.name)
    return [item.values["nodeName"] for item in listing.items if include_marked or not item.marked]


@write_operation
def create_record(name: str, values: Mapping[str, str]) -> RecordView:
    page = _page(name, collection=True)
    cleaned = _validate_record(page, dict(values), existing=None)
    record = Record(kind=name, data=cleaned, sort_key=_sort_key(page, cleaned))
    db.session.add(record)
    db.session.flush()
    _index_unique(page, record)
    db.session.commit()
    return _view(page, record)


@write_operation
def update_record(name: str, record_id: int, changes: Mapping[str, str],
                  revision: int | None = None) -> RecordView:
    """Apply ``changes`` (absent keys, secrets included, keep their values) or store nothing."""
    page = _page(name, collection=True)
    record = _record(name, record_id)
    if revision is not None and revision != record.revision:
        raise Conflict(CONFLICT_MESSAGE.format(what=page.record_name))
    if record.marked or record.marked_by_node:
        raise Refused(f"this {page.record_name} is marked for deletion: UnDelete it first")
    old = _view(page, record)
    cleaned = _validate_record(page, {**old.values, **changes}, existing=old)
    if name == HA_NODES.name and cleaned["nodeName"] != old.values["nodeName"]:
        _rename_fence_node(old.values["nodeName"], cleaned["nodeName"])
    record.data = cleaned
    record.sort_key = _sort_key(page, cleaned)
    record.revision += 1
    record.updated_at = datetime.now(UTC)
    _index_unique(page, record)
    db.session.commit()
    return _view(page, record)


@write_operation
def delete_record(name: str, record_id: int) -> RecordView | None:
    """Delete a never-committed record; mark a committed one for deletion at the next commit.

    Returns the marked record, or None when it was removed. Deleting a node also deletes (or
    marks) its fences (5.1.3, 6.1.5).
    """
    page = _page(name, collection=True)
    record = _record(name, record_id)
    if record.permanent:
        raise Refused(f"the default {record.data.get('tlsRole')} TLS section cannot be deleted")
    if record.marked or record.marked_by_node:
        raise Refused(f"this {page.record_name} is already marked for deletion")
    fences = _fences_of(record.data["nodeName"]) if name == HA_NODES.name else []
    if record.committed is None:
        for fence in fences:
            db.session.delete(fence)
        db.session.delete(record)
        db.session.commit()
        return None
    record.marked = True
    record.revision += 1
    for fence in fences:
        fence.marked_by_node = True
        fence.revision += 1
    db.session.commit()
    return _view(page, record)


@write_operation
def undelete_record(name: str, record_id: int) -> RecordView:
    """Clear a deletion mark. Undeleting a node brings back the fences deleted with it (5.1.5)."""
    page = _page(name, collection=True)
    record = _record(name, record_id)
    if record.marked_by_node:
        raise Refused(f"this fence was deleted with node {record.data.get('fenceNodeName')}: "
                      "UnDelete the node to bring it back")
    if not record.marked:
        raise Refused(f"this {page.record_name} is not marked for deletion")
    record.marked = False
    record.revision += 1
    if name == HA_NODES.name:
        for fence in _fences_of(record.data["nodeName"]):
            fence.marked_by_node = False
            fence.revision += 1
    db.session.commit()
    return _view(page, record)


def _fences_of(node_name: str) -> list[Record]:
    fences = db.session.scalars(select(Record).filter_by(kind=FENCES.name))
    return [fence for fence in fences if fence.data.get("fenceNodeName") == node_name]


def _rename_fence_node(old: str, new: str) -> None:
    for fence in _fences_of(old):
        fence.data = {**fence.data, "fenceNodeName": new}
        fence.sort_key = _sort_key(FENCES, fence.data)
        fence.revision += 1


def _validate_record(page: Page, values: dict[str, str], existing: RecordView | None) -> dict[str, str]:
    unknown = set(values) - set(page.key_map)
    if unknown:
        raise ValidationFailed({k: f"a {page.record_name} has no key named {k}" for k in sorted(unknown)})
    cleaned, errors = page.validate(values)
    if existing is not None:
        for key in page.keys:
            if existing.is_locked(key.name) and cleaned.get(key.name, values.get(key.name)) \
                    != existing.values.get(key.name):
                errors[key.name] = _locked_message(page, key.name)
    if page is FENCES and "fenceNodeName" not in errors:
        names = node_names()
        if cleaned.get("fenceNodeName") not in names:
            errors["fenceNodeName"] = (
                f"'{cleaned.get('fenceNodeName')}' is not a defined node"
                + (f" (defined: {', '.join(names)})" if names else " (create the node first)")
            )
    errors.update({k: m for k, m in _unique_errors(page, cleaned, existing).items() if k not in errors})
    if errors:
        db.session.rollback()
        raise ValidationFailed(errors)
    return cleaned


def _locked_message(page: Page, key: str) -> str:
    if page is TLS_CONFIGS:
        return f"{key} of a default TLS section cannot change"
    return (f"{key} cannot change once the node is committed: delete the node and create a new "
            "one with the new value")


def _unique_values(page: Page, values: Mapping[str, str]) -> dict[str, str]:
    # Case-insensitive: host names, domains and node names are, and look-alikes only confuse.
    return {"+".join(keys): "\x1f".join(values.get(k, "") for k in keys).lower()
            for keys in page.unique if all(values.get(k, "") for k in keys)}


def _unique_errors(page: Page, values: Mapping[str, str], existing: RecordView | None) -> dict[str, str]:
    errors = {}
    for constraint, value in _unique_values(page, values).items():
        holder = db.session.scalar(select(RecordKey).filter_by(kind=page.name, name=constraint,
                                                               value=value))
        if holder is not None and (existing is None or holder.record_id != existing.id):
            keys = constraint.split("+")
            shown = " and ".join(f"{k} '{values[k]}'" for k in keys)
            other = db.session.get(Record, holder.record_id)
            note = " (it is marked for deletion: UnDelete it instead)" if other and other.marked else ""
            errors[keys[0]] = f"another {page.record_name} already has {shown}{note}"
    return errors


def _index_unique(page: Page, record: Record) -> None:
    db.session.execute(db.delete(RecordKey).filter_by(record_id=record.id))
    for constraint, value in _unique_values(page, record.data).items():
        db.session.add(RecordKey(kind=page.name, name=constraint, value=value, record_id=record.id))
    db.session.flush()


# -- defaults and commit bookkeeping ---------------------------------------------------------


@write_operation
def ensure_defaults() -> None:
    """Create what always exists: the two default TLS sections (9.1)."""
    existing = {(r.data.get("tlsDomain"), r.data.get("tlsRole"))
                for r in db.session.scalars(select(Record).filter_by(kind=TLS_CONFIGS.name,
                                                                     permanent=True))}
    for role in ("client", "server"):
        if (TLS_DEFAULT_DOMAIN, role) not in existing:
            data = {**TLS_CONFIGS.initial_values(), "tlsDomain": TLS_DEFAULT_DOMAIN, "tlsRole": role}
            record = Record(kind=TLS_CONFIGS.name, data=data, permanent=True,
                            sort_key=_sort_key(TLS_CONFIGS, data))
            db.session.add(record)
            db.session.flush()
            _index_unique(TLS_CONFIGS, record)
    db.session.commit()


def has_pending_changes() -> bool:
    """Whether anything saved differs from the last commit (Rebuild Nodes refuses then, 15.0)."""
    for row in db.session.scalars(select(Setting)):
        if row.committed is None or row.committed != row.staged:
            page = PAGES.get(row.page)
            key = page.key_map.get(row.key) if page else None
            if key is not None and not (row.committed is None and row.staged == key.initial()):
                return True
    for record in db.session.scalars(select(Record)):
        if record.marked or record.marked_by_node or record.committed != record.data:
            return True
    return False


@write_operation
def record_commit() -> None:
    """After a successful commit: staged becomes committed and marked records go for good."""
    for row in db.session.scalars(select(Setting)):
        row.committed = row.staged
    for record in db.session.scalars(select(Record)):
        if record.marked or record.marked_by_node:
            db.session.delete(record)
        else:
            record.committed = dict(record.data)
    db.session.commit()


@write_operation
def generated_values(makers: Mapping[str, Callable[[], str]]) -> dict[str, str]:
    """The generated values, creating (once, kept from then on) those that do not exist yet."""
    values = {row.name: row.value for row in db.session.scalars(select(Generated))}
    for name, make in makers.items():
        if name not in values:
            values[name] = make()
            db.session.add(Generated(name=name, value=values[name]))
    db.session.commit()
    return values


@write_operation
def replace_generated(name: str, value: str) -> None:
    """Renew a generated value (updateRtpDbPass asks for a new redis password at commit)."""
    row = db.session.get(Generated, name)
    if row is None:
        db.session.add(Generated(name=name, value=value))
    else:
        row.value = value
        row.created_at = datetime.now(UTC)
    db.session.commit()
