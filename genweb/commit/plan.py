"""The commit plan: every staged change (old -> new, secrets masked), its effect, and the whole
commit's effect (manual 16.0). With no change at all, a commit is a full rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import store
from ..catalogue import PAGES, Effect, Page

MASK = "••••••"


@dataclass(frozen=True)
class Change:
    page: str  # catalogue page name
    record: str  # "" for key/value pages, else the record's label (e.g. "node1")
    action: str  # "changed", "created", "deleted"
    key: str  # "" for a whole record created or deleted
    old: str
    new: str
    effect: Effect

    @property
    def where(self) -> str:
        title = PAGES[self.page].sidebar
        return f"{title} › {self.record}" if self.record else title


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]

    @property
    def effect(self) -> Effect:
        if not self.changes:
            return Effect.RESTART  # nothing changed: the commit rebuilds everything (16.0)
        return max(change.effect for change in self.changes)

    @property
    def full_rebuild(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        if self.full_rebuild:
            return ("No configuration changes since the last commit: committing rebuilds the "
                    "whole high availability system (full restart).")
        return f"{len(self.changes)} change(s); the commit's effect: {self.effect.label}."


def _shown(page: Page, key: str, value: str | None) -> str:
    if value is None:
        return ""
    if page.key(key).secret:
        return MASK if value else "(blank)"
    return value


def _record_label(page: Page, values: dict[str, str]) -> str:
    return " / ".join(values.get(column, "") for column in page.index_columns)


def _settings_changes(page: Page) -> list[Change]:
    view = store.get_settings(page.name)
    changes = []
    for key in page.keys:
        new, old = view.values[key.name], view.committed[key.name]
        if old is None:
            old = key.initial()
        if new != old:
            changes.append(Change(page.name, "", "changed", key.name, _shown(page, key.name, old),
                                  _shown(page, key.name, new), key.effect))
    return changes


def _record_changes(page: Page) -> list[Change]:
    changes = []
    for item in store.list_records(page.name, include_hidden=True).items:
        label = _record_label(page, item.committed or item.values)
        if item.state == "deleted":
            if item.committed is not None:
                changes.append(Change(page.name, label, "deleted", "", "", "", page.create_effect))
        elif item.state == "new":
            changes.append(Change(page.name, label, "created", "", "", "", page.create_effect))
        elif item.state == "changed":
            for key in page.keys:
                old = item.committed.get(key.name, key.initial())
                new = item.values[key.name]
                if old != new:
                    changes.append(Change(page.name, label, "changed", key.name,
                                          _shown(page, key.name, old), _shown(page, key.name, new),
                                          key.effect))
    return changes


def make_plan() -> Plan:
    """The plan of the staged configuration against the last commit (inside an app context)."""
    changes: list[Change] = []
    for page in PAGES.values():
        changes += _record_changes(page) if page.collection else _settings_changes(page)
    return Plan(tuple(changes))
