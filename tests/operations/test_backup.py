"""Backups on SQLite and PostgreSQL: taken while a writer keeps committing patients and
documents, restored into an empty installation, verified, and holding every write that was
acknowledged before the backup began (and none that began after its snapshot)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clinicdesk.core.db import create_database
from clinicdesk.operations.backup import (
    create_backup,
    restore_backup,
    target_from_settings,
    verify_backup,
)
from tests.support.backups import (
    SECRET,
    Installation,
    empty_postgres_database,
    install,
    installation_settings,
    patients_and_documents,
    write_patient,
)

# Bounds: the writer stops after this many writes or when told; waits give up after this.
MAX_WRITES = 400
WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class Ack:
    began: float
    patient_id: uuid.UUID
    document_key: str | None


@dataclass
class Writer:
    """Commits a patient (every third with a document) in a loop, on its own thread and
    event loop, and records each write once its commit has returned."""

    site: Installation
    acked: list[Ack] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as exc:
            self.error = exc

    async def _loop(self) -> None:
        db = create_database(self.site.settings.resolved_database_url, pool_size=1)
        try:
            for n in range(MAX_WRITES):
                if self.stop.is_set():
                    return
                began = time.monotonic()
                patient_id, key = await write_patient(db, self.site, with_document=n % 3 == 0)
                self.acked.append(Ack(began, patient_id, key))
        finally:
            await db.dispose()

    def wait_for(self, count: int, *, after: float = 0.0, with_document: bool = False) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and self.error is None:
            matching = [
                a
                for a in list(self.acked)
                if a.began > after and (a.document_key or not with_document)
            ]
            if len(matching) >= count:
                return
            time.sleep(0.005)
        raise AssertionError(f"the writer did not get {count} writes in: {self.error!r}")


@asynccontextmanager
async def restore_target_url(
    backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    async with empty_postgres_database(str(request.getfixturevalue("postgres_owner_url"))) as url:
        yield url


async def test_backup_under_writes_restores_every_acknowledged_write(
    backend: str, fresh_database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = None if backend == "sqlite" else fresh_database_url
    site = await install(tmp_path / "clinic", url)
    writer = Writer(site)
    thread = threading.Thread(target=writer.run, name="writer")
    thread.start()
    snapshot_at: list[float] = []

    def on_progress(stage: str, done: int, total: int) -> None:
        # Once the database is copied, let writes with new documents land before the
        # documents are copied: they must neither break the backup nor appear in it.
        if stage == "database" and not snapshot_at:
            snapshot_at.append(time.monotonic())
            writer.wait_for(2, after=snapshot_at[0], with_document=True)

    try:
        writer.wait_for(6)
        before = list(writer.acked)  # every write acknowledged before the backup begins
        result = await create_backup(
            site.settings, output=tmp_path, secret=SECRET, on_progress=on_progress
        )
    finally:
        writer.stop.set()
        await asyncio.to_thread(thread.join, WAIT_SECONDS)
    assert writer.error is None, writer.error
    assert not thread.is_alive()
    manifest = result.manifest
    assert manifest.database_kind == backend
    assert manifest.document_problems == []

    async with restore_target_url(backend, request) as target_url:
        target_settings = installation_settings(tmp_path / "restored", target_url)
        await restore_backup(result.path, SECRET, target_from_settings(target_settings))
        patients, keys = await patients_and_documents(target_settings.resolved_database_url)

    assert {a.patient_id for a in before} <= patients
    assert {a.document_key for a in before if a.document_key} <= keys
    later = [a for a in writer.acked if a.began > snapshot_at[0]]
    assert later and not {a.patient_id for a in later} & patients
    assert manifest.tables["patients"] == len(patients)
    assert {d.key for d in manifest.documents} == keys
    restored_storage = target_from_settings(target_settings).storage
    for key in keys:
        assert await restored_storage.exists(key)

    server = str(request.getfixturevalue("postgres_owner_url")) if backend == "postgresql" else None
    report = await verify_backup(
        result.path, SECRET, scratch_parent=tmp_path, postgres_server_url=server
    )
    assert report.problems == []
    assert report.documents == len(keys) > 0
    assert report.audit_entries > len(before)
    assert report.rows == sum(manifest.tables.values())
