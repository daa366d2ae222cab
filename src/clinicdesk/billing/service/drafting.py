"""A finished consultation drafts its invoice (the reaction to
``clinical.public.encounter_finished``, in the finishing transaction).

Lines: the visit type's default fee (the appointment's type, or the queue visit's) and
each order of the consultation whose catalogue test has a fee, at the prices in force on
the day it finished. A consultation with nothing priced drafts nothing (the desk makes the
invoice by hand), and a consultation that already has an invoice is left alone, so a
signal sent twice never drafts two.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.errors import CurrencyRefused
from clinicdesk.billing.models import FeeItem, Invoice, InvoiceLine
from clinicdesk.billing.service.common import audit_invoice, books, recompute
from clinicdesk.billing.service.fee_schedule import price_of
from clinicdesk.billing.service.invoices import new_draft
from clinicdesk.billing.vocabulary import LineSource
from clinicdesk.clinical import public as clinical
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling


async def _visit_type(session: AsyncSession, encounter: clinical.Encounter) -> uuid.UUID | None:
    if encounter.appointment_id is not None:
        appointment = await scheduling.get_appointment(session, encounter.appointment_id)
        return appointment.type_id
    if encounter.visit_id is not None:
        return (await queue.get_visit(session, encounter.visit_id)).type_id
    return None


def _line_of(item: FeeItem, *, source: LineSource, order_id: uuid.UUID | None) -> InvoiceLine:
    return InvoiceLine(
        source=source,
        order_id=order_id,
        fee_item_id=item.id,
        code=item.code,
        billing_code=item.billing_code,
        name=item.name,
        quantity=Decimal(1),
        unit_price=item.unit_price,
        tax_rates=item.tax_rates,
    )


async def draft_for_encounter(
    session: AsyncSession, finished: clinical.EncounterFinished
) -> Invoice | None:
    """The draft of the finished consultation, or None when there is nothing to bill."""
    existing = await session.scalar(
        select(Invoice.id).where(Invoice.encounter_id == finished.encounter_id).limit(1)
    )
    if existing is not None:
        return None
    encounter = await clinical.find_encounter(session, finished.encounter_id)
    try:
        ledger = await books(session)
    except CurrencyRefused:
        # The consultation must finish all the same; the desk bills it by hand once the
        # organization's currency is set.
        return None
    day = ledger.today(encounter.finished_at)
    found: list[InvoiceLine] = []
    type_id = await _visit_type(session, encounter)
    if type_id is not None:
        fee = await price_of(session, day=day, appointment_type_id=type_id)
        if fee is not None and fee.currency == ledger.currency:
            found.append(_line_of(fee, source=LineSource.VISIT_TYPE, order_id=None))
    for order in await clinical.orders_to_bill(session, encounter.id):
        if order.catalogue_item_id is None:
            continue
        fee = await price_of(session, day=day, catalogue_item_id=order.catalogue_item_id)
        if fee is not None and fee.currency == ledger.currency:
            found.append(_line_of(fee, source=LineSource.ORDER, order_id=order.id))
    if not found:
        return None
    invoice = await new_draft(
        session,
        actor=finished.actor,
        patient_id=encounter.patient_id,
        encounter_id=encounter.id,
        location_id=encounter.location_id,
    )
    for position, line in enumerate(found, start=1):
        line.invoice_id, line.position = invoice.id, position
        session.add(line)
    await session.flush()
    await recompute(session, invoice)
    await audit_invoice(
        session,
        actor=finished.actor,
        action="invoice.drafted",
        invoice=invoice,
        before=None,
        details={"from": "encounter_finished", "lines": len(found)},
    )
    return invoice
