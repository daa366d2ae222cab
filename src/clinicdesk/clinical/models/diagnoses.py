"""Diagnoses of an encounter, coded in ICD-10-CM (FHIR Condition with category
encounter-diagnosis, and the Encounter.diagnosis rank)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.clinical.vocabulary import DiagnosisRank, DiagnosisStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

_ACTIVE_PRIMARY = text("rank = 'primary' AND status = 'active'")


class Diagnosis(Base, Entity, TenantScoped):
    """One diagnosis made in a consultation. ``icd10_code`` is empty for an uncoded
    diagnosis (free text the classification has no code for, or a doctor in a hurry):
    its ``description`` says what it is, and it shows as uncoded until coded.

    At most one active primary diagnosis per encounter (a partial unique index repeats
    the service's rule). Nothing is deleted: a wrong one is marked entered-in-error
    with the reason.
    """

    __tablename__ = "encounter_diagnoses"

    encounter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT")
    )
    # The encounter's patient, kept here so a merge moves the row and the problem list
    # offer finds the patient without the encounter.
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    icd10_code: Mapped[str | None] = mapped_column(String(10), default=None)
    description: Mapped[str] = mapped_column(String(300))
    rank: Mapped[str] = mapped_column(String(10), default=DiagnosisRank.SECONDARY)
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
    status: Mapped[str] = mapped_column(String(20), default=DiagnosisStatus.ACTIVE)
    error_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_encounter_diagnoses_encounter", "encounter_id", "status"),
        Index("ix_encounter_diagnoses_patient", "patient_id"),
        Index(
            "uq_encounter_diagnoses_one_primary",
            "encounter_id",
            unique=True,
            sqlite_where=_ACTIVE_PRIMARY,
            postgresql_where=_ACTIVE_PRIMARY,
        ),
    )
