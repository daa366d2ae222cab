"""The encounter: one consultation of one patient with one provider (FHIR Encounter)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.clinical.vocabulary import EncounterKind, EncounterStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped


class Encounter(Base, Entity, TenantScoped):
    """A consultation: in the clinic from the queue or an appointment, or ad hoc (a phone
    call, a video visit, a home visit). Everything written during it (vitals, the note,
    diagnoses, prescriptions, orders) points here.

    ``visit_id``: the queue's visit it follows, at most one encounter per visit, so a
    repeated start signal finds the same encounter. ``open_reason``: why a finished visit
    left it open (an unsigned note), shown on the doctor's home until it is closed.
    """

    __tablename__ = "encounters"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), default=None
    )
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("visits.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(16), default=EncounterKind.IN_PERSON)
    status: Mapped[str] = mapped_column(String(20), default=EncounterStatus.IN_PROGRESS)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    open_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    started_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        UniqueConstraint("visit_id"),
        # A patient's consultations, newest first (the chart); also the patient look-up.
        Index("ix_encounters_patient_started", "patient_id", "started_at"),
        Index("ix_encounters_provider_status", "provider_id", "status"),
    )
