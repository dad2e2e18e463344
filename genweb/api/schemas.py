"""The API's schemas, generated from the catalogue: one generator for every page and key.

Marshmallow here checks only the JSON shape (an object of strings, no unknown keys). What a
value means is checked by the catalogue through the store, exactly as for the browser pages, so
both answer the same value with the same message.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from ..catalogue import COLLECTIONS, PAGES, Key, Kind, Page
from ..catalogue import validators as v

MAX_ID = 2**63 - 1  # SQLite's largest row id: larger ids are 404, never an overflow
MAX_OFFSET = 10**9
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
STATES = ("new", "committed", "changed", "deleted")

# Value grammars worth naming in the document. Names other than "ipv4" are ours: JSON Schema
# validators ignore formats they do not know, the catalogue is what checks.
_FORMATS = {
    v.ipv4: "ipv4",
    v.host: "host",  # an IPv4 address or a host name
    v.port: "port",
    v.subnet_mask: "subnet-mask",
    v.abs_path: "absolute-path",
    v.hex32: "md5-hex",
}

# Pulldowns whose choices are other records, not catalogue data.
RECORD_CHOICES = {"fenceNodeName": "the nodeName values of the nodes (GET /api/haNodes)"}

SECRET_NOTE = ("Write-only: never returned (see secretsSet). Absent: unchanged; present, even "
               "empty: set to that value.")


class Text(fields.String):
    """A string the store can keep: JSON escapes can smuggle lone surrogates that UTF-8 cannot."""

    default_error_messages = {"surrogate": "Not valid text (it contains a lone surrogate)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise self.make_error("surrogate") from exc
        return text


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


class CatalogueRequired(ma.Schema):
    """Documents required keys but leaves reporting them to the catalogue, so a missing key is
    listed with every other error of the record at once, in the page's words."""

    def load(self, data: Any, *, partial: Any = None, **kwargs: Any) -> Any:
        return super().load(data, partial=True, **kwargs)


def _schema(name: str, members: dict[str, fields.Field], description: str,
            base: type[ma.Schema] = ma.Schema) -> type[ma.Schema]:
    """A named schema class (apispec names the component after the class)."""
    meta = type("Meta", (), {"description": description, "unknown": ma.RAISE})
    return type(name, (base,), {**members, "Meta": meta})


def _documented_format(key: Key) -> dict[str, Any]:
    if key.kind is Kind.INTEGER:
        return {"pattern": "^[0-9]*$"}
    name = _FORMATS.get(key.checker) if key.checker else None
    if name is None:
        return {}
    if key.required:
        return {"format": name}
    return {"anyOf": [{"format": name}, {"maxLength": 0}]}  # blank means "not used"


def key_field(key: Key, *, create: bool = False) -> fields.Field:
    """The JSON field of one catalogue key: always a string, as the pages store it."""
    required = create and key.required and not key.initial()
    description = f"{key.description} (manual {key.section})"
    if key.name in RECORD_CHOICES:
        description += f". One of {RECORD_CHOICES[key.name]}"
    if key.secret:
        description += ". " + SECRET_NOTE
    meta: dict[str, Any] = {
        "description": description,
        "x-kind": key.kind.value,
        "x-commit-effect": key.effect.label,
        **_documented_format(key),
    }
    if key.choices:
        meta["enum"] = list(key.choices)
    if key.example:
        meta["example"] = key.example
    if create and not key.secret and not required:
        meta["default"] = key.initial()  # what a new record gets when the key is left out
    if key.default and key.default != key.initial():
        meta["x-effective-default"] = key.default  # what the engines get for blank/Default
    if key.immutable_after_commit:
        meta["x-immutable-after-commit"] = True
    return Text(required=required, load_only=key.secret, metadata=meta)


def values_schema(page: Page, *, create: bool = False) -> type[ma.Schema]:
    suffix = "New" if create else "Values"
    what = ("the values of a new " + page.record_name + "; left-out keys get their defaults"
            if create else
            f"{page.title} values. In a PATCH body every key is optional: a key left out keeps "
            "its value")
    return _schema(_pascal(page.name) + suffix,
                   {key.name: key_field(key, create=create) for key in page.keys}, what,
                   CatalogueRequired if create else ma.Schema)


def secrets_schema(page: Page) -> type[ma.Schema]:
    members = {name: fields.Boolean(metadata={"description": f"whether {name} has a value"})
               for name in page.secret_keys}
    return _schema(_pascal(page.name) + "SecretsSet", members,
                   "For each write-only key, whether a value is set (the value never is shown)")


