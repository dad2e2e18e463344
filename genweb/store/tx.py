"""Transactions: reads are ordinary (WAL readers never block), writes serialise.

A write operation runs inside ``writing()``: its transaction starts with BEGIN IMMEDIATE, so the
check it makes (a page's revision, a unique value) and the write it then does cannot be
interleaved with another writer's. Reads begin DEFERRED and never hold the write lock, so a
long page render or a progress stream cannot stall a commit's progress messages.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy import event

from .models import db

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)

P = ParamSpec("P")
R = TypeVar("R")


def configure_sqlite(engine) -> None:
    """Durable commits, WAL, foreign keys; BEGIN IMMEDIATE only for write operations."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below takes effect
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

    engine.dispose()  # connections made before the listeners existed go away


@contextmanager
def writing() -> Iterator[None]:
    """Run a write operation in one BEGIN IMMEDIATE transaction, ended when the block ends."""
    if _write_intent.get():  # nested: the outer operation owns the transaction
        yield
        return
    db.session.commit()  # end a read transaction: a write must start IMMEDIATE
    token = _write_intent.set(True)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _write_intent.reset(token)


def write_operation(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with writing():
            return func(*args, **kwargs)

    return wrapper
