"""The database core on both backends: pragmas, shared columns, unit of work, hooks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from sqlalchemy import ForeignKey, MetaData, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from clinicdesk.core.db import (
    SQLITE_BEGIN_DEFERRED,
    Database,
    WriterWaitsForItself,
    create_database,
    on_commit,
    run_after_commit,
    session_scope,
    unit_of_work,
    write_after_read,
)
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.models import NAMING_CONVENTION, TYPE_ANNOTATION_MAP, Entity, new_id
from clinicdesk.core.sqlite_driver import MIN_SQLITE_VERSION, sqlite_version


class ScratchBase(DeclarativeBase):
    """Tables for these tests only; kept off the application's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Ward(ScratchBase, Entity):
    __tablename__ = "scratch_ward"
    name: Mapped[str] = mapped_column(String(80), unique=True)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)


class Bed(ScratchBase, Entity):
    __tablename__ = "scratch_bed"
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scratch_ward.id"))


@pytest.fixture
async def tables(session: AsyncSession) -> AsyncSession:
    # DDL inside the test transaction: rolled back with it on both databases.
    await (await session.connection()).run_sync(ScratchBase.metadata.create_all)
    return session


async def test_sqlite_library_is_the_bundled_current_one() -> None:
    version = tuple(int(p) for p in sqlite_version().split("."))
    assert version >= MIN_SQLITE_VERSION


async def test_sqlite_connections_use_wal_foreign_keys_and_durable_commits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", sqlite_busy_timeout_ms=4321)
    try:
        async with db.engine.connect() as conn:
            pragma = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            }
            library = (await conn.execute(text("SELECT sqlite_version()"))).scalar_one()
    finally:
        await db.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": 4321,
    }
    assert library == sqlite_version()


async def test_sqlite_writers_take_turns_without_failing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With no busy timeout at all, 20 writers that overlap all succeed, one after the
    other: they wait for the process's turn (an asyncio lock), not for SQLite."""
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}", sqlite_busy_timeout_ms=0)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        async def write(n: int) -> None:
            async with db.engine.begin() as conn:
                await conn.execute(text("SELECT count(*) FROM t"))  # read, then write
                await asyncio.sleep(0.005)  # another writer arrives meanwhile
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

        await asyncio.gather(*(write(n) for n in range(20)))

        async with db.engine.connect() as conn:
            written = (await conn.execute(text("SELECT x FROM t"))).scalars()
            assert sorted(written) == list(range(20))
    finally:
        await db.dispose()


