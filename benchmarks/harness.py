"""What the database benchmarks share: a fresh SQLite file or the test suite's throwaway
PostgreSQL cluster, planner statistics, sizes, statement capture, percentiles."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection

from clinicdesk.core.db import Database
from clinicdesk.core.models import Base

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from clinicdesk.identity.models import User
    from clinicdesk.scheduling.models import Provider

REPO_ROOT = Path(__file__).resolve().parents[1]
Result = TypeVar("Result")
RunOn = Callable[[str, str], Awaitable[Result]]
"""``run_on(owner_url, app_url)``: load as the owner, measure as the application role."""


async def on_sqlite(run_on: RunOn[Result], *, name: str, keep: bool) -> Result:
    """``run_on`` against a new SQLite file in a temporary directory (removed unless kept)."""
    directory = Path(tempfile.mkdtemp(prefix=f"clinicdesk-{name}-bench-"))
    path = directory / "clinicdesk.db"
    url = f"sqlite+aiosqlite:///{path}"
    try:
        return await run_on(url, url)
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


async def on_postgresql(run_on: RunOn[Result]) -> Result:
    """``run_on`` against the test suite's throwaway cluster (initdb + pg_ctl on 127.0.0.1,
    as the postgres user when we are root); benchmarks run from a source checkout."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support.postgres import APP_ROLE, start_throwaway_postgres

    try:
        server = await asyncio.to_thread(start_throwaway_postgres)
    except RuntimeError as exc:
        raise SystemExit(f"PostgreSQL could not be started: {exc}") from None
    try:
        owner_url = server.create_database("clinicdesk_bench")
        return await run_on(owner_url, server.url("clinicdesk_bench", role=APP_ROLE))
    finally:
        await asyncio.to_thread(server.stop)


def table(model: type[Base]) -> Table:
    """The model's table, for Core inserts (no ORM unit of work per row)."""
    return Base.metadata.tables[model.__tablename__]


async def analyze(db: Database) -> None:
    """Planner statistics, as autovacuum (PostgreSQL) or the connection's
    ``PRAGMA optimize`` (SQLite) would gather them a while after such a load."""
    async with db.engine.connect() as conn:
        if db.kind == "sqlite":
            async with conn.begin():
                await conn.exec_driver_sql("ANALYZE")
        else:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("ANALYZE")


async def database_size(db: Database) -> int:
    async with db.engine.connect() as conn:
        if db.kind == "postgresql":
            query = "SELECT pg_database_size(current_database())"
            return int((await conn.exec_driver_sql(query)).scalar_one())
        pages = (await conn.exec_driver_sql("PRAGMA page_count")).scalar_one()
        page_size = (await conn.exec_driver_sql("PRAGMA page_size")).scalar_one()
        return int(pages) * int(page_size)


@asynccontextmanager
async def captured_statements(db: Database) -> AsyncIterator[list[tuple[float, str, Any]]]:
    """Every statement the engine runs meanwhile, with its duration in seconds."""
    captured: list[tuple[float, str, Any]] = []
    engine = db.engine.sync_engine

    def before(conn: Connection, _c: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Connection, _c: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((time.perf_counter() - conn.info["bench_started"], statement, params))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def on_each(
    database: str, run_on: RunOn[Result], *, name: str, keep: bool, time_limit: float
) -> list[Result]:
    """``run_on`` on SQLite, PostgreSQL or ``both``, each bounded by ``time_limit`` s."""
    databases = ("sqlite", "postgresql") if database == "both" else (database,)
    results = []
    for kind in databases:
        try:
            async with asyncio.timeout(time_limit):
                if kind == "sqlite":
                    results.append(await on_sqlite(run_on, name=name, keep=keep))
                else:
                    results.append(await on_postgresql(run_on))
        except TimeoutError:
            raise SystemExit(f"{kind}: gave up after {time_limit} s") from None
    return results


def letters(number: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "Ab": a name without digits (names refuse them)."""
    word = ""
    while True:
        number, rest = divmod(number, 26)
        word = chr(ord("a") + rest) + word
        if number == 0:
            return word.capitalize()
        number -= 1


async def add_provider(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    location_id: uuid.UUID,
    display_name: str,
    blocks: Iterable[tuple[int, clock, clock]],
    user: User | None = None,
    email: str = "",
    full_name: str = "",
) -> tuple[User, Provider]:
    """A bookable doctor at ``location_id`` with weekly hours ``(weekday, start, end)``:
    ``user`` if given, otherwise a new doctor account (no password): ``full_name`` at
    ``email``.
    Returns the account and the provider."""
    from clinicdesk.core.actor import SYSTEM
    from clinicdesk.identity.permissions import Role
    from clinicdesk.identity.service import users
    from clinicdesk.scheduling.schemas import HoursBlock, ProviderWrite, WeeklyHoursWrite
    from clinicdesk.scheduling.service import setup

    if user is None:
        user = await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=organization_id,
            email=email,
            full_name=full_name,
            roles=[Role.DOCTOR],
            password=None,
        )
    provider = await setup.create_provider(
        session,
        actor=SYSTEM,
        data=ProviderWrite(user_id=user.id, display_name=display_name, location_ids=[location_id]),
    )
    await setup.set_weekly_hours(
        session,
        actor=SYSTEM,
        provider_id=provider.id,
        data=WeeklyHoursWrite(
            blocks=[
                HoursBlock(location_id=location_id, weekday=d, start_time=s, end_time=e)
                for d, s, e in blocks
            ]
        ),
    )
    return user, provider
