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
import uuid
from pathlib import Path
from typing import Annotated

import platformdirs
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from sqlalchemy.exc import DBAPIError
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string

from clinicdesk import __version__, backup_cli, keyrotation
from clinicdesk.app import job_registry, mail_sender
from clinicdesk.audit import public as audit
from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.jobs import JobStatus
from clinicdesk.core.jobs.admin import JobRead
from clinicdesk.core.jobs.worker import run_worker
from clinicdesk.core.keys import ensure_private_dir, load_or_create_keys
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.server import protocol_class
from clinicdesk.core.sqlite_driver import sqlite_version
from clinicdesk.core.supervisor import WorkerFailed, run_in_child, serve_workers
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.demo import DemoClinic, demo_password, seed_demo_clinic
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import OrganizationUpdate
from clinicdesk.identity.service import jobs, organizations, users
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

console = Console()
err = Console(stderr=True)

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


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _database(settings: Settings, *, owner: bool = False) -> Database:
    """``owner`` for the operator's commands that see every organization (on PostgreSQL
    only the tables' owner does; the server's role is held to one organization at a
    time). Without ``CLINICDESK_DATABASE_OWNER_URL`` both are the same connection."""
    if settings.database_kind == "sqlite":
        ensure_private_dir(settings.data_dir)
    url = settings.migration_database_url if owner else settings.resolved_database_url
    return create_database(url, pool_size=2)


def _configure_encryption(settings: Settings) -> None:
    keys = load_or_create_keys(settings)
    configure_field_encryption(
        FieldKeyring(keys.field_encryption_key, previous=keys.previous_field_encryption_keys)
    )


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


async def _prepare_database(settings: Settings, *, auto_upgrade: bool) -> None:
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
    finally:
        await db.dispose()


def _prepare_to_serve(settings: Settings) -> int:
    """The database check before serving; the command's exit code (3: migrations are
    pending on PostgreSQL, and were not applied)."""
    try:
        asyncio.run(_prepare_database(settings, auto_upgrade=settings.database_kind == "sqlite"))
    except PendingMigrations as exc:
        err.print(
            f"[red]The database needs {len(exc.pending)} migration(s) "
            f"({', '.join(exc.pending)}).[/red]\n"
            "Run [bold]clinicdesk db upgrade[/bold] (after a backup), then start the server again."
        )
        return 3
    return 0


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
    if code != 0:
        raise typer.Exit(code)
    console.print(f"ClinicDesk {__version__} at {settings.base_url}/")
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
        asyncio.run(_prepare_database(settings, auto_upgrade=settings.database_kind == "sqlite"))
    except PendingMigrations as exc:
        err.print(
            f"[red]The database needs {len(exc.pending)} migration(s).[/red] "
            "Run [bold]clinicdesk db upgrade[/bold] first."
        )
        raise typer.Exit(3) from exc
    registry = job_registry(settings, mailer=mail_sender(settings))
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
    asyncio.run(_prepare_database(settings, auto_upgrade=True))
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


