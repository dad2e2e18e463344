"""The benchmarks' shared writer: each one owns one '## ' section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(heading: str, report: str, docs: Path = DOCS) -> Path:
    """Replace (or append) the section that starts with ``heading``; other sections stay."""
    text = docs.read_text() if docs.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + report + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + report
    docs.write_text(text)
    print(f"wrote {docs}")
    return docs
