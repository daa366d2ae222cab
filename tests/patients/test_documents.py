"""Patient documents at the service level, on SQLite and PostgreSQL, stored in a private
directory under tmp_path: the type judged from the content, the size limit, categories
per clinical access, listing, download, soft delete, the portal's view, and tenant
isolation."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.filetypes import HEAD_BYTES
from clinicdesk.core.permissions import Permission
from clinicdesk.core.storage.base import DocumentTooLarge
from clinicdesk.core.storage.local import LocalDirectoryStorage
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.patients.errors import DocumentNotFound, PatientNotFound, UnsupportedDocumentType
from clinicdesk.patients.models import Document, Patient
from clinicdesk.patients.policies import DEMOGRAPHIC_CATEGORIES
from clinicdesk.patients.schemas import DocumentMeta
from clinicdesk.patients.service import documents
from clinicdesk.patients.service.documents import Upload
from clinicdesk.patients.vocabulary import DocumentCategory
from tests.support.identity import create_org, create_user
from tests.support.patients import register_patient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
MAX_BYTES = 64 * 1024
FRONT_DESK = frozenset(c.value for c in DEMOGRAPHIC_CATEGORIES)
EVERYTHING = None


@dataclass(frozen=True)
class Drawer:
    """A patient's documents: the staff member filing them and where the bytes go."""

    staff: Actor
    patient: Patient
    storage: LocalDirectoryStorage

    def stored_files(self) -> list[Path]:
        return [p for p in self.storage.root.rglob("*") if p.is_file()]


async def open_drawer(session: AsyncSession, clinic: Organization, root: Path) -> Drawer:
    user = await create_user(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    staff = Actor(
        kind=ActorKind.STAFF,
        organization_id=clinic.id,
        user_id=user.id,
        permissions=frozenset({Permission.PATIENTS_READ, Permission.PATIENTS_WRITE}),
    )
    patient = await register_patient(session, actor=staff)
    return Drawer(staff, patient, LocalDirectoryStorage(root))


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 1024):
        yield content[start : start + 1024]


async def upload(
    session: AsyncSession,
    d: Drawer,
    content: bytes,
    *,
    filename: str = "scan.pdf",
    category: DocumentCategory = DocumentCategory.OTHER,
    allowed: frozenset[str] | None = EVERYTHING,
    max_bytes: int = MAX_BYTES,
    actor: Actor | None = None,
    shared: bool = False,
) -> Document:
    return await documents.upload_document(
        session,
        actor=actor or d.staff,
        storage=d.storage,
        patient_id=d.patient.id,
        upload=Upload(filename=filename, head=content[:HEAD_BYTES], chunks=_chunks(content)),
        meta=DocumentMeta(category=category, shared_with_patient=shared),
        max_bytes=max_bytes,
        allowed_categories=allowed,
    )


async def listed(
    session: AsyncSession,
    d: Drawer,
    *,
    actor: Actor | None = None,
    allowed: frozenset[str] | None = EVERYTHING,
    include_deleted: bool = False,
) -> list[uuid.UUID]:
    found = await documents.list_documents(
        session,
        actor=actor or d.staff,
        patient_id=d.patient.id,
        allowed_categories=allowed,
        include_deleted=include_deleted,
    )
    return [doc.id for doc in found]


async def download(
    session: AsyncSession,
    d: Drawer,
    document_id: uuid.UUID,
    *,
    actor: Actor | None = None,
    allowed: frozenset[str] | None = EVERYTHING,
    audited: bool = True,
) -> bytes:
    opened = await documents.open_document(
        session,
        actor=actor or d.staff,
        storage=d.storage,
        patient_id=d.patient.id,
        document_id=document_id,
        allowed_categories=allowed,
        audited=audited,
    )
    return await opened.content.read_all()


async def delete(
    session: AsyncSession,
    d: Drawer,
    document_id: uuid.UUID,
    *,
    reason: str,
    version: int | None,
    allowed: frozenset[str] | None = EVERYTHING,
) -> Document:
    return await documents.delete_document(
        session,
        actor=d.staff,
        patient_id=d.patient.id,
        document_id=document_id,
        reason=reason,
        expected_version=version,
        allowed_categories=allowed,
    )


async def actions(session: AsyncSession, document_id: uuid.UUID) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.resource_id == str(document_id))
    # Entries are chained (given their seq) after commit on PostgreSQL: in a test's open
    # transaction they have none yet, and their time and time-ordered id keep the order.
    order = (AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.id)
    return list((await session.scalars(statement.order_by(*order))).all())


