"""Helpers for the API tests: reading a browser page's fields the way a browser shows them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from genweb.catalogue import Page


class PageReader(HTMLParser):
    """A page's shown values (inputs, textareas, checked radios, selected options) and the
    error message beside each field, keyed by catalogue key."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._open: tuple[str, str] | None = None  # (what is collecting text, key)
        self._group: tuple[str, str] | None = None  # (fieldset|select, key)
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        ident = attr.get("id") or ""
        key = ident[2:] if ident.startswith("f-") else None
        if tag == "input" and key and attr.get("type") != "password":
            self.values[key] = attr.get("value") or ""
        elif tag == "textarea" and key:
            self.values[key] = ""
            self._open = ("value", key)
        elif tag in ("fieldset", "select") and key:
            self._group = (tag, key)
        elif self._group and (tag, self._group[0]) in (("input", "fieldset"), ("option", "select")):
            if "checked" in attr or "selected" in attr:  # the radio or option shown as chosen
                self.values[self._group[1]] = attr.get("value") or ""
        elif tag == "div" and ident.startswith("error-"):
            self.errors[ident[6:]] = ""
            self._open = ("error", ident[6:])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("textarea", "div"):
            self._open = None
        elif tag in ("fieldset", "select"):
            self._group = None

    def handle_data(self, data: str) -> None:
        if self._open:
            where, key = self._open
            target = self.values if where == "value" else self.errors
            target[key] += data


def secret_state(html: str, key: str) -> str:
    """The page's note on a write-only key: 'A value is set' or 'Not set'."""
    row = re.search(rf'<tr id="row-{re.escape(key)}".*?</tr>', html, re.S)
    assert row, key
    state = re.search(r"data-secret-state>(.*?)</span>", row.group(0), re.S)
    return state.group(1).strip() if state else ""


def record_url(page: Page, record_id: int) -> str:
    return f"{page.url}/{record_id}/edit"
