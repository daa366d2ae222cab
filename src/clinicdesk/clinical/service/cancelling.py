"""Cancelling a consultation, or marking it entered in error, ends what it started.

A prescription written in a consultation the patient walked out of was never handed
over; one written for the wrong patient must not stay on that patient's medication list
or verify as valid at a pharmacy. So, in the same transaction as the encounter's change:

* cancelled (the patient left): its active prescriptions are discontinued, its orders
  without results cancelled;
* entered in error (it should never have existed): every prescription is marked entered
  in error, whatever its state, and its orders without results cancelled.

Vitals, notes and diagnoses stay on the record under the encounter's status, which says
why they do not count; results already in stay with their order.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.kernel.order_flow import Step, refusal
from clinicdesk.clinical.models import Encounter, Order
from clinicdesk.clinical.schemas.encounters import EncounterCancel
from clinicdesk.clinical.schemas.prescriptions import PrescriptionStop
from clinicdesk.clinical.service import encounters, orders, prescriptions
from clinicdesk.clinical.vocabulary import PrescriptionStatus
from clinicdesk.core.actor import Actor


async def cancel_consultation(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    data: EncounterCancel,
    expected_version: int | None = None,
) -> Encounter:
    encounter = await encounters.cancel_encounter(
        session,
        actor=actor,
        encounter_id=encounter_id,
        data=data,
        expected_version=expected_version,
    )
    why = "entered in error" if data.entered_in_error else "cancelled"
    reason = f"The consultation was {why}: {data.reason}"[:300]
    for rx in await prescriptions.list_for_encounter_unaudited(session, encounter.id):
        stop = PrescriptionStop(reason=reason)
        if data.entered_in_error and rx.status != PrescriptionStatus.ENTERED_IN_ERROR:
            await prescriptions.mark_entered_in_error(
                session, actor=actor, prescription_id=rx.id, data=stop
            )
        elif not data.entered_in_error and rx.status == PrescriptionStatus.ACTIVE:
            await prescriptions.discontinue(session, actor=actor, prescription_id=rx.id, data=stop)
    placed = await session.scalars(select(Order).where(Order.encounter_id == encounter.id))
    for order in list(placed):
        if refusal(Step.CANCEL, order.status) is None:
            await orders.cancel_order(
                session, actor=actor, order_id=order.id, reason=reason, expected_version=None
            )
    return encounter
