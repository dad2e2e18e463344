"""A configuration snapshot: everything render needs, frozen, with no database behind it.

``take_snapshot()`` reads the staging store (staged values; records marked for deletion left
out), or with ``committed=True`` the last committed configuration. ``Snapshot.build()`` makes
one from plain dicts, for tests and for ``genweb render`` from a file. Values keep the manual's
key names; ``value()`` resolves defaults through the catalogue, so render never repeats a
default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..catalogue import PAGES, YES

# Values the commit generates and keeps (never typed by an operator), by name.
GENERATED_KEYS = (
    "rtpDbPass",  # redis requirepass for rtpengine's call state (updateRtpDbPass renews it)
    "corosyncAuthkey",  # base64 of corosync's /etc/corosync/authkey
    "kamailioDefaultKey",  # PEM of the default TLS private key (9.2.4) when none is given
    "kamailioDefaultCert",  # PEM of the default TLS certificate
)


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Snapshot:
    settings: Mapping[str, Mapping[str, str]]  # key/value page -> key -> stored value
    records: Mapping[str, tuple[Mapping[str, str], ...]]  # collection -> records, index order
    generated: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Mapping[str, Mapping[str, str]] | None = None,
              records: Mapping[str, list[Mapping[str, str]]] | None = None,
              generated: Mapping[str, str] | None = None) -> Snapshot:
        """A snapshot from partial dicts: missing keys take their untouched (initial) value."""
        settings = settings or {}
        records = records or {}
        unknown = (set(settings) | set(records)) - set(PAGES)
        if unknown:
            raise KeyError(f"unknown pages: {sorted(unknown)}")
        full_settings = {}
        full_records = {}
        for page in PAGES.values():
            if page.collection:
                full_records[page.name] = tuple(
                    _frozen({**page.initial_values(), **row}) for row in records.get(page.name, ())
                )
            else:
                full_settings[page.name] = _frozen({**page.initial_values(),
                                                    **settings.get(page.name, {})})
        return cls(MappingProxyType(full_settings), MappingProxyType(full_records),
                   _frozen(generated or {}))

    # -- reading, with the catalogue's defaults ----------------------------------------------

    def value(self, page: str, key: str) -> str:
        """The effective value of a key/value page's key (default when blank or Default)."""
        return PAGES[page].key(key).effective(self.settings[page].get(key))

    def flag(self, page: str, key: str) -> bool:
        return self.value(page, key) == YES

    def rows(self, page: str) -> list[dict[str, str]]:
        """A collection's records with every key at its effective value."""
        catalogue = PAGES[page]
        return [{key.name: key.effective(row.get(key.name)) for key in catalogue.keys}
                for row in self.records[page]]

    @property
    def nodes(self) -> list[dict[str, str]]:
        return sorted(self.rows("haNodes"), key=lambda node: int(node["nodeID"]))


def take_snapshot(generated: Mapping[str, str] | None = None, *, committed: bool = False) -> Snapshot:
    """The staged configuration from the store (inside an application context).

    ``committed=True`` gives the last committed configuration instead: each key's committed
    value (its initial value if it was never committed), records as committed, those never
    committed left out and those marked for deletion kept (they are still on the cluster).
    """
    from .. import store

    settings = {}
    for name, page in PAGES.items():
        if not page.collection:
            view = store.get_settings(name)
            settings[name] = ({key: value for key, value in view.committed.items()
                               if value is not None} if committed else view.values)
    records = {}
    for name, page in PAGES.items():
        if page.collection:
            listing = store.list_records(name, include_hidden=True)
            if committed:
                records[name] = [item.committed for item in listing.items
                                 if item.committed is not None]
            else:
                records[name] = [item.values for item in listing.items if item.state != "deleted"]
    return Snapshot.build(settings, records, generated)