def _revision() -> fields.Integer:
    return fields.Integer(dump_only=True, metadata={
        "description": "Changes with every save; the same number is the ETag. Send it back in "
                       "If-Match so a save cannot overwrite someone else's."})


def settings_schema(page: Page, values: type[ma.Schema]) -> type[ma.Schema]:
    return _schema(_pascal(page.name), {
        "revision": _revision(),
        "values": fields.Nested(values, dump_only=True, metadata={
            "description": "every key but the write-only ones, as stored (staged, not yet "
                           "committed)"}),
        "secretsSet": fields.Nested(secrets_schema(page), dump_only=True),
    }, f"{page.title} (manual {page.section}): the staged values of the page")


def record_schema(page: Page, values: type[ma.Schema]) -> type[ma.Schema]:
    return _schema(_pascal(page.name) + "Record", {
        "id": fields.Integer(dump_only=True, metadata={"description": f"the {page.record_name}'s id"}),
        "state": fields.String(dump_only=True, metadata={
            "enum": list(STATES),
            "description": "new: never committed; committed: as committed; changed: saved since "
                           "the last commit; deleted: marked for deletion at the next commit "
                           "(POST .../undelete keeps it)"}),
        "revision": _revision(),
        "values": fields.Nested(values, dump_only=True, metadata={
            "description": "every key but the write-only ones"}),
        "secretsSet": fields.Nested(secrets_schema(page), dump_only=True),
        "locked": fields.List(fields.String(metadata={"enum": [k.name for k in page.keys]}),
                              dump_only=True, metadata={
            "description": "keys that can no longer change (a committed node's identity, the "
                           "default TLS sections' domain and role)"}),
    }, f"A {page.record_name} (manual {page.section})")


def listing_schema(page: Page, record: type[ma.Schema]) -> type[ma.Schema]:
    return _schema(_pascal(page.name) + "Listing", {
        "items": fields.List(fields.Nested(record), dump_only=True),
        "total": fields.Integer(dump_only=True, metadata={
            "description": "how many records match the filters, on all pages"}),
        "offset": fields.Integer(dump_only=True),
        "limit": fields.Integer(dump_only=True),
    }, f"One page of {page.title}, in the index order of the browser page")


def query_schema(page: Page) -> type[ma.Schema]:
    members: dict[str, fields.Field] = {
        "offset": fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET),
                                 metadata={"description": "how many matching records to skip"}),
        "limit": fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                                metadata={"description": "how many records to return at most"}),
    }
    for column in page.index_columns:
        members[column] = Text(metadata={
            "description": f"only records whose {column} contains this text (any case)"})
    return _schema(_pascal(page.name) + "Query", members, "paging and filters")


class Error(ma.Schema):
    """The one shape of every error the API answers."""

    class Meta:
        description = ("Every error. errors is present for 400/422 only: location (json or "
                       "query) -> key -> messages; the key _schema means the whole body.")

    code = fields.Integer(metadata={"description": "the HTTP status code", "example": 422})
    status = fields.String(metadata={"description": "the HTTP status name",
                                     "example": "Unprocessable Entity"})
    message = fields.String(metadata={"description": "what happened, for an operator"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String())),
        metadata={"example": {"json": {"privateIP": ["'10.1' is not an IPv4 address (such as "
                                                     "192.168.1.10)"]}}},
    )


class Empty(ma.Schema):
    """No keys: send {} (or nothing), still with Content-Type: application/json."""

    class Meta:
        unknown = ma.RAISE


class Index(ma.Schema):
    """GET /api/: where everything is."""

    openapi = fields.String(metadata={"description": "the OpenAPI document"})
    pages = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "page name -> its resource"})


# Generated once at import: the classes are shared by every application instance.
VALUES = {page.name: values_schema(page) for page in PAGES.values()}
NEW = {page.name: values_schema(page, create=True) for page in COLLECTIONS}
SETTINGS = {page.name: settings_schema(page, VALUES[page.name])
            for page in PAGES.values() if not page.collection}
RECORDS = {page.name: record_schema(page, VALUES[page.name]) for page in COLLECTIONS}
LISTINGS = {page.name: listing_schema(page, RECORDS[page.name]) for page in COLLECTIONS}
QUERIES = {page.name: query_schema(page) for page in COLLECTIONS}
