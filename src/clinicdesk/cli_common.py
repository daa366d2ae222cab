"""What the ``clinicdesk`` commands share: the settings, the database, the encryption
keys and how a command fails (one red sentence and an exit code, not a traceback)."""

from __future__ import annotations

import typer
from rich.console import Console

from clinicdesk.config import Settings
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database
from clinicdesk.core.keys import ensure_private_dir, load_or_create_keys

console = Console()
err = Console(stderr=True)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def database(settings: Settings, *, owner: bool = False) -> Database:
    """``owner`` for the operator's commands that see every organization (on PostgreSQL
    only the tables' owner does; the server's role is held to one organization at a
    time). Without ``CLINICDESK_DATABASE_OWNER_URL`` both are the same connection."""
    if settings.database_kind == "sqlite":
        ensure_private_dir(settings.data_dir)
    url = settings.migration_database_url if owner else settings.resolved_database_url
    return create_database(url, pool_size=2)


def configure_encryption(settings: Settings) -> None:
    keys = load_or_create_keys(settings)
    configure_field_encryption(
        FieldKeyring(keys.field_encryption_key, previous=keys.previous_field_encryption_keys)
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)
