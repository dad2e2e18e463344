"""The catalogue: every page and key of the manual, described once.

Pages, forms, API schemas, validation, the commit plan and the docs all read it.
Pure data and pure functions: no Flask, no database.
"""

from .model import DEFAULT, EFFECT_LABELS, NO, YES, Effect, Key, Kind, Page
from .pages import (
    COLLECTIONS,
    DATABASE_CONFIG,
    FENCES,
    HA_NODES,
    PAGES,
    PASSWORD_PLACEHOLDER,
    SETTINGS_PAGES,
    TLS_CONFIGS,
    TLS_DEFAULT_DOMAIN,
    database_keys,
)
from .validators import Invalid

__all__ = [
    "COLLECTIONS", "DATABASE_CONFIG", "DEFAULT", "EFFECT_LABELS", "FENCES", "HA_NODES", "NO",
    "PAGES", "PASSWORD_PLACEHOLDER", "SETTINGS_PAGES", "TLS_CONFIGS", "TLS_DEFAULT_DOMAIN", "YES",
    "Effect", "Invalid", "Key", "Kind", "Page", "database_keys",
]