async def document_count(session: AsyncSession, patient_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Document).where(Document.patient_id == patient_id)
    )
    return int(count or 0)


async def test_the_type_comes_from_the_content_not_the_name(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    content = PDF + b"%" * 5000  # more than one chunk
    document = await upload(session, d, content, filename="lab results.png")

    assert document.content_type == "application/pdf"
    assert document.title == "lab results"
    assert document.original_filename == "lab results.png"
    assert document.size_bytes == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.uploaded_by_id == d.staff.user_id
    assert "lab results" not in document.storage_key  # the server names the stored file
    assert await download(session, d, document.id) == content

    uploaded, downloaded = await actions(session, document.id)
    assert uploaded.action == "document.uploaded"
    assert uploaded.patient_id == d.patient.id
    assert uploaded.details == {
        "category": "other",
        "content_type": "application/pdf",
        "size": len(content),
    }
    assert downloaded.action == "document.downloaded"


@pytest.mark.parametrize(
    ("content", "filename", "category"),
    [
        (b"<html><script>alert(1)</script></html>", "report.pdf", DocumentCategory.OTHER),
        (b"MZ\x90\x00\x03\x00\x00\x00", "scan.pdf", DocumentCategory.LAB_RESULT),
        (b" " + PDF, "scan.pdf", DocumentCategory.OTHER),  # leading whitespace
        (b"", "empty.pdf", DocumentCategory.OTHER),
        (PDF, "me.pdf", DocumentCategory.PHOTO),  # a photo must be an image
    ],
    ids=["html", "executable", "whitespace-first", "empty", "pdf-as-photo"],
)
async def test_anything_but_a_pdf_or_an_image_is_refused_and_nothing_is_stored(
    session: AsyncSession,
    clinic: Organization,
    tmp_path: Path,
    content: bytes,
    filename: str,
    category: DocumentCategory,
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    with pytest.raises(UnsupportedDocumentType):
        await upload(session, d, content, filename=filename, category=category)
    assert d.stored_files() == []
    assert await document_count(session, d.patient.id) == 0


async def test_a_document_over_the_limit_is_refused_and_leaves_nothing_behind(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    with pytest.raises(DocumentTooLarge):
        await upload(session, d, PDF + b"%" * 4096, max_bytes=4096)
    assert d.stored_files() == []
    assert await document_count(session, d.patient.id) == 0

    exactly = PDF + b"%" * (4096 - len(PDF))
    document = await upload(session, d, exactly, max_bytes=4096)
    assert document.size_bytes == 4096
    assert len(d.stored_files()) == 1


async def test_stored_bytes_are_removed_when_the_upload_rolls_back(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    await session.commit()
    stored_before_failing: list[Path] = []

    async def fail_after_upload() -> None:
        async with unit_of_work(session):
            await upload(session, d, PDF)
            stored_before_failing.extend(d.stored_files())
            raise RuntimeError("something failed after the upload")

    with pytest.raises(RuntimeError, match="after the upload"):
        await fail_after_upload()
    assert len(stored_before_failing) == 1
    assert d.stored_files() == []


async def test_the_front_desk_files_and_sees_only_demographic_categories(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    assert FRONT_DESK is not None
    assert set(FRONT_DESK) == {"photo", "id_card", "insurance_card"}
    assert EVERYTHING is None

    with pytest.raises(DocumentNotFound):
        await upload(session, d, PDF, category=DocumentCategory.LAB_RESULT, allowed=FRONT_DESK)
    assert d.stored_files() == []
    card = await upload(session, d, PNG, category=DocumentCategory.ID_CARD, allowed=FRONT_DESK)
    lab = await upload(session, d, PDF, category=DocumentCategory.LAB_RESULT)

    assert await listed(session, d, allowed=FRONT_DESK) == [card.id]
    assert await listed(session, d) == [lab.id, card.id]  # newest first
    assert await download(session, d, card.id, allowed=FRONT_DESK) == PNG
    with pytest.raises(DocumentNotFound):
        await download(session, d, lab.id, allowed=FRONT_DESK)
    with pytest.raises(DocumentNotFound):
        await delete(
            session, d, lab.id, reason="wrong patient", version=lab.version, allowed=FRONT_DESK
        )
    assert lab.deleted_at is None


async def test_a_photo_becomes_the_patients_photo_until_it_is_deleted(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    photo = await upload(session, d, PNG, filename="me.png", category=DocumentCategory.PHOTO)
    assert photo.content_type == "image/png"
    assert d.patient.photo_document_id == photo.id
    await delete(session, d, photo.id, reason="blurred", version=photo.version, allowed=FRONT_DESK)
    assert d.patient.photo_document_id is None


async def test_a_download_is_audited_unless_it_is_part_of_viewing_the_chart(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    document = await upload(session, d, PNG, category=DocumentCategory.PHOTO)
    assert await download(session, d, document.id, audited=False) == PNG
    assert [e.action for e in await actions(session, document.id)] == ["document.uploaded"]
    assert await download(session, d, document.id) == PNG
    assert [e.action for e in await actions(session, document.id)] == [
        "document.uploaded",
        "document.downloaded",
    ]


async def test_a_soft_delete_needs_the_current_version_keeps_the_bytes_and_is_audited(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    document = await upload(session, d, PDF)
    kept = await upload(session, d, PNG)
    with pytest.raises(PreconditionFailed):
        await delete(session, d, document.id, reason="wrong patient", version=document.version + 1)
    assert document.deleted_at is None

    deleted = await delete(
        session, d, document.id, reason="wrong patient", version=document.version
    )
    assert deleted.deleted_at is not None
    assert deleted.deleted_by_id == d.staff.user_id
    assert deleted.delete_reason == "wrong patient"
    assert await listed(session, d) == [kept.id]
    assert set(await listed(session, d, include_deleted=True)) == {document.id, kept.id}
    with pytest.raises(DocumentNotFound):
        await download(session, d, document.id)
    with pytest.raises(DocumentNotFound):  # deleting twice finds nothing to delete
        await delete(session, d, document.id, reason="again", version=None)
    assert await d.storage.exists(document.storage_key)  # records retention

    entries = await actions(session, document.id)
    assert [e.action for e in entries] == ["document.uploaded", "document.deleted"]
    assert entries[-1].details == {"reason": "wrong patient"}
    assert entries[-1].actor_user_id == d.staff.user_id


async def test_a_portal_user_sees_only_documents_shared_with_them(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    shared = await upload(session, d, PDF, category=DocumentCategory.LAB_RESULT, shared=True)
    private = await upload(session, d, PDF, category=DocumentCategory.LAB_RESULT)
    portal = Actor(kind=ActorKind.PATIENT, organization_id=clinic.id, patient_id=d.patient.id)

    assert await listed(session, d, actor=portal) == [shared.id]
    assert await download(session, d, shared.id, actor=portal) == PDF
    with pytest.raises(DocumentNotFound):
        await download(session, d, private.id, actor=portal)

    stranger = Actor(kind=ActorKind.PATIENT, organization_id=clinic.id, patient_id=uuid.uuid4())
    with pytest.raises(PatientNotFound):
        await listed(session, d, actor=stranger)
    with pytest.raises(PatientNotFound):
        await download(session, d, shared.id, actor=stranger)


async def test_a_document_is_found_only_on_its_own_patients_chart(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    document = await upload(session, d, PDF)
    other = Drawer(d.staff, await register_patient(session, actor=d.staff), d.storage)
    with pytest.raises(DocumentNotFound):
        await download(session, other, document.id)
    assert await listed(session, other) == []


async def test_another_organizations_documents_are_not_found(
    session: AsyncSession, clinic: Organization, tmp_path: Path
) -> None:
    d = await open_drawer(session, clinic, tmp_path)
    other_org = await create_org(session, "Clinic B", mfa_required_for_admins=False)
    theirs = await open_drawer(session, other_org, tmp_path)
    their_document = await upload(session, theirs, PDF)
    await session.commit()
    session.expunge_all()  # as a new request: nothing of organization B in memory
    await scope_to_tenant(session, clinic.id)

    with pytest.raises(DocumentNotFound):
        await download(session, d, their_document.id)
    with pytest.raises(DocumentNotFound):
        await delete(session, d, their_document.id, reason="not ours", version=None)
    intruder = Drawer(d.staff, theirs.patient, d.storage)
    with pytest.raises(PatientNotFound):
        await listed(session, intruder)
    with pytest.raises(PatientNotFound):
        await download(session, intruder, their_document.id)