# --- organizations and users -----------------------------------------------------------

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
jobs_app = typer.Typer(help="Background jobs of every organization.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="The clinic's or chain's name.")],
    admin_email: Annotated[str, typer.Option(help="E-mail address of the first admin.")],
    admin_password: Annotated[
        str | None, typer.Option(help="Their password (generated and printed when omitted).")
    ] = None,
    admin_name: Annotated[str, typer.Option(help="The admin's name.")] = "Administrator",
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    locale: Annotated[str, typer.Option(help="Language, e.g. en or de-AT.")] = "en",
) -> None:
    """Create an organization and its first admin (who must set up MFA at first sign-in)."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    _configure_encryption(settings)
    password = admin_password or demo_password()
    try:
        details = OrganizationUpdate(time_zone=time_zone, currency=currency, locale=locale)
    except ValueError as exc:
        raise _fail(f"Invalid option: {exc}") from exc

    async def run() -> uuid.UUID:
        db = _database(settings, owner=True)
        try:
            async with session_scope(db) as session:
                organization = await organizations.create_organization(
                    session,
                    name=name,
                    time_zone=details.time_zone or "UTC",
                    currency=details.currency or "USD",
                    locale=details.locale or "en",
                )
                await users.create_user(
                    session,
                    actor=SYSTEM,
                    organization_id=organization.id,
                    email=admin_email,
                    full_name=admin_name,
                    roles=[Role.ADMIN],
                    password=password,
                )
                return organization.id
        finally:
            await db.dispose()

    try:
        org_id = asyncio.run(run())
    except ClinicError as exc:
        raise _fail(exc.detail) from exc
    console.print(f"Organization {name!r} created ({org_id}).")
    console.print(f"Admin: {admin_email}")
    if admin_password is None:
        console.print(f"Password: {password}  (change it after signing in)")


@user_app.command("create")
def user_create(
    organization: Annotated[str, typer.Option(help="Organization id.")],
    email: Annotated[str, typer.Option(help="E-mail address (the sign-in name).")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[list[Role], typer.Option(help="Role; repeat for several.")],
    password: Annotated[
        str | None, typer.Option(help="Password (generated and printed when omitted).")
    ] = None,
) -> None:
    """Add a staff user to an organization."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    _configure_encryption(settings)
    try:
        org_id = uuid.UUID(organization)
    except ValueError as exc:
        raise _fail("--organization takes the organization's id (a UUID).") from exc
    chosen = password or demo_password()

    async def run() -> None:
        db = _database(settings, owner=True)
        try:
            async with session_scope(db) as session:
                await use_system_scope(session)
                if await session.get(Organization, org_id) is None:
                    raise _fail(f"There is no organization {org_id}.")
                await scope_to_tenant(session, org_id)
                await users.create_user(
                    session,
                    actor=SYSTEM,
                    organization_id=org_id,
                    email=email,
                    full_name=name,
                    roles=role,
                    password=chosen,
                )
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except ClinicError as exc:
        raise _fail(exc.detail) from exc
    console.print(f"User {email} created with roles {', '.join(r.value for r in role)}.")
    if password is None:
        console.print(f"Password: {chosen}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every organization's hash chain; report the first entry that does not
    match. Exit code 1 when the trail was tampered with."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)

    async def run() -> audit.VerifyReport:
        db = _database(settings, owner=True)
        try:
            async with session_scope(db) as session:
                return await audit.verify_chains(session)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    if report.ok:
        console.print(f"Audit trail intact: {report.entries} entries in {report.chains} chains.")
        return
    for problem in report.problems:
        err.print(
            f"[red]Chain of organization {problem.organization_id or '(none)'}: entry "
            f"#{problem.seq} ({problem.event_id or 'head'}): {problem.reason}[/red]"
        )
    raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate(
    resume: Annotated[
        bool, typer.Option(help="Only re-encrypt what is still under an older key.")
    ] = False,
) -> None:
    """Make a new field encryption key current and re-encrypt every encrypted value.
    Resumable: if it stops, run `clinicdesk keys rotate --resume`."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    try:
        if resume:
            keys = load_or_create_keys(settings)
            keyring = FieldKeyring(
                keys.field_encryption_key, previous=keys.previous_field_encryption_keys
            )
        else:
            keyring = keyrotation.install_new_key(settings)
    except keyrotation.RotationRefused as exc:
        raise _fail(str(exc)) from exc
    configure_field_encryption(keyring)

    async def run() -> int:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        db = _database(settings, owner=True)
        try:
            total = await keyrotation.count_stale(db, keyring)
            with Progress(
                TextColumn("Re-encrypting"), BarColumn(), MofNCompleteColumn(), console=console
            ) as progress:
                task = progress.add_task("", total=total)
                return await keyrotation.reencrypt(
                    db, keyring, on_progress=lambda n: progress.update(task, advance=n)
                )
        finally:
            await db.dispose()

    changed = asyncio.run(run())
    console.print(f"Key {keyring.current_kid} is current; {changed} value(s) re-encrypted.")
    console.print(
        "Older keys stay in the previous-keys file so backups made before today can be "
        "restored; remove them only when those backups are gone."
    )


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        JobStatus | None, typer.Option(help="Only jobs in this state (default: dead).")
    ] = JobStatus.DEAD,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """Jobs of every organization and the system's own (the purge), newest first. An
    organization's admins see theirs at /admin/jobs; this is the operator's view."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    _configure_encryption(settings)

    async def run() -> list[JobRead]:
        db = _database(settings, owner=True)
        try:
            async with session_scope(db) as session:
                await use_system_scope(session)
                page = await jobs.list_jobs(session, status=status, cursor=None, limit=limit)
                return page.items
        finally:
            await db.dispose()

    found = asyncio.run(run())
    if not found:
        console.print("No jobs.")
    for job in found:
        console.print(
            f"{job.id}  {job.kind:<16} {job.status:<9} {job.attempts}/{job.max_attempts}  "
            f"{job.last_error or ''}",
            markup=False,
            highlight=False,
        )


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[uuid.UUID, typer.Argument(help="The dead job's id.")]) -> None:
    """Queue a dead job again with fresh attempts (recorded in the audit trail)."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    _configure_encryption(settings)

    async def run() -> JobRead:
        db = _database(settings, owner=True)
        try:
            async with session_scope(db) as session:
                await use_system_scope(session)
                return await jobs.retry_job(session, actor=SYSTEM, job_id=job_id)
        finally:
            await db.dispose()

    try:
        job = asyncio.run(run())
    except ClinicError as exc:
        raise _fail(exc.detail, 1) from exc
    console.print(f"Job {job.id} ({job.kind}) is queued again.")


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
