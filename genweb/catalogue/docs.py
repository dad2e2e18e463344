"""Markdown reference of every page and key, generated from the catalogue.

    python -m genweb.catalogue.docs > docs/keys.md
"""

from __future__ import annotations

from .model import Kind
from .pages import PAGES


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def keys_markdown() -> str:
    lines = [
        "# Configuration keys",
        "",
        "Generated from `genweb/catalogue` by `python -m genweb.catalogue.docs`: do not edit.",
        "Effect is what committing a change costs the running system (manual 16.0).",
        "",
    ]
    for page in PAGES.values():
        kind = "index of records" if page.collection else "key/value page"
        lines += [f"## {page.sidebar} — {page.title} ({kind}, manual {page.section})", ""]
        if page.collection:
            unique = "; ".join(" + ".join(group) for group in page.unique)
            lines += [f"Index columns: {', '.join(page.index_columns)}. Unique: {unique}.", ""]
        lines += ["| key | § | kind | default | allowed | effect | description |",
                  "|---|---|---|---|---|---|---|"]
        for key in page.keys:
            allowed = ", ".join(key.choices) if key.choices else ("required" if key.required else "")
            if key.kind is Kind.SECRET:
                allowed = "write-only"
            if key.immutable_after_commit:
                allowed = (allowed + "; " if allowed else "") + "fixed once committed"
            lines.append(
                f"| `{key.name}` | {key.section} | {key.kind.value} | {_cell(key.default)} | "
                f"{_cell(allowed)} | {key.effect.label} | {_cell(key.description)} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(keys_markdown(), end="")
