"""The backup commands of ``clinicdesk``: ``backup``, ``backup verify``, ``restore``, and the
backup ``db upgrade`` offers first. Arguments and output only; the work is in
``clinicdesk.operations.backup``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinicdesk.config import Settings, normalize_database_url
from clinicdesk.core.crypto import FieldKeyring
from clinicdesk.core.keys import load_or_create_keys
from clinicdesk.core.logs import configure_logging
from clinicdesk.operations import backup as backups
from clinicdesk.operations.backup.keys import available_field_key_ids

console = Console()
err = Console(stderr=True)

backup_app = typer.Typer(
    help=(
        "Back up the database and the documents into one encrypted archive (run it while "
        "the servers are up), or check an archive with `clinicdesk backup verify`."
    ),
    invoke_without_command=True,
)

KeyFile = Annotated[
    Path | None,
    typer.Option(
        help="File holding the backup key (default: CLINICDESK_BACKUP_KEY, else "
        "<data dir>/secrets/backup_key).",
        show_default=False,
    ),
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        help="Encrypt / open with the passphrase in this file instead of a key.",
        show_default=False,
    ),
]
# `db upgrade --backup PATH` / `--no-backup`.
BackupFirst = Annotated[
    Path | None,
    typer.Option(
        "--backup",
        help="Take a backup into this file or folder first (stop if it fails).",
        show_default=False,
    ),
]
NoBackup = Annotated[bool, typer.Option("--no-backup", help="Do not offer a backup first.")]
_STAGES = {
    "database": "Copying the database",
    "documents": "Copying documents",
    "installing": "Restoring documents",
    "checking": "Checking",
}


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _fail(exc: backups.BackupError | OSError) -> typer.Exit:
    if isinstance(exc, OSError):
        # Disk full, a folder that went away: the cause, without a traceback.
        message = f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    else:
        message = exc.message
    err.print(f"[red]{message}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def _progress() -> Iterator[backups.Progress]:
    # rich's progress bar is loaded by the commands that show it, not by every command.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("Starting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            progress.update(
                task, description=_STAGES.get(stage, stage), completed=done, total=total
            )

        yield report


def _secret(
    settings: Settings, key_file: Path | None, passphrase_file: Path | None, *, create: bool
) -> backups.ResolvedSecret:
    try:
        return backups.resolve_secret(
            settings, key_file=key_file, passphrase_file=passphrase_file, create=create
        )
    except (backups.BackupError, OSError) as exc:
        raise _fail(exc) from exc


def _describe(secret: backups.BackupSecret) -> str:
    if secret.kind == "passphrase":
        return f"the passphrase in {secret.source}"
    return f"backup key {secret.key_id} ({secret.source})"


async def take_backup(
    settings: Settings,
    *,
    output: Path,
    key_file: Path | None = None,
    passphrase_file: Path | None = None,
) -> backups.BackupResult:
    """Take a backup and print what it holds; ``typer.Exit(1)`` when it fails."""
    resolved = _secret(settings, key_file, passphrase_file, create=True)
    keys = load_or_create_keys(settings)
    field_kids = FieldKeyring(
        keys.field_encryption_key, previous=keys.previous_field_encryption_keys
    ).kids()
    try:
        with _progress() as report:
            result = await backups.create_backup(
                settings,
                output=output,
                secret=resolved.secret,
                field_key_ids=field_kids,
                on_progress=report,
            )
    except (backups.BackupError, OSError) as exc:
        raise _fail(exc) from exc
    manifest = result.manifest
    console.print(
        f"Backup written: {result.path} ({result.size / 1_048_576:.1f} MiB)", soft_wrap=True
    )
    console.print(
        f"  {manifest.database_kind} database at {', '.join(manifest.alembic_revisions) or '-'}: "
        f"{len(manifest.tables)} tables, {sum(manifest.tables.values())} rows; "
        f"{len(manifest.documents)} documents",
        highlight=False,
    )
    console.print(f"  encrypted with {_describe(resolved.secret)}", highlight=False)
    for problem in manifest.document_problems:
        err.print(f"[yellow]  document {problem.key}: {problem.reason}[/yellow]")
    if resolved.generated_at is not None:
        err.print(
            f"[bold yellow]A backup key was generated at {resolved.generated_at}.[/bold yellow] "
            "Copy it now to a safe place away from this data directory and away from the "
            "field encryption key: without it no backup can be restored."
        )
    console.print(
        f"Check it with: clinicdesk backup verify {result.path}", highlight=False, soft_wrap=True
    )
    return result


@backup_app.callback()
def backup(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Archive file, or a folder to put a dated one in (default: this folder).",
            show_default=False,
        ),
    ] = None,
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Back up the database (a consistent snapshot; the servers keep running), every
    document and a manifest of checksums into one encrypted archive. The backup key is
    generated into <data dir>/secrets/backup_key on first use: keep a copy elsewhere."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    asyncio.run(
        take_backup(
            settings,
            output=output or Path.cwd(),
            key_file=key_file,
            passphrase_file=passphrase_file,
        )
    )


@backup_app.command("verify")
def backup_verify(
    archive: Annotated[Path, typer.Argument(help="The archive to check.")],
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
    scratch_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to restore the scratch copy (default: the system's temporary "
            "folder); it needs room for the database and the documents.",
            show_default=False,
        ),
    ] = None,
    scratch_database_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL archives: an empty database to restore into (default: a "
            "scratch database created and dropped on the configured server).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Restore the archive into a scratch place and check it: authenticity, database
    integrity, row counts against the manifest, the audit trail's hash chains and every
    document's checksum. Exit code 1 when anything is wrong."""
    settings = _settings()
    configure_logging(level="WARNING", fmt=settings.log_format)
    resolved = _secret(settings, key_file, passphrase_file, create=False)
    server = settings.migration_database_url if settings.database_kind == "postgresql" else None
    scratch = normalize_database_url(scratch_database_url) if scratch_database_url else None
    try:
        with _progress() as report:
            result = asyncio.run(
                backups.verify_backup(
                    archive,
                    resolved.secret,
                    scratch_parent=scratch_dir,
                    postgres_server_url=server,
                    scratch_database_url=scratch,
                    on_progress=report,
                )
            )
    except (backups.BackupError, OSError) as exc:
        raise _fail(exc) from exc
    manifest = result.manifest
    console.print(
        f"Archive authenticated: made {manifest.created_at:%Y-%m-%d %H:%M} UTC by ClinicDesk "
        f"{manifest.clinicdesk_version} ({manifest.database_kind}, "
        f"{', '.join(manifest.alembic_revisions) or 'not migrated'}).",
        highlight=False,
    )
    console.print(
        f"Restored into a scratch place: {len(manifest.tables)} tables, {result.rows} rows; "
        f"audit trail: {result.audit_entries} entries in {result.audit_chains} chains; "
        f"{result.documents} documents.",
        highlight=False,
    )
    if not result.ok:
        for problem in result.problems:
            err.print(f"[red]{problem}[/red]", highlight=False)
        err.print(f"[red]The backup has {len(result.problems)} problem(s).[/red]")
        raise typer.Exit(1)
    console.print("Backup verified: integrity, row counts, audit trail and documents all match.")


