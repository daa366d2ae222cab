"""The ``clinicdesk`` command: serve, demo, database migrations, version."""

# ruff: noqa: E402 - the garbage collector is paused before the imports (below)
from __future__ import annotations

import gc

# Importing the application creates some 200,000 objects that all stay, and the collector,
# run after every few hundred new ones, would walk them again and again to free nothing:
# about a tenth of the import (benchmarks/README.md). Paused while importing.
_collecting = gc.isenabled()
gc.disable()

import asyncio
import os
import platform
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
import typer
import uvicorn
from rich.markup import escape
from rich.panel import Panel
from sqlalchemy.exc import DBAPIError
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string

from clinicdesk import __version__, admin_cli, backup_cli
from clinicdesk.app import job_registry, mail_sender
from clinicdesk.cli_common import (
    configure_encryption as _configure_encryption,
)
from clinicdesk.cli_common import console, err
from clinicdesk.cli_common import database as _database
from clinicdesk.cli_common import load_settings as _settings
from clinicdesk.code_lists import CODE_LISTS, LOAD_COMMAND, load_in_background
from clinicdesk.config import Settings
from clinicdesk.core import migrations, reference_data
from clinicdesk.core.db import Database, session_scope
from clinicdesk.core.jobs.worker import run_worker
from clinicdesk.core.keys import ensure_private_dir
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.server import protocol_class
from clinicdesk.core.sqlite_driver import sqlite_version
from clinicdesk.core.supervisor import WorkerFailed, run_in_child, serve_workers
from clinicdesk.demo import DemoClinic, demo_password, seed_demo_clinic
from clinicdesk.reactions import connect_reactions

if _collecting:
    gc.enable()

