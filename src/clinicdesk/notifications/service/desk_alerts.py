"""What the front desk hears from patient messaging, as in-app alerts to the receptionist
role: a reply a person must read (a call-back request, an answer the system did not
understand, a cancellation by text) and a message that could not be delivered (the
patient may not know about their appointment; someone should call)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.alert_schemas import AlertKind
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.alerts import notify_staff
from clinicdesk.notifications.vocabulary import CHANNEL_LABELS, PURPOSE_LABELS, ReplyAction
from clinicdesk.patients.public import patients_by_id

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
