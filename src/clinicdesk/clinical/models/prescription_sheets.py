"""A printed prescription: the sheet a patient takes to the pharmacy, with the code a
pharmacist checks on the public verification page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped


class PrescriptionSheet(Base, Entity, TenantScoped):
    """One print of a consultation's active prescriptions.

    What the verification page shows is copied here when the sheet is issued (the
    prescriber's name and licence, the clinic, the patient's initials), so the public
    page reads no patient record and shows what was printed even if those change later.
    ``code``: the verification code printed on the sheet and in its QR (60 random bits);
    anyone holding the paper may check it, so it reveals nothing beyond what is printed.
    ``replaced_at``: a later print of the same consultation replaced this one (only the
    newest sheet is valid, so a second paper cannot be dispensed twice).
    """

    __tablename__ = "prescription_sheets"

    encounter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    issued_at: Mapped[datetime]
    code: Mapped[str] = mapped_column(String(20))
    prescription_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    patient_initials: Mapped[str] = mapped_column(String(8))
    prescriber_name: Mapped[str] = mapped_column(String(200))
    prescriber_licence: Mapped[str | None] = mapped_column(String(64), default=None)
    clinic_name: Mapped[str] = mapped_column(String(200))
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_prescription_sheets_code", "code", unique=True),
        Index("ix_prescription_sheets_encounter", "encounter_id"),
    )