def restore(
    archive: Annotated[Path, typer.Argument(help="The archive to restore.")],
    force: Annotated[
        bool,
        typer.Option(
            help="Replace a database that has data (the old SQLite files are kept beside "
            "it; PostgreSQL objects in the backup are dropped and recreated). Stop the "
            "servers first."
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Restore into this data directory.", show_default=False),
    ] = None,
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Restore a backup into an empty data directory (SQLite) or an empty database
    (PostgreSQL, as CLINICDESK_DATABASE_OWNER_URL or CLINICDESK_DATABASE_URL names it),
    with its documents. Nothing changes unless the whole archive authenticates."""
    settings = _settings(data_dir=data_dir)
    configure_logging(level="WARNING", fmt=settings.log_format)
    resolved = _secret(settings, key_file, passphrase_file, create=False)
    try:
        target = backups.target_from_settings(settings)
        with _progress() as report:
            manifest, moved = asyncio.run(
                backups.restore_backup(
                    archive, resolved.secret, target, force=force, on_progress=report
                )
            )
    except (backups.BackupError, OSError) as exc:
        raise _fail(exc) from exc
    where = settings.data_dir if target.kind == "sqlite" else "the PostgreSQL database"
    console.print(
        f"Restored the backup of {manifest.created_at:%Y-%m-%d %H:%M} UTC into {where}: "
        f"{sum(manifest.tables.values())} rows, {len(manifest.documents)} documents.",
        highlight=False,
    )
    for path in moved:
        console.print(f"  the previous file is kept as {path}", highlight=False, soft_wrap=True)
    present = set(available_field_key_ids(settings))
    missing = [kid for kid in manifest.field_key_ids if kid not in present]
    if missing:
        err.print(
            f"[yellow]Identifiers in this backup are encrypted under field key(s) "
            f"{', '.join(missing)}, which are not in place. Before starting the server, put "
            f"the field encryption key you kept apart into {settings.data_dir}/secrets/"
            "field_encryption_key (or CLINICDESK_FIELD_ENCRYPTION_KEY; older keys into "
            "CLINICDESK_FIELD_ENCRYPTION_PREVIOUS_KEYS).[/yellow]"
        )
    console.print(
        "Next: `clinicdesk db upgrade` if this ClinicDesk is newer than the backup, then "
        "start the server."
    )


def at_terminal() -> bool:
    return sys.stdin.isatty()


async def before_upgrade(settings: Settings, *, output: Path | None) -> None:
    """What ``db upgrade`` does before migrating a database that has data: a backup to
    ``output`` when given; otherwise, at a terminal, the offer of one (yes by default);
    otherwise only the advice."""
    if output is None:
        if not at_terminal():
            console.print(
                "Tip: take a backup before migrating (`clinicdesk db upgrade --backup "
                "FOLDER`, or `clinicdesk backup`); --no-backup silences this."
            )
            return
        if not typer.confirm("Take a backup before migrating?", default=True):
            return
        output = Path.cwd()
    result = await take_backup(settings, output=output)
    console.print(f"Backup taken ({result.path.name}); migrating now.", highlight=False)