async def test_a_second_writer_in_the_same_task_is_refused_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It could only wait for itself (before: SQLite's "database is locked" after the busy
    timeout)."""
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with db.engine.connect() as holder:
            await holder.begin()
            await holder.execute(text("SELECT count(*) FROM t"))  # a read, yet the turn is held
            async with db.engine.connect() as other:
                with pytest.raises(WriterWaitsForItself):
                    async with other.begin():
                        await other.execute(text("INSERT INTO t VALUES (1)"))
            await holder.rollback()
    finally:
        await db.dispose()


async def test_a_reader_does_not_wait_for_a_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}", sqlite_busy_timeout_ms=0)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        deferred = db.engine.execution_options(**{SQLITE_BEGIN_DEFERRED: True})
        async with deferred.connect() as reader, db.engine.connect() as writer:
            await reader.begin()
            await reader.execute(text("SELECT count(*) FROM t"))
            async with writer.begin():
                await writer.execute(text("INSERT INTO t VALUES (2)"))
            await reader.rollback()
    finally:
        await db.dispose()


async def test_entity_gets_uuid7_utc_timestamps_and_version(tables: AsyncSession) -> None:
    ward = Ward(name="East")
    tables.add(ward)
    await tables.flush()
    assert ward.id.version == 7
    assert ward.version == 1
    assert ward.created_at.tzinfo is not None
    assert ward.created_at.utcoffset() == timedelta(0)

    tables.expunge_all()
    loaded = (await tables.execute(select(Ward))).scalar_one()
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert abs(loaded.created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_datetimes_are_stored_in_utc_and_naive_ones_are_refused(
    tables: AsyncSession,
) -> None:
    plus_five = timezone(timedelta(hours=5))
    tables.add(Ward(name="West", opened_at=datetime(2026, 3, 1, 9, 30, tzinfo=plus_five)))
    await tables.flush()
    tables.expunge_all()
    loaded = (await tables.execute(select(Ward).where(Ward.name == "West"))).scalar_one()
    assert loaded.opened_at == datetime(2026, 3, 1, 4, 30, tzinfo=UTC)
    assert loaded.opened_at is not None and loaded.opened_at.tzinfo == UTC

    tables.add(Ward(name="Naive", opened_at=datetime(2026, 3, 1, 9, 30)))  # noqa: DTZ001
    with pytest.raises(Exception, match="naive datetime"):
        await tables.flush()


async def test_stale_version_is_refused(tables: AsyncSession) -> None:
    ward = Ward(name="North")
    tables.add(ward)
    await tables.flush()
    # Another writer bumps the version behind this session's back.
    await tables.execute(
        text("UPDATE scratch_ward SET version = version + 1 WHERE id = :id"),
        {"id": ward.id.hex if tables.get_bind().dialect.name == "sqlite" else ward.id},
    )
    ward.name = "North wing"
    # The same error as a stale If-Match or form version: callers handle one (412).
    with pytest.raises(PreconditionFailed) as raised:
        await tables.flush()
    assert isinstance(raised.value.__cause__, StaleDataError)


async def test_update_bumps_version_and_updated_at(tables: AsyncSession) -> None:
    ward = Ward(name="South")
    tables.add(ward)
    await tables.flush()
    first_update = ward.updated_at
    ward.name = "South wing"
    await tables.flush()
    assert ward.version == 2
    assert ward.updated_at >= first_update


async def test_foreign_keys_are_enforced(tables: AsyncSession) -> None:
    tables.add(Bed(ward_id=new_id()))
    with pytest.raises(IntegrityError):
        await tables.flush()


async def test_constraint_names_follow_the_convention(tables: AsyncSession) -> None:
    table = Ward.__table__
    names = {c.name for c in table.constraints}  # type: ignore[attr-defined]
    assert "pk_scratch_ward" in names
    assert "uq_scratch_ward_name" in names
    assert {c.name for c in Bed.__table__.foreign_key_constraints} == {  # type: ignore[attr-defined]
        "fk_scratch_bed_ward_id_scratch_ward"
    }


async def test_after_commit_hooks_run_only_after_commit(tables: AsyncSession) -> None:
    ran: list[str] = []

    async def announce() -> None:
        ran.append("async")

    tables.add(Ward(name="Hooked"))
    on_commit(tables, lambda: ran.append("sync"))
    on_commit(tables, announce)
    await tables.flush()
    assert ran == []
    await tables.commit()
    assert ran == []  # committed, waiting for the scope owner
    await run_after_commit(tables)
    assert ran == ["sync", "async"]
    await run_after_commit(tables)
    assert ran == ["sync", "async"]  # once only


async def test_after_commit_hooks_are_dropped_on_rollback(tables: AsyncSession) -> None:
    ran: list[str] = []
    await tables.commit()
    on_commit(tables, lambda: ran.append("lost"))
    await tables.rollback()
    await tables.commit()
    await run_after_commit(tables)
    assert ran == []


async def test_hooks_of_a_rolled_back_savepoint_are_dropped(tables: AsyncSession) -> None:
    ran: list[str] = []
    on_commit(tables, lambda: ran.append("outer"))
    savepoint = await tables.begin_nested()
    on_commit(tables, lambda: ran.append("inner"))
    await savepoint.rollback()
    await tables.commit()
    await run_after_commit(tables)
    assert ran == ["outer"]


async def test_a_failing_hook_does_not_stop_the_others(tables: AsyncSession) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("mail server down")

    on_commit(tables, broken)
    on_commit(tables, lambda: ran.append("second"))
    await tables.commit()
    await run_after_commit(tables)
    assert ran == ["second"]


async def test_session_scope_commits_or_rolls_back(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(ScratchBase.metadata.create_all)
    try:
        ran: list[str] = []
        async with session_scope(db) as s:
            s.add(Ward(name="Kept"))
            on_commit(s, lambda: ran.append("kept"))

        async def add_then_fail() -> None:
            async with session_scope(db) as s:
                s.add(Ward(name="Lost"))
                on_commit(s, lambda: ran.append("lost"))
                await s.flush()
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await add_then_fail()
        async with session_scope(db) as s:
            names = set((await s.execute(select(Ward.name))).scalars())
        assert names == {"Kept"}
        assert ran == ["kept"]
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(ScratchBase.metadata.drop_all)


async def test_the_writes_of_a_read_wait_for_their_turn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A read's own writes (its audit entry) go in a write transaction of their own after
    the read, which waits for the process's turn like any writer: no SQLite busy error,
    even with no busy timeout, while another writer holds the lock."""
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}", sqlite_busy_timeout_ms=0)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        async def writer() -> None:
            async with db.engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                await asyncio.sleep(0.2)

        async def reader() -> None:
            await asyncio.sleep(0.05)  # the writer holds the lock now
            async with db.read_session() as session, unit_of_work(session):
                await session.execute(text("SELECT count(*) FROM t"))
                assert write_after_read(session, text("INSERT INTO t VALUES (2)"))

        await asyncio.gather(writer(), reader())
        async with db.engine.connect() as conn:
            written = (await conn.execute(text("SELECT x FROM t"))).scalars()
            assert sorted(written) == [1, 2]
    finally:
        await db.dispose()


async def test_a_read_that_is_cancelled_does_not_fail_the_writes_it_waits_with(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Reads waiting for the write turn are written together. The read that opened the
    batch may be cancelled (its client went away): the others' writes still land, and
    one read's failing write fails that read only."""
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        lock_held = asyncio.Event()

        async def writer() -> None:
            async with db.engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (0)"))
                lock_held.set()
                await asyncio.sleep(0.3)

        async def reader(x: int, delay: float) -> None:
            await lock_held.wait()
            await asyncio.sleep(delay)
            async with db.read_session() as session, unit_of_work(session):
                await session.execute(text("SELECT count(*) FROM t"))
                write_after_read(session, text("INSERT INTO t VALUES (:x)").bindparams(x=x))

        holding = asyncio.create_task(writer())
        first = asyncio.create_task(reader(1, 0.0))
        others = [asyncio.create_task(reader(x, 0.05)) for x in (2, 3)]
        duplicate = asyncio.create_task(reader(0, 0.05))  # the key exists: this one fails
        await asyncio.sleep(0.15)
        first.cancel()
        await holding
        await asyncio.gather(*others)
        with pytest.raises(IntegrityError):
            await duplicate
        with pytest.raises(asyncio.CancelledError):
            await first
        async with db.engine.connect() as conn:
            written = (await conn.execute(text("SELECT x FROM t"))).scalars()
            assert sorted(written) == [0, 1, 2, 3]
    finally:
        await db.dispose()
