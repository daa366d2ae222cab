"""``clinicdesk backup verify``: restore an archive into a scratch place and check it.

A backup is only as good as its restore, so verification *is* a restore: into a scratch
directory (SQLite, and the documents in every case) or a scratch database created and
dropped on the PostgreSQL server. Then: the database's own integrity checks, the rows of
every table against the manifest's counts (taken in the backup's snapshot), the audit
trail's hash chains, and every document row's content against its recorded SHA-256.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio.to_thread

from clinicdesk.audit import public as audit
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.storage import LocalDirectoryStorage
from clinicdesk.operations.backup import postgres, sqlite
from clinicdesk.operations.backup.archive import Manifest
from clinicdesk.operations.backup.crypto import BackupSecret
from clinicdesk.operations.backup.documents import Progress, check_documents, no_progress
from clinicdesk.operations.backup.errors import BackupError
from clinicdesk.operations.backup.restore import RestoreTarget, extract, install, staging_dir
from clinicdesk.operations.backup.sqlite import DatabaseFacts


@dataclass
class VerifyReport:
    manifest: Manifest
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    audit_entries: int = 0
    audit_chains: int = 0
    documents: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_counts(manifest: Manifest, facts: DatabaseFacts) -> list[str]:
    problems = []
    for table in sorted(set(manifest.tables) | set(facts.tables)):
        expected, found = manifest.tables.get(table), facts.tables.get(table)
        if expected is None:
            problems.append(f"table {table}: restored, but the manifest does not list it")
        elif found is None:
            problems.append(f"table {table}: listed in the manifest, missing after restore")
        elif expected != found:
            problems.append(f"table {table}: {found} rows restored, the manifest says {expected}")
    if facts.revisions != manifest.alembic_revisions:
        problems.append(
            f"migration revision {facts.revisions} differs from the manifest's "
            f"{manifest.alembic_revisions}"
        )
    return problems


async def _audit(url: str, report: VerifyReport) -> None:
    db = create_database(url, pool_size=1)
    try:
        async with session_scope(db) as session:
            result = await audit.verify_chains(session)
    finally:
        await db.dispose()
    report.audit_entries, report.audit_chains = result.entries, result.chains
    report.problems += [
        f"audit chain of organization {p.organization_id or '(none)'}: entry #{p.seq}: {p.reason}"
        for p in result.problems
    ]


@asynccontextmanager
async def _scratch_database(
    manifest: Manifest, scratch: Path, *, server_url: str | None, empty_url: str | None
) -> AsyncIterator[str]:
    if manifest.database_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{scratch / 'clinicdesk.db'}"
    elif empty_url is not None:
        yield empty_url
    elif server_url is not None:
        async with postgres.scratch_database(server_url) as url:
            yield url
    else:
        raise BackupError(
            "This archive holds a PostgreSQL dump: verifying restores it into a scratch "
            "database. Set CLINICDESK_DATABASE_URL to a PostgreSQL server (a scratch database "
            "is created and dropped there), or pass --scratch-database-url."
        )


async def verify_backup(
    archive: Path,
    secret: BackupSecret,
    *,
    scratch_parent: Path | None = None,
    postgres_server_url: str | None = None,
    scratch_database_url: str | None = None,
    on_progress: Progress = no_progress,
) -> VerifyReport:
    """Restore ``archive`` into a scratch place and check it; the report lists every
    problem found (an archive that does not authenticate raises ``ArchiveRefused``)."""
    scratch = staging_dir(scratch_parent, "clinicdesk-verify-")
    try:
        extracted = await extract(archive, secret, scratch / "archive")
        manifest = extracted.manifest
        report = VerifyReport(manifest=manifest)
        report.problems += [
            f"document {p.key}: {p.reason} when the backup was taken"
            for p in manifest.document_problems
        ]
        storage = LocalDirectoryStorage(scratch / "documents")
        async with _scratch_database(
            manifest, scratch, server_url=postgres_server_url, empty_url=scratch_database_url
        ) as url:
            target = RestoreTarget(
                kind=manifest.database_kind,
                database_url=url,
                storage=storage,
                staging_parent=scratch,
            )
            # A scratch database given by the operator must be empty like any target.
            await install(extracted, target, force=False, on_progress=on_progress)
            with contextlib.suppress(OSError):
                shutil.rmtree(scratch / "archive")
            on_progress("checking", 0, 3)
            if manifest.database_kind == "sqlite":
                path = sqlite.database_path(url)
                report.problems += await anyio.to_thread.run_sync(sqlite.integrity_problems, path)
                facts = await anyio.to_thread.run_sync(partial(sqlite.facts_of, path))
            else:
                # pg_restore ran in one transaction with --exit-on-error and re-created
                # every constraint, so the data it loaded satisfies all of them.
                facts = await postgres.facts_of(url)
            report.problems += compare_counts(manifest, facts)
            report.rows = sum(facts.tables.values())
            on_progress("checking", 1, 3)
            await _audit(url, report)
            on_progress("checking", 2, 3)
            report.problems += await check_documents(storage, facts.documents)
            report.documents = len(facts.documents)
            on_progress("checking", 3, 3)
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
