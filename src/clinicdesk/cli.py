"""The ``clinicdesk`` command: serve, demo, database migrations, version."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Annotated

import platformdirs
import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from clinicdesk import __version__
from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.db import Database, create_database
from clinicdesk.core.keys import ensure_private_dir, load_or_create_keys
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.sqlite_driver import sqlite_version

app = typer.Typer(
    name="clinicdesk",
    help="ClinicDesk: run the clinic's day. Start with `clinicdesk demo`.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)

DEMO_MARKER = ".clinicdesk-demo"


class PendingMigrations(Exception):
    def __init__(self, pending: list[str]) -> None:
        super().__init__(", ".join(pending))
        self.pending = pending


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Database:
    if settings.database_kind == "sqlite":
        ensure_private_dir(settings.data_dir)
    return create_database(settings.resolved_database_url, pool_size=2)


async def _upgrade_with_progress(db: Database, pending: list[str]) -> None:
    with Progress(
        TextColumn("Migrating the database"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(pending))

        def applied(revision: str) -> None:
            progress.update(task, advance=1, description=revision)

        await migrations.upgrade(db, "head", on_applied=applied)


async def _prepare_database(settings: Settings, *, auto_upgrade: bool) -> None:
    db = _database(settings)
    try:
        pending = await migrations.pending_revisions(db)
        if pending and not auto_upgrade:
            raise PendingMigrations(pending)
        if pending:
            await _upgrade_with_progress(db, pending)
    finally:
        await db.dispose()


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "clinicdesk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,
        log_config=None,
        server_header=False,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve ClinicDesk. On SQLite, pending migrations are applied first; on PostgreSQL
    the server refuses to start until `clinicdesk db upgrade` has been run."""
    settings = _settings(host=host, port=port, workers=workers)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    load_or_create_keys(settings)  # before workers start, so they read the same keys
    try:
        asyncio.run(_prepare_database(settings, auto_upgrade=settings.database_kind == "sqlite"))
    except PendingMigrations as exc:
        err.print(
            f"[red]The database needs {len(exc.pending)} migration(s) "
            f"({', '.join(exc.pending)}).[/red]\n"
            "Run [bold]clinicdesk db upgrade[/bold] (after a backup), then start the server again."
        )
        raise typer.Exit(3) from exc
    console.print(f"ClinicDesk {__version__} at http://{settings.host}:{settings.port}/")
    _serve(settings, host=settings.host, port=settings.port, workers=settings.workers)


def default_demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("clinicdesk-demo", appauthor=False))


def _fresh_demo_dir(path: Path) -> None:
    """Empty ``path`` for a new demo, but only if it is a demo directory (or empty)."""
    if path.exists() and any(path.iterdir()):
        if not (path / DEMO_MARKER).is_file():
            err.print(
                f"[red]{path} is not empty and is not a ClinicDesk demo directory.[/red] "
                "Choose another --data-dir; the demo never deletes real data."
            )
            raise typer.Exit(2)
        shutil.rmtree(path)
    ensure_private_dir(path)
    (path / DEMO_MARKER).write_text("ClinicDesk demo data; recreated by `clinicdesk demo`.\n")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Demo data directory (recreated on every run).", show_default=False),
    ] = None,
) -> None:
    """Start a fresh demo clinic on SQLite: a new data directory, migrated and served.
    Never prompts. Your real data directory is not touched."""
    target = (data_dir or default_demo_dir()).expanduser().resolve()
    _fresh_demo_dir(target)
    # Worker processes read their settings from the environment.
    os.environ["CLINICDESK_DATA_DIR"] = str(target)
    os.environ["CLINICDESK_DATABASE_URL"] = f"sqlite:///{target / 'clinicdesk.db'}"
    # Someone is watching this terminal: readable log lines unless asked otherwise.
    os.environ.setdefault("CLINICDESK_LOG_FORMAT", "console")
    settings = _settings(host=host, port=port, workers=1)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    load_or_create_keys(settings)
    asyncio.run(_prepare_database(settings, auto_upgrade=True))
    console.print(
        Panel.fit(
            f"[bold]ClinicDesk demo[/bold] {__version__}\n\n"
            f"Open  [link]http://{host}:{port}/[/link]\n"
            f"Data  {target} (SQLite {sqlite_version()})\n"
            "Sign-in: none yet; staff accounts arrive with the identity module.\n\n"
            "Stop with Ctrl+C.",
            title="Ready",
        )
    )
    _serve(settings, host=host, port=port, workers=1)


@app.command()
def version() -> None:
    """Print the ClinicDesk, Python and SQLite versions."""
    console.print(f"ClinicDesk {__version__}")
    console.print(f"Python {platform.python_version()} ({sys.implementation.name})")
    console.print(f"SQLite library {sqlite_version()} (bundled with pysqlite3)")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply pending migrations (take a backup first on a real database)."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)

    async def run() -> int:
        db = _database(settings)
        try:
            pending = await migrations.pending_revisions(db)
            if not pending:
                return 0
            if revision == "head":
                await _upgrade_with_progress(db, pending)
            else:
                await migrations.upgrade(db, revision)
            return len(pending)
        finally:
            await db.dispose()

    applied = asyncio.run(run())
    if applied:
        console.print(f"Database upgraded ({settings.database_kind}).")
    else:
        console.print(f"Database is up to date ({settings.database_kind}).")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether migrations are pending."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)

    async def run() -> tuple[tuple[str, ...], list[str]]:
        db = _database(settings)
        try:
            return (
                await migrations.current_revisions(db),
                await migrations.pending_revisions(db),
            )
        finally:
            await db.dispose()

    current, pending = asyncio.run(run())
    console.print(f"Database: {settings.database_kind}")
    console.print(f"Current revision: {', '.join(current) or '(none: not migrated yet)'}")
    console.print(f"Head revision: {', '.join(migrations.head_revisions())}")
    if pending:
        console.print(f"Pending: {', '.join(pending)}; run `clinicdesk db upgrade`.")
        raise typer.Exit(1)
    console.print("Up to date.")


def main() -> None:
    app()
