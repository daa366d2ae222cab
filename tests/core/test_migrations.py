"""Migrations apply cleanly on both databases and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from clinicdesk.core import migrations
from clinicdesk.core.db import Database, create_database
from clinicdesk.models import metadata

ALL_REVISIONS = [
    rev.revision
    for rev in reversed(
        list(ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions())
    )
]


async def test_models_and_migrations_do_not_drift(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "render_as_batch": connection.dialect.name == "sqlite",
                "include_object": migrations.include_object,
            },
        )
        return list(compare_metadata(context, metadata))

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], (
        "models and migrations differ; write a migration "
        "(uv run alembic revision --autogenerate -m '...')"
    )


async def test_fresh_database_migrates_to_head(fresh_database_url: str) -> None:
    db = create_database(fresh_database_url, pool_size=1)
    try:
        assert await migrations.current_revisions(db) == ()
        assert await migrations.pending_revisions(db) == ALL_REVISIONS
        applied: list[str] = []
        await migrations.upgrade(db, on_applied=applied.append)
        assert applied == ALL_REVISIONS
        assert await migrations.current_revisions(db) == migrations.head_revisions()
        assert await migrations.pending_revisions(db) == []
        await migrations.upgrade(db)  # idempotent
    finally:
        await db.dispose()


def test_there_is_one_head() -> None:
    assert len(migrations.head_revisions()) == 1


def test_head_revision_names_the_newest_migration() -> None:
    """``serve`` recognises an up-to-date database by this constant, without Alembic:
    a new migration changes it."""
    assert migrations.head_revisions() == (migrations.HEAD_REVISION,)


def test_migration_scripts_are_found() -> None:
    assert (migrations.migrations_dir() / "env.py").is_file()


def test_every_revision_can_be_undone_and_says_what_it_does() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    for revision in script.walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), revision.revision
        assert revision.doc, f"{revision.revision} has no message"
