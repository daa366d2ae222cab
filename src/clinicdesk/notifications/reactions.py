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

import uuid
from collections.abc import Mapping
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from clinicdesk.clinical.public import ResultsEntered, results_entered
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.alert_models import StaffAlert
from clinicdesk.notifications.alert_schemas import AlertKind
from clinicdesk.notifications.risk_model import HIGH_RISK
from clinicdesk.notifications.service import patient_merge, planning, risk, turns
from clinicdesk.notifications.service.alerts import notify_staff
from clinicdesk.patients import public as patients
from clinicdesk.patients.public import PatientMerged, move_records, patient_merged
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.public import WaitlistOfferAccepted, waitlist_offer_accepted

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


# The front desk's inbox: the role whose members hear of the day's bookings.
FRONT_DESK = Role.RECEPTIONIST.value


async def _name(session: AsyncSession, patient_id: uuid.UUID) -> str:
    patient = (await patients.patients_by_id(session, {patient_id})).get(patient_id)
    return patient.display_name if patient is not None else "A patient"


async def slot_taken(session: AsyncSession, accepted: WaitlistOfferAccepted) -> None:
    """A waitlist offer was accepted: the front desk sees the slot is taken."""
    name = await _name(session, accepted.patient_id)
    await notify_staff(
        session,
        kind=AlertKind.WAITLIST_SLOT_TAKEN,
        title=f"Waitlist slot taken: {name}",
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
        title=f"{urgent or 'Result'} to review: {entered.order_name} — {name}",
        body=f"{entered.count} {results} entered, waiting for your sign-off.",
        link=f"/orders/{entered.order_id}",
        patient_id=entered.patient_id,
        user_id=orderer,
    )


async def move_alerts_to_kept_patient(
    session: AsyncSession, merge: PatientMerged
) -> Mapping[str, int]:
    """Alerts about the duplicate follow the kept record (so a restricted kept record
    hides them too)."""
    column = cast("InstrumentedAttribute[uuid.UUID]", StaffAlert.patient_id)
    return await move_records(session, merge, ((column, "staff_alert"),))


def connect() -> None:
    scheduling.appointment_changed.connect(plan_appointment_messages)
    scheduling.waitlist_offered.connect(tell_waitlist_offer)
    queue.queue_moved.connect(check_turns_later)
    waitlist_offer_accepted.connect(slot_taken)
    results_entered.connect(results_to_review)
    patient_merged.connect(patient_merge.move_to_kept_patient)
    patient_merged.connect(move_alerts_to_kept_patient)
