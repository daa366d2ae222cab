"""Billing's handlers of signals, connected when the application is built: a finished
consultation drafts its invoice; a patient merge moves invoices and credit notes."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.claim_models import Claim
from clinicdesk.billing.models import CreditNote, Invoice
from clinicdesk.billing.payment_models import Payment, Refund
from clinicdesk.billing.service import drafting
from clinicdesk.clinical.public import EncounterFinished, encounter_finished
from clinicdesk.patients.public import PatientMerged, move_records, patient_merged

# Every billing table that points at a patient, with the noun its audit entries use.
MERGED_WITH_PATIENT = (
    (Invoice.patient_id, "invoice"),
    (CreditNote.patient_id, "credit_note"),
    (Payment.patient_id, "payment"),
    (Refund.patient_id, "refund"),
    (Claim.patient_id, "claim"),
)


async def draft_invoice(session: AsyncSession, finished: EncounterFinished) -> None:
    await drafting.draft_for_encounter(session, finished)


async def move_to_kept_patient(session: AsyncSession, merge: PatientMerged) -> Mapping[str, int]:
    """The duplicate's invoices follow the kept record: who was billed does not change,
    only which of the two records names them (each moved row audited)."""
    return await move_records(session, merge, MERGED_WITH_PATIENT)


def connect() -> None:
    encounter_finished.connect(draft_invoice)
    patient_merged.connect(move_to_kept_patient)
