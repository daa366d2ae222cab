"""The clinical domain's handlers of signals, connected when the application is built:
the encounter follows the queue's visit, a patient merge moves clinical rows, and a
booking closes the recall it answers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.models import (
    Diagnosis,
    Encounter,
    Observation,
    Order,
    Prescription,
    PrescriptionSheet,
    Recall,
    Result,
)
from clinicdesk.clinical.service import closing, encounters, recalls
from clinicdesk.patients.public import PatientMerged, move_records, patient_merged
from clinicdesk.queue.public import VisitStarted, visit_finished, visit_started
from clinicdesk.scheduling.public import AppointmentChanged, appointment_changed

# Every clinical table that points at a patient, with the noun its audit entries use.
# A new table joins here; tests/patients/test_merge.py fails while one is forgotten.
MERGED_WITH_PATIENT = (
    (Encounter.patient_id, "encounter"),
    (Observation.patient_id, "observation"),
    (Diagnosis.patient_id, "diagnosis"),
    (Prescription.patient_id, "prescription"),
    (Order.patient_id, "order"),
    (Result.patient_id, "result"),
    (PrescriptionSheet.patient_id, "prescription_sheet"),
    (Recall.patient_id, "recall"),
)


async def open_encounter_for_visit(session: AsyncSession, started: VisitStarted) -> None:
    await encounters.start_for_visit(session, started)


async def move_to_kept_patient(session: AsyncSession, merge: PatientMerged) -> Mapping[str, int]:
    """The duplicate's clinical record (open consultations included) follows the kept
    record, each moved row with its own audit entry."""
    return await move_records(session, merge, MERGED_WITH_PATIENT)


async def close_recall_on_booking(session: AsyncSession, changed: AppointmentChanged) -> None:
    """The patient booked: the recall it answers is closed (its message then stays
    unsent)."""
    if changed.action == "booked":
        await recalls.close_for_booking(
            session, actor=changed.actor, appointment_id=changed.appointment_id
        )


def connect() -> None:
    visit_started.connect(open_encounter_for_visit)
    visit_finished.connect(closing.follow_finished_visit)
    patient_merged.connect(move_to_kept_patient)
    appointment_changed.connect(close_recall_on_booking)
