"""Alembic environment for ClinicDesk (SQLite and PostgreSQL).

Normally ClinicDesk hands Alembic a connection of its own engine
(``clinicdesk.core.migrations``). Run directly (``uv run alembic revision --autogenerate
-m "..."``), it builds an engine from the settings.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate import render
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from clinicdesk.config import Settings
from clinicdesk.core.db import create_database
from clinicdesk.core.migrations import include_object
from clinicdesk.models import metadata

config = context.config


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write ClinicDesk's column types as their plain SQL types, so migrations do not
    depend on application classes that may change later."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return render._repr_type(obj.impl, autogen_context)  # type: ignore[arg-type]
    return False


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
        render_item=render_item,
        include_object=include_object,
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
