"""The staff alerts other changes raise (``notify_staff``), in the change's transaction:

* to the front desk (the receptionist role): a patient's reply a person must read (a
  call-back request, an answer the system did not understand, a cancellation by text),
  a message that could not be delivered (someone should call), a waitlist slot taken;
* to the doctor who ordered a test: its results to review.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.public import ResultsEntered
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.alert_schemas import AlertKind
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.alerts import notify_staff
from clinicdesk.notifications.vocabulary import CHANNEL_LABELS, PURPOSE_LABELS, ReplyAction
from clinicdesk.patients.public import patients_by_id
from clinicdesk.scheduling.public import WaitlistOfferAccepted

# The front desk's inbox: the role whose members hear of the day's bookings.
FRONT_DESK = Role.RECEPTIONIST.value
QUOTED = 120
TITLE_MAX = 200


async def _name(session: AsyncSession, patient_id: uuid.UUID) -> str:
    patient = (await patients_by_id(session, {patient_id})).get(patient_id)
    return patient.display_name if patient is not None else "A patient"


async def tell_desk_of_reply(
    session: AsyncSession, *, patient_id: uuid.UUID, action: ReplyAction, body: str
) -> None:
    """A reply that needs a person (confirmations and opt-outs need nobody)."""
    name = await _name(session, patient_id)
    quoted = " ".join(body.split())[:QUOTED]
    titles = {
        ReplyAction.CALL_BACK: f"{name} asks for a call back",
        ReplyAction.CANCELLED: f"{name} cancelled by text",
        ReplyAction.TO_INBOX: f"{name} replied: “{quoted}”",
    }
    if action not in titles:
        return
    await notify_staff(
        session,
        kind=AlertKind.PATIENT_REPLIED,
        title=titles[action][:TITLE_MAX],
        body=f"Their message: “{quoted}”" if action != ReplyAction.TO_INBOX else None,
        link=f"/patients/{patient_id}",
        patient_id=patient_id,
        role=FRONT_DESK,
    )


async def tell_desk_of_failure(session: AsyncSession, message: Message) -> None:
    """A message to a patient could not be delivered (not for tests with no patient)."""
    if message.patient_id is None:
        return
    name = await _name(session, message.patient_id)
    what = PURPOSE_LABELS.get(message.purpose, message.purpose)
    channel = CHANNEL_LABELS.get(message.channel, message.channel)
    await notify_staff(
        session,
        kind=AlertKind.MESSAGE_FAILED,
        title=f"{what} to {name} by {channel} failed"[:TITLE_MAX],
        body=message.last_error or message.status_reason,
        link=f"/admin/messages/{message.id}",
        patient_id=message.patient_id,
        role=FRONT_DESK,
    )


async def slot_taken(session: AsyncSession, accepted: WaitlistOfferAccepted) -> None:
    """A waitlist offer was accepted: the front desk sees the slot is taken."""
    name = await _name(session, accepted.patient_id)
    await notify_staff(
        session,
        kind=AlertKind.WAITLIST_SLOT_TAKEN,
        title=f"Waitlist slot taken: {name}"[:TITLE_MAX],
        body="A waitlist offer was accepted and the appointment is booked.",
        link=f"/calendar/appointments/{accepted.appointment_id}",
        patient_id=accepted.patient_id,
        role=FRONT_DESK,
    )


async def results_to_review(session: AsyncSession, entered: ResultsEntered) -> None:
    """Results came in: the doctor who ordered the test has them to review (not when
    they entered the results themselves: they have just read them)."""
    orderer = entered.ordered_by_id
    if orderer is None or orderer == entered.actor.user_id:
        return
    name = await _name(session, entered.patient_id)
    urgent = {"critical": "Critical result", "abnormal": "Abnormal result"}.get(entered.urgency)
    results = "result" if entered.count == 1 else "results"
    await notify_staff(
        session,
        kind=AlertKind.RESULT_TO_REVIEW,
        title=f"{urgent or 'Result'} to review: {entered.order_name} — {name}"[:TITLE_MAX],
        body=f"{entered.count} {results} entered, waiting for your sign-off.",
        link=f"/orders/{entered.order_id}",
        patient_id=entered.patient_id,
        user_id=orderer,
    )
