"""Migration 0010 (``provider_rooms``) applies, undoes and applies again on both
databases, and on PostgreSQL the new tenant table is isolated by the policy."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from clinicdesk.core import migrations
from clinicdesk.core.db import create_database
from clinicdesk.core.rls import POLICY


def _downgrade(connection: Connection) -> None:
    config = migrations.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0009_audit_chaining")


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_provider_rooms_migrates_both_ways(fresh_database_url: str) -> None:
    db = create_database(fresh_database_url, pool_size=1)
    try:
        await migrations.upgrade(db)
        async with db.engine.begin() as connection:
            assert "provider_rooms" in await connection.run_sync(_tables)
            if connection.dialect.name == "postgresql":
                policed = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_policies"
                        " WHERE tablename = 'provider_rooms' AND policyname = :p"
                    ),
                    {"p": POLICY},
                )
                assert policed == 1
            await connection.run_sync(_downgrade)
            assert "provider_rooms" not in await connection.run_sync(_tables)
        assert await migrations.current_revisions(db) == ("0009_audit_chaining",)
        await migrations.upgrade(db)
        assert await migrations.current_revisions(db) == (migrations.HEAD_REVISION,)
    finally:
        await db.dispose()
