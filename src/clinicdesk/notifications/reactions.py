"""Notifications' handlers of other domains' signals, connected when the application is
built: an appointment's change plans or withdraws its messages, a waitlist offer is told
to the patient — in the transaction of the change."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.notifications.service import planning
from clinicdesk.scheduling import public as scheduling


async def plan_appointment_messages(
    session: AsyncSession, changed: scheduling.AppointmentChanged
) -> None:
    await planning.on_appointment_changed(
        session, actor=changed.actor, appointment_id=changed.appointment_id, action=changed.action
    )


async def tell_waitlist_offer(session: AsyncSession, offered: scheduling.WaitlistOffered) -> None:
    await planning.on_waitlist_offered(session, actor=offered.actor, entry_id=offered.entry_id)


def connect() -> None:
    scheduling.appointment_changed.connect(plan_appointment_messages)
    scheduling.waitlist_offered.connect(tell_waitlist_offer)