app = typer.Typer(
    name="clinicdesk",
    help="ClinicDesk: run the clinic's day. Start with `clinicdesk demo`.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(backup_cli.backup_app, name="backup")
app.command("restore")(backup_cli.restore)
for _name, _group in admin_cli.GROUPS:
    app.add_typer(_group, name=_name)


DEMO_MARKER = ".clinicdesk-demo"
# What `serve` runs, one instance per worker process. Imported before the workers fork.
APP_FACTORY = "clinicdesk.app:create_app"
# Told to stop, the server waits this long for open requests to finish, then cancels
# them. Live-event streams end at once on the stop signal (core.sse); this bounds the rest.
GRACEFUL_SHUTDOWN_SECONDS = 5


class PendingMigrations(Exception):
    def __init__(self, pending: list[str]) -> None:
        super().__init__(", ".join(pending))
        self.pending = pending


async def _upgrade_with_progress(
    db: Database, pending: list[str], *, grant_to: str | None = None
) -> None:
    # rich's progress bar only when there is something to migrate: not on every start.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

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

        await migrations.upgrade(db, "head", on_applied=applied, grant_to=grant_to)


def _announce_filled(reference: reference_data.ReferenceList, rows: int, seconds: float) -> None:
    console.print(f"Loaded {reference.name}: {rows:,} rows in {seconds:.1f} s")


async def _fill_code_lists(settings: Settings) -> None:
    """Fill the empty code lists now (``core/reference_data.py``), as the tables' owner."""
    db = _database(settings, owner=True)
    try:
        await reference_data.fill_missing(db, CODE_LISTS, on_filled=_announce_filled)
    finally:
        await db.dispose()


async def _prepare_database(
    settings: Settings, *, auto_upgrade: bool, code_lists: Literal["fill", "report"]
) -> bool:
    """Migrate (if allowed) and see to the code lists: ``fill`` them before returning, or
    ``report`` whether some are still empty (``serve`` then loads them in a child process
    while it answers). True when lists are left to load."""
    db = _database(settings)
    try:
        pending = await migrations.pending_revisions(db)
        if pending and not auto_upgrade:
            raise PendingMigrations(pending)
        if pending:
            await _upgrade_with_progress(db, pending)
        if db.kind == "postgresql" and await migrations.connected_as_owner(db):
            err.print(
                "[yellow]Warning: the server connects as the owner of the tables, so the "
                "audit trail is not protected from changes and row-level security relies on "
                "FORCE alone. Connect CLINICDESK_DATABASE_URL as a separate role and set "
                "CLINICDESK_DATABASE_OWNER_URL for migrations (see README).[/yellow]"
            )
        if not await reference_data.missing(db, CODE_LISTS):
            return False
    finally:
        await db.dispose()
    if code_lists == "report":
        return True
    await _fill_code_lists(settings)
    return False


# ``_prepare_to_serve``'s exit code when the database is ready but code lists are empty.
READY_LISTS_TO_LOAD = 10


def _prepare_to_serve(settings: Settings) -> int:
    """The database check before serving; the command's exit code (3: migrations are
    pending on PostgreSQL, and were not applied; ``READY_LISTS_TO_LOAD``)."""
    try:
        to_load = asyncio.run(
            _prepare_database(
                settings,
                auto_upgrade=settings.database_kind == "sqlite",
                code_lists="report",
            )
        )
    except PendingMigrations as exc:
        err.print(
            f"[red]The database needs {len(exc.pending)} migration(s) "
            f"({', '.join(exc.pending)}).[/red]\n"
            "Run [bold]clinicdesk db upgrade[/bold] (after a backup), then start the server again."
        )
        return 3
    return READY_LISTS_TO_LOAD if to_load else 0


@contextmanager
def _code_lists_loading(to_load: bool, *, forks: bool) -> Iterator[None]:
    """While the server runs, fill the empty code lists in a child process (at a lower
    priority than the server); stopping the server stops it (the list it was filling
    rolls back, and the next start fills it). The child is reaped when it ends: by the
    supervisor's own reaping when this process ``forks`` workers (no thread may run in a
    process that forks), else by a thread waiting for it."""
    if not to_load:
        yield
        return
    console.print("Loading the code lists (ICD-10-CM, drugs) in the background.")
    loader = load_in_background()
    if not forks:
        threading.Thread(target=loader.wait, name="code-list-loader", daemon=True).start()
    try:
        yield
    finally:
        if loader.poll() is None:
            loader.terminate()
            loader.wait()


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """One worker serves from this process; several are forked from it, each building its
    own application (``core.supervisor``: why fork, and what crosses it)."""
    # Each application is built from the environment (``create_app`` reads ``Settings()``),
    # not from ``settings``: the address actually served goes there, so the links in
    # e-mails (``Settings.base_url``, unless CLINICDESK_PUBLIC_URL is set) lead here
    # rather than to the default port.
    os.environ["CLINICDESK_HOST"] = host
    os.environ["CLINICDESK_PORT"] = str(port)
    config = uvicorn.Config(
        import_from_string(APP_FACTORY),  # imported here, so forked workers have it
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=protocol_class(),  # uvicorn's own, with a bound on header reads
    )
    try:
        if workers == 1:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                raise typer.Exit(STARTUP_FAILURE)
            return
        if settings.redis_url:
            # Each worker's rate limiter loads redis-py (lazily: core.ratelimit); loaded
            # here once, the workers share it instead of holding a copy each.
            import redis.asyncio  # noqa: F401
        # A worker gets the graceful period, then its application's shutdown (the job
        # runner's grace among it), before the supervisor stops waiting for it.
        stop_timeout = GRACEFUL_SHUTDOWN_SECONDS + settings.jobs_shutdown_grace_seconds + 10
        serve_workers(config, workers=workers, stop_timeout=stop_timeout)
    except WorkerFailed as exc:
        err.print(f"[red]ClinicDesk could not start:[/red] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from exc
    except KeyboardInterrupt:  # Ctrl+C: stopped as asked
        pass


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
    _configure_encryption(settings)  # keys exist before workers start, so all read the same
    if settings.workers == 1:
        code = _prepare_to_serve(settings)
    else:
        # The supervisor never opens the database itself: the check (and the migrations,
        # with Alembic) run in a short-lived child, so no event loop, connection or
        # thread of theirs is in the process the workers are forked from, and none of
        # their memory is in every worker.
        code = run_in_child(lambda: _prepare_to_serve(settings))
    if code not in (0, READY_LISTS_TO_LOAD):
        raise typer.Exit(code)
    console.print(f"ClinicDesk {__version__} at {settings.base_url}/")
    with _code_lists_loading(code == READY_LISTS_TO_LOAD, forks=settings.workers > 1):
        _serve(settings, host=settings.host, port=settings.port, workers=settings.workers)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs worked on at once (CLINICDESK_JOBS_CONCURRENCY).")
    ] = None,
) -> None:
    """Run jobs (mail, periodic jobs) without serving HTTP, until SIGTERM or Ctrl+C; a
    running job gets CLINICDESK_JOBS_SHUTDOWN_GRACE_SECONDS to finish, else it goes back
    to the queue. Run several on PostgreSQL; on SQLite one runs jobs at a time. Set
    CLINICDESK_JOBS_IN_PROCESS=false for `serve` when workers do all the work."""
    settings = _settings(jobs_concurrency=concurrency)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    _configure_encryption(settings)
    try:
        to_load = asyncio.run(
            _prepare_database(
                settings, auto_upgrade=settings.database_kind == "sqlite", code_lists="report"
            )
        )
    except PendingMigrations as exc:
        err.print(
            f"[red]The database needs {len(exc.pending)} migration(s).[/red] "
            "Run [bold]clinicdesk db upgrade[/bold] first."
        )
        raise typer.Exit(3) from exc
    registry = job_registry(settings, mailer=mail_sender(settings))
    with _code_lists_loading(to_load, forks=False):
        asyncio.run(run_worker(settings, registry))


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
    _configure_encryption(settings)
    # Filled first: the demo's consultations carry diagnosis codes and drugs.
    asyncio.run(_prepare_database(settings, auto_upgrade=True, code_lists="fill"))
    password = (
        settings.demo_password.get_secret_value() if settings.demo_password else demo_password()
    )

    async def seed() -> DemoClinic:
        db = _database(settings)
        try:
            async with session_scope(db) as session:
                return await seed_demo_clinic(session, password=password)
        finally:
            await db.dispose()

    clinic = asyncio.run(seed())
    logins = "\n".join(f"  {email:<24} {role}" for email, role in clinic.logins)
    console.print(
        Panel.fit(
            f"[bold]ClinicDesk demo[/bold] {__version__}: {clinic.organization_name}\n\n"
            f"Open      [link]{settings.base_url}/[/link]\n"
            f"Data      {target} (SQLite {sqlite_version()})\n"
            f"Password  {clinic.password}  (for every demo user)\n"
            f"Users\n{logins}\n\n"
            "Outgoing e-mail (invitations, resets) is written to the data directory's mail/.\n"
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
    backup: backup_cli.BackupFirst = None,
    no_backup: backup_cli.NoBackup = False,
) -> None:
    """Apply pending migrations. A database with data gets a backup first: with --backup,
    or offered at a terminal; scripts pass --backup PATH or --no-backup."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)

    grant_to = settings.application_role

    async def run() -> int:
        db = _database(settings, owner=True)
        try:
            pending = await migrations.pending_revisions(db)
            if pending and not no_backup and await migrations.current_revisions(db):
                await backup_cli.before_upgrade(settings, output=backup)
            if not pending:
                if grant_to:
                    await migrations.upgrade(db, "head", grant_to=grant_to)
                return 0
            if revision == "head":
                await _upgrade_with_progress(db, pending, grant_to=grant_to)
            else:
                await migrations.upgrade(db, revision, grant_to=grant_to)
            return len(pending)
        finally:
            await db.dispose()

    applied = asyncio.run(run())
    if applied:
        console.print(f"Database upgraded ({settings.database_kind}).")
    else:
        console.print(f"Database is up to date ({settings.database_kind}).")
    if revision == "head":  # an upgrade is complete when the command returns: code lists too
        asyncio.run(_fill_code_lists(settings))


@db_app.command(LOAD_COMMAND[1])
def load_reference_data() -> None:
    """Fill the code lists (ICD-10-CM, the drug vocabulary) that are still empty. `db
    upgrade` does it; `serve` on SQLite runs this in the background after a first start."""
    settings = _settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    # Started by `serve`: the server's requests come first.
    if hasattr(os, "nice"):  # not on Windows
        os.nice(10)
    asyncio.run(_fill_code_lists(settings))


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
    # Commands run domain services outside the web app (seeding the demo, for one):
    # the same handlers react to their signals as in a request.
    connect_reactions()
    try:
        app()
    except DBAPIError as error:
        if not _schema_missing(error):
            raise
        err.print(
            "[red]The database has no ClinicDesk tables yet (or is behind this version).[/red]"
            " Run `clinicdesk db upgrade` first, then this command again."
        )
        raise SystemExit(2) from None


def _schema_missing(error: DBAPIError) -> bool:
    """A table or function the command needs does not exist: a database never migrated
    (SQLite says "no such table"; PostgreSQL "relation ... does not exist", SQLSTATE
    42P01, or "function ... does not exist", 42883)."""
    message = str(error.orig)
    return "no such table" in message or (
        "does not exist" in message and ("relation" in message or "function" in message)
    )
