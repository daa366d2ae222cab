"""PostgreSQL: pg_dump in custom format from one snapshot, pg_restore into an empty database.

The backup opens a REPEATABLE READ transaction, exports its snapshot and hands it to
``pg_dump --snapshot``: the row counts and the list of documents in the manifest are read
in exactly the snapshot the dump holds, while the servers keep writing.

Row-level security applies to the tables' owner too (FORCE), so both the counts and
pg_dump run in the system scope (``app.bypass_rls = on``, which the policies admit) with
``--enable-row-security``; a restore loads the data before the dump's policies are
switched on. Passwords go to the tools through ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from clinicdesk.core.db import create_database
from clinicdesk.core.rls import grant_application_role
from clinicdesk.operations.backup.errors import BackupError, TargetNotEmpty
from clinicdesk.operations.backup.sqlite import DOCUMENTS_COLUMNS, DOCUMENTS_TABLE, DatabaseFacts

SYSTEM_LIBDIR = Path("/usr/lib/postgresql")
_SYSTEM_SCOPE = "SELECT set_config('app.bypass_rls', 'on', true)"


def find_tool(name: str) -> Path:
    """``pg_dump`` / ``pg_restore``: the newest of Debian's ``/usr/lib/postgresql/<v>/bin``
    (pg_dump must not be older than the server), else the one on PATH."""
    found: list[tuple[int, Path]] = []
    for candidate in SYSTEM_LIBDIR.glob(f"*/bin/{name}"):
        version = re.match(r"\d+", candidate.parent.parent.name)
        if candidate.is_file() and version:
            found.append((int(version.group()), candidate))
    if found:
        return max(found)[1]
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise BackupError(
        f"{name} was not found on PATH or under {SYSTEM_LIBDIR}/*/bin. Install the PostgreSQL "
        "client tools (Debian: postgresql-client) of the server's version or newer."
    )


def _libpq_env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    settings = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": url.query.get("sslmode") or url.query.get("ssl"),
        "PGCONNECT_TIMEOUT": "10",
        # The policies admit every row in the system scope; the role may still not be
        # able to bypass row-level security on its own.
        "PGOPTIONS": "-c app.bypass_rls=on",
    }
    env.update({k: str(v) for k, v in settings.items() if v})
    return env


async def _run(tool: str, args: Sequence[str], url: URL) -> None:
    process = await asyncio.create_subprocess_exec(
        str(find_tool(tool)),
        *args,
        env=_libpq_env(url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{tool} failed (exit {process.returncode}): {message}")


async def _facts(conn: AsyncConnection) -> DatabaseFacts:
    await conn.execute(text(_SYSTEM_SCOPE))
    tables = (
        await conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "ORDER BY tablename"
            )
        )
    ).all()
    counts: dict[str, int] = {}
    for name in tables:
        quoted = conn.dialect.identifier_preparer.quote(name)
        counts[name] = int(await conn.scalar(text(f"SELECT count(*) FROM {quoted}")) or 0)  # noqa: S608 - names from pg_tables
    revisions = (
        sorted((await conn.scalars(text("SELECT version_num FROM alembic_version"))).all())
        if "alembic_version" in counts
        else []
    )
    documents = (
        [
            (str(key), str(sha), int(size))
            for key, sha, size in await conn.execute(
                text(
                    f"SELECT {', '.join(DOCUMENTS_COLUMNS)} FROM {DOCUMENTS_TABLE} "  # noqa: S608 - constants
                    "ORDER BY storage_key"
                )
            )
        ]
        if DOCUMENTS_TABLE in counts
        else []
    )
    return DatabaseFacts(tables=counts, revisions=list(revisions), documents=documents)


def _connection_error(url: URL, exc: Exception) -> BackupError:
    return BackupError(
        f"Cannot reach the PostgreSQL database {url.database!r} on {url.host or 'localhost'}: "
        f"{getattr(exc, 'orig', exc)}"
    )


async def snapshot(url: str, target: Path) -> DatabaseFacts:
    """Dump the database at ``url`` to ``target`` and read its facts, in one snapshot."""
    parsed = make_url(url)
    db = create_database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            reader = await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with reader.begin():
                snapshot_id = str(await reader.scalar(text("SELECT pg_export_snapshot()")))
                facts = await _facts(reader)
                # The transaction stays open until pg_dump is done: the snapshot lives
                # only as long as it does.
                await _run(
                    "pg_dump",
                    [
                        "--format=custom",
                        f"--file={target}",
                        f"--snapshot={snapshot_id}",
                        "--enable-row-security",
                        "--no-password",
                    ],
                    parsed,
                )
        return facts
    except DBAPIError as exc:
        raise _connection_error(parsed, exc) from exc
    finally:
        await db.dispose()


async def facts_of(url: str) -> DatabaseFacts:
    db = create_database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn, conn.begin():
            return await _facts(conn)
    finally:
        await db.dispose()


async def table_count(url: str) -> int:
    db = create_database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return int(
                await conn.scalar(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
                )
                or 0
            )
    except DBAPIError as exc:
        raise _connection_error(make_url(url), exc) from exc
    finally:
        await db.dispose()


async def check_target(url: str, *, force: bool) -> int:
    tables = await table_count(url)
    if tables and not force:
        raise TargetNotEmpty(
            f"The database {make_url(url).database!r} already has {tables} tables. Restore "
            "into an empty database (CREATE DATABASE ... OWNER ...), or stop the servers and "
            "pass --force to replace what the backup holds (pg_restore --clean)."
        )
    return tables


async def restore(url: str, dump: Path, *, force: bool, grant_to: str | None) -> None:
    """Load ``dump`` into the database at ``url`` in one transaction (all or nothing)."""
    tables = await check_target(url, force=force)
    parsed = make_url(url)
    args = [
        f"--dbname={parsed.database}",
        "--no-owner",  # objects belong to the role restoring them (the owner role)
        "--no-acl",  # grants are given again below, to this installation's app role
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
    ]
    if tables:
        args += ["--clean", "--if-exists"]
    await _run("pg_restore", [*args, str(dump)], parsed)
    db = create_database(url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            if grant_to:
                await conn.run_sync(grant_application_role, grant_to)
            # pg_trgm came back from the dump as freshly created: mark its operator
            # leakproof again when we may (see migration 0003 and README "Patients").
            superuser = await conn.scalar(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            )
            has_trgm = await conn.scalar(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'similarity_op'")
            )
            if superuser and has_trgm:
                await conn.execute(text("ALTER FUNCTION similarity_op(text, text) LEAKPROOF"))
    finally:
        await db.dispose()


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new empty database on the server of ``server_url``, dropped afterwards."""
    base = make_url(server_url)
    name = f"{base.database or 'clinicdesk'}_verify_{os.urandom(4).hex()}"
    admin = create_database(server_url, pool_size=1)
    try:
        try:
            async with admin.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            cause = getattr(exc, "orig", exc)
            raise BackupError(
                f"Could not create a scratch database to verify into ({cause}). "
                "Give the owner role CREATEDB, or pass --scratch-database-url with an empty "
                "database."
            ) from exc
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
