"""Secrets out of the dump: every catalogue secret, every generated value, every column or JSON
key named like a password or hash; then every secret value seen is scrubbed from all text.

A masked value reads ``********`` when something is set and stays blank when nothing is, so the
reader can still tell a missing password from a present one (as the pages' placeholders do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..catalogue import PAGES
from ..nodes import MASK
from .webdb import Table

# Column or key names that hold secrets in any table, ours or Kamailio's (subscriber.password,
# ha1, ha1b; uacreg.auth_password, auth_ha1; rootPass, dbrwPass ...).
SECRET_NAME = re.compile(r"pass|ha1|secret|private_?key|authkey|token|pwd", re.IGNORECASE)
# Shorter secrets are not scrubbed from free text: they would mangle ordinary words and numbers.
SCRUB_MIN_LENGTH = 4
WHOLLY_SECRET_TABLES = {"generated": ("value",)}  # redis password, corosync key, TLS key ...


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def masked(value: Any) -> Any:
    """The mask for a set value; blank and NULL stay as they are."""
    if value is None or value == "":
        return value
    return MASK


def secret_keys(page_name: str | None) -> frozenset[str]:
    page = PAGES.get(page_name or "")
    return frozenset(page.secret_keys) if page else frozenset()


def known_keys(page_name: str | None) -> frozenset[str]:
    """The catalogue decides for its own keys (tlsPrivateKey is a file name, not a secret)."""
    page = PAGES.get(page_name or "")
    return frozenset(page.key_map) if page else frozenset()


class Masker:
    """Masks values and remembers them, so a copy elsewhere (a log line) is scrubbed too."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def hide(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) >= SCRUB_MIN_LENGTH:
            self.seen.add(value)
        return masked(value)

    def mapping(self, values: Any, secret: frozenset[str] = frozenset(),
                known: frozenset[str] = frozenset()) -> Any:
        """A JSON value with the ``secret`` keys masked, and any other key named like a secret
        unless it is one of the ``known`` (catalogue) keys."""
        if isinstance(values, dict):
            return {key: self.hide(value) if key in secret or (
                key not in known and is_secret_name(key)) else self.mapping(value)
                for key, value in values.items()}
        if isinstance(values, list):
            return [self.mapping(value) for value in values]
        return values

    def tables(self, tables: dict[str, Table]) -> dict[str, Table]:
        """Masked copies of the store's tables."""
        return {name: Table(name, table.columns, [self._row(name, row) for row in table.rows])
                for name, table in tables.items()}

    def _row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        secret_columns = {c for c in row if is_secret_name(c)}
        secret_columns.update(WHOLLY_SECRET_TABLES.get(table, ()))
        if table == "setting" and row.get("key") in secret_keys(row.get("page")):
            secret_columns.update(("staged", "committed"))
        if table == "record_key" and secret_keys(row.get("kind")) & set(
                str(row.get("name", "")).split("+")):
            secret_columns.add("value")
        kind = row.get("kind") if table == "record" else None
        secret, known = secret_keys(kind), known_keys(kind)
        return {column: self.hide(value) if column in secret_columns
                else self.mapping(value, secret, known) for column, value in row.items()}

    def scrub(self, document: Any) -> Any:
        """The document with every remembered secret replaced in all of its text."""
        return Scrubber(self.seen).document(document)


class Scrubber:
    """Replaces known secrets inside any text. Thousands of subscriber passwords make a regular
    expression alternation far too slow, so secrets are indexed by their first characters and
    each text is scanned once."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._index: dict[str, list[str]] = {}
        for secret in secrets:
            if len(secret) >= SCRUB_MIN_LENGTH:
                self._index.setdefault(secret[:SCRUB_MIN_LENGTH], []).append(secret)
        for candidates in self._index.values():
            candidates.sort(key=len, reverse=True)  # the longest match wins

    def document(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.document(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.document(item) for item in value]
        return value

    def text(self, text: str) -> str:
        if not self._index or len(text) < SCRUB_MIN_LENGTH:
            return text
        parts: list[str] = []
        start = position = 0
        while position <= len(text) - SCRUB_MIN_LENGTH:
            found = self._match(text, position)
            if found:
                parts += [text[start:position], MASK]
                position = start = position + found
            else:
                position += 1
        return "".join(parts + [text[start:]]) if parts else text

    def _match(self, text: str, position: int) -> int:
        for secret in self._index.get(text[position:position + SCRUB_MIN_LENGTH], ()):
            if text.startswith(secret, position):
                return len(secret)
        return 0
