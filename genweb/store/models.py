"""The staging store: every saved value beside its last committed one.

Key/value pages are rows of ``setting`` (the manual's "key/value pairs"); collections are rows of
``record`` holding their values as JSON, with the lifecycle flags of sections 5.1.5 and 6.1.5.
``record_key`` enforces the catalogue's uniqueness rules with a real unique index.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def _now() -> datetime:
    return datetime.now(UTC)


class Setting(db.Model):
    """One key of a key/value page."""

    __tablename__ = "setting"
    page: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    staged: Mapped[str] = mapped_column(Text, default="")
    committed: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: never committed


class PageState(db.Model):
    """A key/value page's revision: a save names the revision it started from (no lost updates)."""

    __tablename__ = "page_state"
    page: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Record(db.Model):
    """One entry of a collection (a node, a fence, a subscriber ...)."""

    __tablename__ = "record"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict] = mapped_column(JSON)  # staged values, keyed by the manual's names
    committed: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # None: never committed
    marked: Mapped[bool] = mapped_column(Boolean, default=False)  # deleted after commit (UnDelete)
    marked_by_node: Mapped[bool] = mapped_column(Boolean, default=False)  # fence of a deleted node
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)  # the two default TLS sections
    revision: Mapped[int] = mapped_column(Integer, default=1)
    sort_key: Mapped[str] = mapped_column(String(512), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RecordKey(db.Model):
    """A unique value of a record (e.g. a node's nodeID); the index refuses duplicates."""

    __tablename__ = "record_key"
    __table_args__ = (UniqueConstraint("kind", "name", "value"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(1024))
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), index=True)


class Generated(db.Model):
    """A value the system generates and keeps (a redis password, the corosync authkey ...)."""

    __tablename__ = "generated"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Job(db.Model):
    """A commit, rebuild, start system or unfence run, with its outcome (who, when, what, result)."""

    __tablename__ = "job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    user: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")  # e.g. the commit plan, secrets masked
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobEvent(db.Model):
    """One progress message of a job."""

    __tablename__ = "job_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
