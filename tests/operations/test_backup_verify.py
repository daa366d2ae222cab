"""Restore and verification refuse or report what does not match (SQLite; the checks are
the same code on PostgreSQL): an altered archive changes nothing, and an archive forged
with the right key is caught by the row counts, the audit chains and the checksums."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pysqlite3.dbapi2 as sqlite
import pytest

from clinicdesk.core.db import create_database
from clinicdesk.operations.backup import (
    ArchiveRefused,
    BackupError,
    Manifest,
    create_backup,
    restore_backup,
    target_from_settings,
    verify_backup,
)
from clinicdesk.operations.backup.archive import (
    MANIFEST_NAME,
    ArchiveWriter,
    DocumentEntry,
    extract_archive,
)
from clinicdesk.operations.backup.create import _hash_file
from tests.support.backups import (
    SECRET,
    Installation,
    install,
    installation_settings,
    write_patient,
)


async def _clinic_with_documents(base: Path, documents: int = 2) -> Installation:
    site = await install(base)
    db = create_database(site.settings.resolved_database_url, pool_size=1)
    try:
        for _ in range(documents):
            await write_patient(db, site, with_document=True)
    finally:
        await db.dispose()
    return site


def _rewrite(
    archive: Path,
    target: Path,
    *,
    database: Callable[[Path], None] = lambda _: None,
    manifest: Callable[[Manifest], None] = lambda _: None,
    documents: Callable[[Path], None] = lambda _: None,
) -> None:
    """An archive forged with the right key: unpacked, edited, checksums made to match."""
    staging = target.parent / "forge"
    extracted = extract_archive(archive, SECRET, staging)
    forged = extracted.manifest
    database(extracted.database_path)
    documents(extracted.documents_dir)
    forged.database_size, forged.database_sha256 = _hash_file(extracted.database_path)
    forged.documents = [
        DocumentEntry(key=e.key, size=s, sha256=h)
        for e in forged.documents
        for s, h in [_hash_file(extracted.document_path(e.key))]
    ]
    manifest(forged)
    writer = ArchiveWriter(target, SECRET)
    with extracted.database_path.open("rb") as dump:
        writer.add(forged.database_member, dump, forged.database_size, 0)
    for entry in forged.documents:
        with extracted.document_path(entry.key).open("rb") as content:
            writer.add(f"documents/{entry.key}", content, entry.size, 0)
    writer.add_bytes(MANIFEST_NAME, forged.model_dump_json().encode(), 0)
    writer.commit()
    shutil.rmtree(staging)


async def test_an_altered_archive_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    site = await _clinic_with_documents(tmp_path / "clinic", documents=1)
    result = await create_backup(site.settings, output=tmp_path, secret=SECRET)
    altered = tmp_path / "altered.cdbackup"
    content = bytearray(result.path.read_bytes())
    content[len(content) // 2] ^= 0x40
    altered.write_bytes(bytes(content))

    target_settings = installation_settings(tmp_path / "restored")
    with pytest.raises(ArchiveRefused, match="damaged or was altered"):
        await restore_backup(altered, SECRET, target_from_settings(target_settings))
    leftovers = [p for p in target_settings.data_dir.rglob("*") if p.is_file()]
    assert leftovers == []
    with pytest.raises(ArchiveRefused, match="damaged or was altered"):
        await verify_backup(altered, SECRET, scratch_parent=tmp_path)
    assert not any("verify" in name for name in await asyncio.to_thread(os.listdir, tmp_path))


async def test_verify_reports_counts_audit_and_documents_that_do_not_match(
    tmp_path: Path,
) -> None:
    site = await _clinic_with_documents(tmp_path / "clinic")
    result = await create_backup(site.settings, output=tmp_path, secret=SECRET)
    assert (await verify_backup(result.path, SECRET, scratch_parent=tmp_path)).ok

    def alter_rows(path: Path) -> None:
        connection = sqlite.connect(str(path))
        with connection:
            connection.execute(
                "UPDATE audit_events SET action = 'patient.viewed' "
                "WHERE seq = (SELECT max(seq) FROM audit_events)"
            )
            connection.execute(
                "DELETE FROM patient_name_terms "
                "WHERE rowid = (SELECT min(rowid) FROM patient_name_terms)"
            )
        connection.close()

    def alter_a_document(folder: Path) -> None:
        first = sorted(folder.iterdir())[0]
        first.write_bytes(first.read_bytes() + b"%")

    def claim_more_patients(manifest: Manifest) -> None:
        manifest.tables["patients"] += 1

    forged = tmp_path / "forged.cdbackup"
    _rewrite(
        result.path,
        forged,
        database=alter_rows,
        documents=alter_a_document,
        manifest=claim_more_patients,
    )
    report = await verify_backup(forged, SECRET, scratch_parent=tmp_path)
    problems = "\n".join(report.problems)
    assert "table patients: 2 rows restored, the manifest says 3" in problems
    assert "table patient_name_terms: " in problems
    assert "audit chain" in problems
    assert "content does not match its recorded checksum" in problems

    def from_the_future(manifest: Manifest) -> None:
        manifest.alembic_revisions = ["9999_from_a_newer_version"]

    newer = tmp_path / "newer.cdbackup"
    _rewrite(result.path, newer, manifest=from_the_future)
    with pytest.raises(BackupError, match="made by a newer version"):
        await verify_backup(newer, SECRET, scratch_parent=tmp_path)


async def test_a_document_missing_at_backup_time_is_reported(tmp_path: Path) -> None:
    site = await _clinic_with_documents(tmp_path / "clinic")
    files = sorted(p for p in site.storage.root.rglob("*") if p.is_file())
    files[0].unlink()
    result = await create_backup(site.settings, output=tmp_path, secret=SECRET)
    assert [p.reason for p in result.manifest.document_problems] == ["missing from the storage"]
    report = await verify_backup(result.path, SECRET, scratch_parent=tmp_path)
    assert any("missing from the storage when the backup was taken" in p for p in report.problems)
    assert any("its file is not in the backup" in p for p in report.problems)


async def test_nothing_to_back_up_is_an_error_not_an_empty_archive(tmp_path: Path) -> None:
    settings = installation_settings(tmp_path / "clinic")
    with pytest.raises(BackupError, match="There is no database at"):
        await create_backup(settings, output=tmp_path, secret=SECRET)
    settings.data_dir.mkdir(parents=True)
    sqlite.connect(str(settings.data_dir / "clinicdesk.db")).close()
    with pytest.raises(BackupError, match="has no tables"):
        await create_backup(settings, output=tmp_path, secret=SECRET)
    assert not any("cdbackup" in name for name in await asyncio.to_thread(os.listdir, tmp_path))
