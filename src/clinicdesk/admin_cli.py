"""The operator's commands: organizations, users, the audit trail, encryption keys and
background jobs (``clinicdesk org|user|audit|keys|jobs``). ``cli`` adds them to the
``clinicdesk`` command."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from clinicdesk import keyrotation
from clinicdesk.audit import public as audit
from clinicdesk.cli_common import configure_encryption as _configure_encryption
from clinicdesk.cli_common import console, err
from clinicdesk.cli_common import database as _database
from clinicdesk.cli_common import fail as _fail
from clinicdesk.cli_common import load_settings as _settings
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import session_scope
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.jobs import JobStatus
from clinicdesk.core.jobs.admin import JobRead
from clinicdesk.core.keys import load_or_create_keys
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.demo import demo_password
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import OrganizationUpdate
from clinicdesk.identity.service import jobs, organizations, users

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs of every organization.", no_args_is_help=True)
GROUPS = (
    ("org", org_app),
    ("user", user_app),
    ("audit", audit_app),
    ("keys", keys_app),
    ("jobs", jobs_app),
)


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
