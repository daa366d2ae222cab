"""Recalls: a follow-up the doctor plans in the chart ("see her again in 6 months"),
which the front desk and the patient's messages act on until it is booked."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.clinical.vocabulary import RecallStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped


class Recall(Base, Entity, TenantScoped):
    """One planned follow-up: due on a day, optionally of an appointment type.

    ``note`` is for staff only: it is never put in a message to the patient (a recall
    message says the clinic and asks them to book, nothing clinical). A recall is open
    until an appointment is booked for it (``booked_appointment_id``) or it is
    cancelled with the reason; nothing is deleted.
    """

    __tablename__ = "recalls"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    # The consultation it was planned in; None when planned from the chart.
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT"), default=None
    )
    due_on: Mapped[date] = mapped_column(Date)
    type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="RESTRICT"), default=None
    )
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(16), default=RecallStatus.OPEN)
    cancel_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    booked_appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_recalls_patient", "patient_id", "status"),
        Index("ix_recalls_status_due", "status", "due_on"),
    )
