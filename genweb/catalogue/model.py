"""The shapes of the catalogue: a key, a page, and what a change to them costs at commit."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .validators import Checker, Invalid


class Kind(enum.StrEnum):
    """How a key is entered and stored. Every value is stored as text."""

    TEXT = "text"  # one line
    LIST = "list"  # several lines (lists, aliases)
    INTEGER = "integer"
    TRISTATE = "tristate"  # Yes / No / Default radios
    CHOICE = "choice"  # a pulldown; "Default" is one of the choices where the manual has it
    SECRET = "secret"  # write-only password or hash


class Effect(enum.IntEnum):
    """What committing a change costs the running system (16.0), from cheapest to dearest."""

    NONE = 0  # nothing to apply on the nodes (e.g. rootPass, web-server credentials)
    LIVE = 1  # applied live, no down time
    SWITCH = 2  # applied by switching the primary node: a short interruption
    RESTART = 3  # a complete shutdown and restart of the HA software

    @property
    def label(self) -> str:
        return EFFECT_LABELS[self]


EFFECT_LABELS = {
    Effect.NONE: "no effect on the running system",
    Effect.LIVE: "no downtime",
    Effect.SWITCH: "primary switch",
    Effect.RESTART: "full restart",
}

DEFAULT = "Default"
YES, NO = "Yes", "No"
TRISTATE_CHOICES = (YES, NO, DEFAULT)


@dataclass(frozen=True)
class Key:
    """One configuration key of the manual, described once for pages, API, validation and commit."""

    name: str  # the manual's exact name
    description: str  # the text in the page's Description column
    section: str  # the manual's section, e.g. "3.2"
    kind: Kind = Kind.TEXT
    default: str = ""  # the effective value when the operator leaves it blank or at Default
    checker: Checker | None = None  # grammar of a non-empty value
    choices: tuple[str, ...] = ()  # for CHOICE and TRISTATE
    required: bool = False
    effect: Effect = Effect.SWITCH
    immutable_after_commit: bool = False
    example: str = ""  # a valid value, for documentation and tests

    @property
    def secret(self) -> bool:
        return self.kind is Kind.SECRET

    @property
    def has_default_choice(self) -> bool:
        return DEFAULT in self.choices

    def initial(self) -> str:
        """The stored value of a key nobody has touched."""
        if self.has_default_choice:
            return DEFAULT
        return self.default if self.kind is Kind.CHOICE else ""

    def clean(self, raw: str | None) -> str:
        """Normalise and check one value on its own; raise Invalid with the operator's message."""
        value = "" if raw is None else str(raw)
        if self.kind is Kind.SECRET:
            return self._clean_secret(value)
        value = value.strip() if self.kind is not Kind.LIST else value.strip("\r\n\t ")
        if self.kind in (Kind.TRISTATE, Kind.CHOICE):
            return self._clean_choice(value)
        if not value:
            if self.required:
                raise Invalid(f"{self.name} is required")
            return ""
        return self.checker(value) if self.checker else value

    def _clean_choice(self, value: str) -> str:
        if not value and self.initial():
            return self.initial()
        if not self.choices:  # the choices depend on other records (fenceNodeName): the store checks
            if not value and self.required:
                raise Invalid(f"{self.name} is required")
            return value
        for choice in self.choices:
            if value.lower() == choice.lower():
                return choice
        if not value and self.required:
            raise Invalid(f"{self.name} is required")
        raise Invalid(f"'{value}' is not one of: {', '.join(self.choices)}")

    def _clean_secret(self, value: str) -> str:
        # A blank secret is allowed (the manual's "Enter on an empty field"); a hash has a grammar.
        if value and self.checker:
            return self.checker(value)
        if len(value) > 256:
            raise Invalid("too long (at most 256 characters)")
        if "\n" in value or "\r" in value:
            raise Invalid("must be a single line")
        return value

    def effective(self, stored: str | None) -> str:
        """The value the engines get: the stored one, or the manual's default."""
        if stored is None or stored == "" or stored == DEFAULT:
            return self.default
        return stored


Rule = Callable[[Mapping[str, str]], dict[str, str]]
"""A cross-field rule: given effective values (defaults resolved), return {key: message}."""


@dataclass(frozen=True)
class Page:
    """A page of the sidebar: a key/value page, or an index of records (a collection)."""

    name: str  # internal id and API path segment, e.g. "systemConfig"
    title: str  # heading on the page
    sidebar: str  # link text in the sidebar
    section: str
    keys: tuple[Key, ...]
    collection: bool = False
    record_name: str = ""  # singular, e.g. "HA node"
    intro: str = ""  # text shown above the table
    index_columns: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # key tuples unique among the records
    rules: tuple[Rule, ...] = ()
    create_effect: Effect = Effect.LIVE  # what adding or removing a record costs
    order_by: tuple[str, ...] = ()
    key_map: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_map", {key.name: key for key in self.keys})

    def key(self, name: str) -> Key:
        return self.key_map[name]

    @property
    def url(self) -> str:
        return "/" + self.name

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys if key.secret)

    def initial_values(self) -> dict[str, str]:
        return {key.name: key.initial() for key in self.keys}

    def effective(self, values: Mapping[str, str]) -> dict[str, str]:
        """Every key's effective value (stored, else default)."""
        return {key.name: key.effective(values.get(key.name)) for key in self.keys}

    def validate(self, values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Clean every key, then apply the page's cross-field rules.

        Returns (cleaned values, {key: message}). Secrets are cleaned like any key; the caller
        decides which secrets were actually submitted.
        """
        cleaned: dict[str, str] = {}
        errors: dict[str, str] = {}
        for key in self.keys:
            try:
                cleaned[key.name] = key.clean(values.get(key.name, key.initial()))
            except Invalid as exc:
                errors[key.name] = str(exc)
        # Rules see the effective values (defaults resolved) of the keys that passed their checks.
        effective = {name: self.key(name).effective(value) for name, value in cleaned.items()}
        for rule in self.rules:
            for name, message in rule(effective).items():
                errors.setdefault(name, message)
        return cleaned, errors
