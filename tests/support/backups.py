"""Backup test helpers: a migrated installation with a clinic, writes of patients with
documents through the real services, and empty PostgreSQL databases to restore into."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.filetypes import HEAD_BYTES
from clinicdesk.core.permissions import Permission
from clinicdesk.core.storage import LocalDirectoryStorage
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.permissions import Role
from clinicdesk.operations.backup import BackupSecret
from clinicdesk.patients.models import Document, Patient
from clinicdesk.patients.schemas import DocumentMeta
from clinicdesk.patients.service import documents
from tests.conftest import make_settings
from tests.support.identity import create_org, create_user
from tests.support.patients import register_patient

BACKUP_KEY = base64.urlsafe_b64encode(b"clinicdesk-test-backup-key-32byt").decode()
SECRET = BackupSecret("key", base64.urlsafe_b64decode(BACKUP_KEY), "test")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass(frozen=True)
class Installation:
    settings: Settings
    organization_id: uuid.UUID
    staff: Actor

    @property
    def storage(self) -> LocalDirectoryStorage:
        return LocalDirectoryStorage(self.settings.resolved_documents_dir)


def installation_settings(base: Path, url: str | None = None) -> Settings:
    """Settings of an installation under ``base``: SQLite in its data directory unless
    ``url`` names a database; documents in the data directory; the test backup key."""
    extra: dict[str, object] = {"backup_key": BACKUP_KEY}
    if url is not None:
        extra.update(database_url=url, database_owner_url=url)
    return make_settings(base, **extra)


async def install(base: Path, url: str | None = None) -> Installation:
    """A migrated installation with one clinic and a doctor who files documents."""
    settings = installation_settings(base, url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = create_database(settings.resolved_database_url, pool_size=1)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            clinic = await create_org(session, "Backed-up Clinic")
            doctor = await create_user(session, clinic, Role.DOCTOR)
    finally:
        await db.dispose()
    staff = Actor(
        kind=ActorKind.STAFF,
        organization_id=clinic.id,
        user_id=doctor.id,
        permissions=frozenset({Permission.PATIENTS_READ, Permission.PATIENTS_WRITE}),
    )
    return Installation(settings, clinic.id, staff)


async def _one_chunk(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def write_patient(
    db: Database, site: Installation, *, with_document: bool
) -> tuple[uuid.UUID, str | None]:
    """Register a patient (and file a PDF for them) in one committed transaction."""
    async with session_scope(db) as session:
        await scope_to_tenant(session, site.organization_id)
        patient = await register_patient(session, actor=site.staff)
        if not with_document:
            return patient.id, None
        content = PDF + os.urandom(64)
        document = await documents.upload_document(
            session,
            actor=site.staff,
            storage=site.storage,
            patient_id=patient.id,
            upload=documents.Upload("scan.pdf", content[:HEAD_BYTES], _one_chunk(content)),
            meta=DocumentMeta(),
            max_bytes=1 << 20,
            allowed_categories=None,
        )
        return patient.id, document.storage_key


async def patients_and_documents(url: str) -> tuple[set[uuid.UUID], set[str]]:
    db = create_database(url, pool_size=1)
    try:
        async with session_scope(db) as session:
            await use_system_scope(session)
            patients = set((await session.scalars(select(Patient.id))).all())
            keys = set((await session.scalars(select(Document.storage_key))).all())
            return patients, keys
    finally:
        await db.dispose()


@asynccontextmanager
async def empty_postgres_database(owner_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    base = make_url(owner_url)
    name = f"clinicdesk_restore_{os.urandom(4).hex()}"
    admin = create_database(base.render_as_string(hide_password=False), pool_size=1)
    try:
        async with admin.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
