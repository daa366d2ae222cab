"""Notifications' handlers of other domains' signals, connected when the application is
built, each in the transaction of the change (a rolled-back change plans no message and
raises no alert):

* an appointment's change plans or withdraws the patient's messages (scored for no-show
  risk first); a waitlist offer is told to the patient; a step in the queue asks whose
  turn is near;
* the staff's alerts other domains' changes raise (a waitlist slot taken, results to
  review);
* a patient merge moves messages, replies, contact wishes and alerts to the kept record.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.public import results_entered
from clinicdesk.notifications.risk_model import HIGH_RISK
from clinicdesk.notifications.service import desk_alerts, patient_merge, planning, risk, turns
from clinicdesk.patients.public import patient_merged
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling

# A booking or a move gets its no-show risk first: a high one plans an extra reminder.
SCORED_ACTIONS = frozenset({"booked", "rescheduled", "undone"})


async def plan_appointment_messages(
    session: AsyncSession, changed: scheduling.AppointmentChanged
) -> None:
    high_risk = False
    if changed.action in SCORED_ACTIONS:
        high_risk = await risk.score(session, changed.appointment_id) >= HIGH_RISK
    await planning.on_appointment_changed(
        session,
        actor=changed.actor,
        appointment_id=changed.appointment_id,
        action=changed.action,
        high_risk=high_risk,
    )


async def tell_waitlist_offer(session: AsyncSession, offered: scheduling.WaitlistOffered) -> None:
    await planning.on_waitlist_offered(session, actor=offered.actor, entry_id=offered.entry_id)


async def check_turns_later(session: AsyncSession, moved: queue.QueueMoved) -> None:
    await turns.queue_moved(session, moved.location_id)


def connect() -> None:
    scheduling.appointment_changed.connect(plan_appointment_messages)
    scheduling.waitlist_offered.connect(tell_waitlist_offer)
    queue.queue_moved.connect(check_turns_later)
    scheduling.waitlist_offer_accepted.connect(desk_alerts.slot_taken)
    results_entered.connect(desk_alerts.results_to_review)
    patient_merged.connect(patient_merge.move_to_kept_patient)
