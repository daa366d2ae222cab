"""The patient's own billing in the portal: their issued invoices, credit notes and
balance, and each document as PDF.

The patient always comes from the signed-in actor, never from the request. Another
patient's invoice, and a draft (not an invoice yet), do not exist for them (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import CreditNoteNotFound, InvoiceNotFound
from clinicdesk.billing.models import CreditNote, Invoice
from clinicdesk.billing.service import credit
from clinicdesk.billing.service.documents import (
    CreditNoteDocument,
    InvoiceDocument,
    Letterhead,
    credit_note_document,
    invoice_document,
    letterhead,
)
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.patients import public as patients

PAGE_SIZE = 25


def own_patient(actor: Actor) -> uuid.UUID:
    if actor.patient_id is None:
        raise InvoiceNotFound("This account is not linked to a patient record.")
    return actor.patient_id


async def balance(session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID) -> int:
    """What the patient owes, in minor units of the organization's currency: the balance
    service's (``credit.balance``): what their issued invoices still ask (credit notes
    and payments already lower each one's amount due) less the credit they hold (money
    paid beyond what was owed). Negative: the clinic holds their money."""
    return (await credit.balance(session, actor=actor, patient_id=patient_id)).balance


@dataclass(frozen=True, slots=True)
class PortalBilling:
    head: Letterhead
    invoices: Sequence[Invoice]
    credit_notes: dict[uuid.UUID, list[CreditNote]]  # by invoice
    balance: int
    next_cursor: str | None


async def my_billing(
    session: AsyncSession, *, actor: Actor, cursor: str | None = None
) -> PortalBilling:
    """The signed-in patient's issued invoices, newest first, a page at a time, with
    their credit notes and the balance."""
    patient_id = own_patient(actor)
    await patients.get_patient(session, patient_id, actor=actor, follow_merge=False)
    offset = decode_cursor(cursor)
    found = list(
        await session.scalars(
            select(Invoice)
            .where(Invoice.patient_id == patient_id, Invoice.status != InvoiceStatus.DRAFT)
            .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    notes: dict[uuid.UUID, list[CreditNote]] = {}
    if found:
        for note in await session.scalars(
            select(CreditNote)
            .where(CreditNote.invoice_id.in_([i.id for i in found]))
            .order_by(CreditNote.number_year, CreditNote.number_seq)
        ):
            notes.setdefault(note.invoice_id, []).append(note)
    await audit.record_read(
        session, actor=actor, patient_id=patient_id, view="portal invoices", resource_type="invoice"
    )
    return PortalBilling(
        head=await letterhead(session, location_id=None),
        invoices=found,
        credit_notes=notes,
        balance=await balance(session, actor=actor, patient_id=patient_id),
        next_cursor=encode_cursor(offset + PAGE_SIZE) if more else None,
    )


async def my_invoice(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID
) -> InvoiceDocument:
    """One of the patient's own issued invoices, to download."""
    own_patient(actor)
    document = await invoice_document(session, invoice_id, actor=actor)
    if document.draft or document.invoice.patient_id != actor.patient_id:
        raise InvoiceNotFound("No invoice with this id.")
    return document


async def my_credit_note(
    session: AsyncSession, *, actor: Actor, credit_note_id: uuid.UUID
) -> CreditNoteDocument:
    own_patient(actor)
    document = await credit_note_document(session, credit_note_id, actor=actor)
    if document.note.patient_id != actor.patient_id:
        raise CreditNoteNotFound("No credit note with this id.")
    return document
