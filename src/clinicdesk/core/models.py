"""The declarative base and the columns every ClinicDesk table shares.

* Constraint names follow one convention, so Alembic migrations name them the same way on
  SQLite and PostgreSQL and can drop them later.
* Primary keys are UUIDv7: unique without asking the database, and time-ordered, so
  inserts append to the index instead of scattering across it.
* Timestamps are timezone-aware UTC on the way in and on the way out, on both databases.
* ``version`` is SQLAlchemy's version counter: an UPDATE carries ``WHERE version = :read``
  and a stale write raises ``StaleDataError`` (the API maps it to 412).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import uuid_utils.compat as uuid_compat
from sqlalchemy import DateTime, Integer, MetaData, Uuid, func, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    declared_attr,
    mapped_column,
)
from sqlalchemy.types import TypeDecorator

from clinicdesk.core.errors import PreconditionFailed

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7) as a standard ``uuid.UUID``."""
    return uuid_compat.uuid7()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that refuses naive datetimes and always reads back aware.

    SQLite keeps no zone, so values are normalised to UTC before they are stored and marked
    UTC when they are read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: ClinicDesk stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Python annotation -> column type, for ``Mapped[...]`` columns without an explicit type.
TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: UTCDateTime(),
    uuid.UUID: Uuid(),
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.current_timestamp()
    )


class VersionMixin:
    version: Mapped[int] = mapped_column(Integer(), nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr receives the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def check_version(record: VersionMixin, expected: int | None) -> None:
    """Refuse an update based on an older read (``If-Match`` / a form's hidden version):
    the client must reload and see what changed first."""
    if expected is not None and expected != record.version:
        raise PreconditionFailed(
            "Someone else changed this record since you opened it. Reload and try again.",
            current_version=record.version,
        )


class Entity(IdMixin, TimestampMixin, VersionMixin):
    """The usual row: UUID key, created/updated timestamps, optimistic-lock version."""


async def repoint(
    session: AsyncSession,
    column: InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[uuid.UUID | None],
    *,
    old: uuid.UUID,
    new: uuid.UUID,
) -> list[uuid.UUID]:
    """Make every row whose ``column`` is ``old`` point at ``new`` (in the session's tenant,
    like every ORM statement) and return their ids. The rows' versions move on, so a form
    opened before the change is refused as stale."""
    model: Any = column.class_
    values: dict[str, Any] = {column.key: new}
    if issubclass(model, VersionMixin):
        values["version"] = model.version + 1
    result = await session.scalars(
        update(model)
        .where(column == old)
        .values(values)
        .returning(model.id)
        .execution_options(synchronize_session="fetch")
    )
    return list(result)
