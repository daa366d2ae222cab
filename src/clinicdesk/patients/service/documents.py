"""Patient documents and photos: upload, list, download, soft delete.

The bytes go to the document storage (a private directory or S3) under a key the server
makes up; the row keeps the user's file name only as a label. The type is judged from
the content. If the transaction that records a new document rolls back, the stored
bytes are removed again, so storage never fills with files no record points at.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import on_rollback
from clinicdesk.core.filetypes import HEAD_BYTES, AllowedType, sniff_document_type
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.storage import ContentStream, DocumentStorage
from clinicdesk.patients.errors import DocumentNotFound, UnsupportedDocumentType
from clinicdesk.patients.models import Document, Patient
from clinicdesk.patients.schemas import DocumentMeta
from clinicdesk.patients.service.common import get_patient, get_writable_patient
from clinicdesk.patients.vocabulary import DocumentCategory

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class Upload:
    """An incoming file: its first bytes (for the type check) and then all of it."""

    filename: str
    head: bytes
    chunks: AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class Download:
    document: Document
    content: ContentStream


def _check_category(category: str, allowed: frozenset[str] | None) -> None:
    if allowed is not None and category not in allowed:
        raise DocumentNotFound("No document with this id on this chart.")


def check_type(upload: Upload, category: str) -> AllowedType:
    kind = sniff_document_type(upload.head[:HEAD_BYTES])
    if kind is None:
        raise UnsupportedDocumentType(
            "Only PDF files and images (JPEG, PNG, GIF, WebP, TIFF, HEIC) can be uploaded. "
            "Save or scan the document as a PDF and try again."
        )
    if category == DocumentCategory.PHOTO and kind.mime_type not in IMAGE_TYPES:
        raise UnsupportedDocumentType("A patient photo must be a JPEG, PNG, GIF or WebP image.")
    return kind


async def upload_document(
    session: AsyncSession,
    *,
    actor: Actor,
    storage: DocumentStorage,
    patient_id: uuid.UUID,
    upload: Upload,
    meta: DocumentMeta,
    max_bytes: int,
    allowed_categories: frozenset[str] | None,
) -> Document:
    patient = await get_writable_patient(session, patient_id, actor=actor)
    _check_category(meta.category, allowed_categories)
    kind = check_type(upload, meta.category)
    stored = await storage.save(upload.chunks, max_bytes=max_bytes)

    async def remove_orphan() -> None:
        await storage.delete(stored.key)

    on_rollback(session, remove_orphan)
    filename = (upload.filename or f"document.{kind.extension}")[:255]
    document = Document(
        patient_id=patient.id,
        category=meta.category,
        title=meta.title or filename.rsplit(".", 1)[0][:200] or "Document",
        original_filename=filename,
        content_type=kind.mime_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        uploaded_by_id=actor.user_id,
        shared_with_patient=meta.shared_with_patient,
    )
    session.add(document)
    await session.flush()
    if meta.category == DocumentCategory.PHOTO:
        patient.photo_document_id = document.id
    await audit.record(
        session,
        action="document.uploaded",
        actor=actor,
        resource_type="document",
        resource_id=document.id,
        patient_id=patient.id,
        details={"category": meta.category, "content_type": kind.mime_type, "size": stored.size},
    )
    return document


async def list_documents(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    allowed_categories: frozenset[str] | None,
    include_deleted: bool = False,
) -> Sequence[Document]:
    patient = await get_patient(session, patient_id, actor=actor)
    statement = select(Document).where(Document.patient_id == patient.id)
    if actor.kind == ActorKind.PATIENT:
        statement = statement.where(Document.shared_with_patient.is_(True))
    if allowed_categories is not None:
        statement = statement.where(Document.category.in_(allowed_categories))
    if not include_deleted:
        statement = statement.where(Document.deleted_at.is_(None))
    return (await session.scalars(statement.order_by(Document.created_at.desc()))).all()


async def _visible_document(
    session: AsyncSession,
    *,
    actor: Actor,
    patient: Patient,
    document_id: uuid.UUID,
    allowed_categories: frozenset[str] | None,
) -> Document:
    document = await session.get(Document, document_id)
    if (
        document is None
        or document.patient_id != patient.id
        or document.deleted_at is not None
        or (actor.kind == ActorKind.PATIENT and not document.shared_with_patient)
    ):
        raise DocumentNotFound("No document with this id on this chart.")
    _check_category(document.category, allowed_categories)
    return document


async def open_document(
    session: AsyncSession,
    *,
    actor: Actor,
    storage: DocumentStorage,
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    allowed_categories: frozenset[str] | None,
    audited: bool = True,
) -> Download:
    """The document's content for download; each download is on the audit trail (the
    patient's photo in the chart header is not: it is part of viewing the chart)."""
    patient = await get_patient(session, patient_id, actor=actor)
    document = await _visible_document(
        session,
        actor=actor,
        patient=patient,
        document_id=document_id,
        allowed_categories=allowed_categories,
    )
    content = await storage.open(document.storage_key)
    if audited:
        await audit.record(
            session,
            action="document.downloaded",
            actor=actor,
            resource_type="document",
            resource_id=document.id,
            patient_id=patient.id,
        )
    return Download(document=document, content=content)


async def delete_document(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
    allowed_categories: frozenset[str] | None,
) -> Document:
    """A soft delete: the row and the bytes stay (records retention), hidden from lists."""
    patient = await get_writable_patient(session, patient_id, actor=actor)
    document = await _visible_document(
        session,
        actor=actor,
        patient=patient,
        document_id=document_id,
        allowed_categories=allowed_categories,
    )
    check_version(document, expected_version)
    document.deleted_at = utcnow()
    document.deleted_by_id = actor.user_id
    document.delete_reason = reason
    if patient.photo_document_id == document.id:
        patient.photo_document_id = None
    await session.flush()
    await audit.record(
        session,
        action="document.deleted",
        actor=actor,
        resource_type="document",
        resource_id=document.id,
        patient_id=patient.id,
        details={"reason": reason},
    )
    return document
