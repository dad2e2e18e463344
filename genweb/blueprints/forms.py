"""Reading the catalogue's fields out of a submitted form.

Secrets follow the manual's rule: a password field changes only when the operator confirmed it
(Enter or Tab in the browser sets the hidden ``<key>__set`` flag; without JavaScript, the
"change" checkbox does the same). An untouched password field keeps the stored secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..catalogue import Key

SET_SUFFIX = "__set"


def submitted_values(form: Mapping[str, str], keys: Iterable[Key],
                     locked: Iterable[str] = ()) -> dict[str, str]:
    """The values a form changes: every shown key, plus the secrets the operator confirmed."""
    locked = set(locked)
    values: dict[str, str] = {}
    for key in keys:
        if key.name in locked:
            continue
        if key.secret:
            if form.get(key.name + SET_SUFFIX) in ("1", "on"):
                values[key.name] = form.get(key.name, "")
        else:
            values[key.name] = form.get(key.name, "")
    return values


def echo_values(submitted: Mapping[str, str], keys: Iterable[Key]) -> dict[str, str]:
    """What to show again after a refused save: the operator's input, never a secret."""
    return {key.name: submitted[key.name] for key in keys
            if key.name in submitted and not key.secret}


def secrets_pending(submitted: Mapping[str, str], keys: Iterable[Key]) -> list[str]:
    """Secrets the operator confirmed in a refused save (re-marked, value not sent back)."""
    return [key.name for key in keys if key.secret and key.name in submitted]
