"""The staging store (SQLite): saved changes beside the last committed configuration."""

from .models import db
from .ops import (
    Conflict,
    Listing,
    NotFound,
    RecordView,
    Refused,
    SettingsView,
    StoreError,
    ValidationFailed,
    create_record,
    delete_record,
    ensure_defaults,
    generated_values,
    get_record,
    get_settings,
    has_pending_changes,
    list_records,
    node_names,
    record_commit,
    replace_generated,
    save_settings,
    undelete_record,
    update_record,
)

__all__ = [
    "Conflict", "Listing", "NotFound", "RecordView", "Refused", "SettingsView", "StoreError",
    "ValidationFailed", "create_record", "db", "delete_record", "ensure_defaults", "generated_values", "get_record",
    "get_settings", "has_pending_changes", "list_records", "node_names", "record_commit", "replace_generated",
    "save_settings", "undelete_record", "update_record",
]
