"""The Dispatcher Status table (4.0, Figure 4) from Kamailio's RPC on the active node.

``kamcmd dispatcher.list`` prints Kamailio's RPC answer as nested ``NAME: value`` lines in
braces (not JSON); ``kamcmd htable.get dsrole primary`` says which set is primary now (the
htable the proxy's script keeps, docs/dispatcher-http.md). With no such key, the set of
``dispatchPriUser`` systems is primary, as in the script's route DS_ROLES.
"""

from __future__ import annotations

import re
from typing import Any

from ..kamailio.model import SET_PRI_USER, SET_SEC_USER

LIST = ("kamcmd", "dispatcher.list")
PRIMARY = ("kamcmd", "htable.get", "dsrole", "primary")
# Kamailio's destination flags: state letter, then P (probing) or X (not probing).
STATES = {"A": "Active", "I": "Inactive", "D": "Disabled", "T": "Trying"}
_LINE = re.compile(r"^\s*([A-Za-z_]+):\s*(.*?)\s*$")


class RpcUnreadable(ValueError):
    """kamcmd answered with an error or with something that is not an RPC structure."""


def parse_tree(text: str) -> list[tuple[str, Any]]:
    """kamcmd's structure as (name, value) pairs; a value is a string or such a list.

    Names repeat (one SET per set, one DEST per destination), so pairs, not a dict.
    """
    stripped = text.strip()
    if stripped.startswith("error:"):
        raise RpcUnreadable(stripped.splitlines()[0])
    if not stripped.startswith("{"):
        raise RpcUnreadable(f"not an RPC answer: {stripped[:80]!r}")
    stack: list[list[tuple[str, Any]]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("error:"):
            raise RpcUnreadable(stripped)
        if stripped == "{":
            continue  # the outer brace of the answer
        if stripped == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        match = _LINE.match(line)
        if not match:
            raise RpcUnreadable(f"unexpected kamcmd output: {stripped[:80]!r}")
        name, value = match.groups()
        if value == "{":
            child: list[tuple[str, Any]] = []
            stack[-1].append((name, child))
            stack.append(child)
        else:
            stack[-1].append((name, value))
    return stack[0]


def _get(pairs: list[tuple[str, Any]], name: str) -> list[Any]:
    return [value for key, value in pairs if key == name]


def _first(pairs: list[tuple[str, Any]], name: str, default: Any = None) -> Any:
    found = _get(pairs, name)
    return found[0] if found else default


def parse_primary(text: str) -> int:
    """The primary set from ``htable.get dsrole primary`` (the default when the key is unset)."""
    if "doesn't exist" in text or "not found" in text.lower():
        return SET_PRI_USER
    item = _first(parse_tree(text), "item", [])
    value = str(_first(item, "value", "")).strip()
    if not value.lstrip("-").isdigit():
        raise RpcUnreadable(f"htable dsrole has no numeric primary: {value!r}")
    return int(value)


def parse_list(text: str, primary: int) -> list[dict[str, Any]]:
    """One row per destination, sorted by set (as Figure 4), then URI."""
    if "No Destination Sets" in text or "no destination sets" in text.lower():
        return []
    rows = []
    records = _first(parse_tree(text), "RECORDS", [])
    for dset in _get(records, "SET"):
        set_id = int(_first(dset, "ID", "-1"))
        for dest in _get(_first(dset, "TARGETS", []), "DEST"):
            flags = str(_first(dest, "FLAGS", ""))
            rows.append({"set": set_id, "role": role(set_id, primary),
                         "status": STATES.get(flags[:1], flags or "unknown"),
                         "probing": flags[1:2] == "P", "flags": flags,
                         "uri": str(_first(dest, "URI", ""))})
    return sorted(rows, key=lambda row: (row["set"], row["uri"]))


def role(set_id: int, primary: int) -> str:
    """Primary or Backup; a set other than the two the proxy uses has no role."""
    if set_id == primary:
        return "Primary"
    if set_id in (SET_PRI_USER, SET_SEC_USER):
        return "Backup"
    return ""
