"""Alembic environment for ClinicDesk (SQLite and PostgreSQL).

Normally ClinicDesk hands Alembic a connection of its own engine
(``clinicdesk.core.migrations``). Run directly (``uv run alembic revision --autogenerate
-m "..."``), it builds an engine from the settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from clinicdesk.config import Settings
from clinicdesk.core.db import create_database
from clinicdesk.models import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    settings = Settings()
    db = create_database(settings.resolved_database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(run_with)
    finally:
        await db.dispose()


if context.is_offline_mode():
    raise SystemExit("ClinicDesk migrations run online only: use `clinicdesk db upgrade`")

shared = config.attributes.get("connection")
if shared is not None:
    run_with(shared)
else:
    asyncio.run(run_standalone())
