"""Alembic, driven from code: upgrade, current revision, pending revisions.

The migration scripts live in ``migrations/`` at the top of a source checkout and ship
inside the wheel as ``clinicdesk/_migrations``. Migrations run on a connection of the
application's own engine (Alembic's connection-sharing recipe), so SQLite gets the same
bundled library and pragmas as the app.

Alembic is imported only when there is something to migrate or to show (it and the
migration scripts are about a tenth of ``clinicdesk serve``'s start-up and 7 MiB that every
worker would otherwise hold): a database already at ``HEAD_REVISION`` is recognised by
reading its ``alembic_version`` table directly. ``HEAD_REVISION`` is kept in step with the
scripts by a test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from clinicdesk.core.db import Database
from clinicdesk.core.rls import grant_application_role, is_table_owner

if TYPE_CHECKING:
    from alembic.config import Config

VersionApplied = Callable[[str], None]

HEAD_REVISION: Final = "0030_day_close_reopen"
"""The newest migration. A new migration changes it (``tests/core/test_migrations.py``
fails until it does)."""

VERSION_TABLE: Final = "alembic_version"


HAND_WRITTEN_INDEX_PREFIX = "pgx_"
"""PostgreSQL-only indexes the models cannot describe for both databases (a GIN trigram
index) are written by hand in migrations under this prefix; autogenerate leaves them be."""

FULL_TEXT_TABLE_PREFIXES = ("icd10_search",)
"""SQLite FTS5 tables made by hand in migrations (with their ``_data``, ``_idx`` ...)."""


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic ``include_object`` hook: skip the hand-written PostgreSQL indexes and
    SQLite full-text tables (``icd10_search`` and the shadow tables FTS5 keeps)."""
    if type_ == "table" and (name or "").startswith(FULL_TEXT_TABLE_PREFIXES):
        return False
    return not (type_ == "index" and (name or "").startswith(HAND_WRITTEN_INDEX_PREFIX))


class MigrationFailed(RuntimeError):
    """A migration would leave the database inconsistent; nothing was changed."""


def migrations_dir() -> Path:
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir / "_migrations", package_dir.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("ClinicDesk's migration scripts were not found next to the package")


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic only when migrating (module docstring)

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revisions() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory  # Alembic only when migrating

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def _current(connection: Connection) -> tuple[str, ...]:
    """What Alembic's ``MigrationContext.get_current_heads`` reads, without Alembic."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608 - a constant
    return tuple(row[0] for row in rows)


async def current_revisions(db: Database) -> tuple[str, ...]:
    """The revisions the database is at (empty for a database never migrated)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def connected_as_owner(db: Database) -> bool:
    """PostgreSQL: whether the connection's role owns the audit table."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(is_table_owner, "audit_events")


async def pending_revisions(db: Database) -> list[str]:
    """Revisions between the database's current state and head, oldest first."""
    current = set(await current_revisions(db))
    if current == {HEAD_REVISION}:
        return []  # the usual start: nothing to do, and no need to load Alembic
    from alembic.script import ScriptDirectory  # Alembic only when migrating

    script = ScriptDirectory.from_config(alembic_config())
    pending: list[str] = []
    for rev in script.walk_revisions():  # newest first
        if rev.revision in current:
            break
        pending.append(rev.revision)
    if current and not any(script.get_revision(c) for c in current):
        raise RuntimeError(f"database is at unknown revision(s) {sorted(current)}")
    return list(reversed(pending))


async def upgrade(
    db: Database,
    revision: str = "head",
    *,
    on_applied: VersionApplied | None = None,
    grant_to: str | None = None,
) -> None:
    """Apply migrations up to ``revision`` in one transaction; then, on PostgreSQL, give
    the application role ``grant_to`` its privileges on the tables."""

    from alembic import command  # Alembic only when migrating

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if on_applied is not None:

            def applied(**kwargs: Any) -> None:
                on_applied(str(kwargs["step"].up_revision_id))

            config.attributes["on_version_apply"] = applied
        command.upgrade(config, revision)
        if grant_to and connection.dialect.name == "postgresql":
            grant_application_role(connection, grant_to)

    async with db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            async with conn.begin():
                await conn.run_sync(run)
            return
        # SQLite changes most tables by copying them (Alembic's batch mode). With foreign
        # keys enforced, dropping the old copy of a referenced table would run its ON
        # DELETE actions (erasing sessions of every user, say). SQLite's documented
        # procedure: switch enforcement off outside the transaction, migrate, check
        # every reference with foreign_key_check, commit, switch it back on.
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None  # noqa: S101 - a checked-out connection has its driver's
        await raw.execute("PRAGMA foreign_keys=OFF")
        try:
            async with conn.begin():
                await conn.run_sync(run)
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise MigrationFailed(
                        f"the migration left {len(broken)} broken references, first: {broken[0]}"
                    )
        finally:
            await raw.execute("PRAGMA foreign_keys=ON")
