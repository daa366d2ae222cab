"""Vital signs as FHIR Observation-like rows: one row per measurement, the measurements
typed together sharing a ``set_id``; and the organization's clinical settings (the unit
system its staff type and read vitals in)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped


class Observation(Base, Entity, TenantScoped):
    """One measurement of a vital sign (LOINC ``code``), stored in its UCUM ``unit``
    (always metric: cm, kg, kg/m2, Cel, /min, mm[Hg], %, {score}).

    ``value`` is a Decimal, never a float in Python: PostgreSQL stores it as NUMERIC;
    SQLite has no decimal type, keeps it with NUMERIC affinity and SQLAlchemy reads it
    back rounded to the column's 3 places, which every stored value fits exactly.

    A blood pressure is two rows (systolic 8480-6, diastolic 8462-4) of the same set;
    BMI (39156-5) is computed from the set's height and weight and stored with them.
    ``encounter_id`` is empty when a nurse records vitals outside a consultation.

    Nothing is deleted: a wrong row is marked ``entered-in-error`` with the reason and
    disappears from the latest set and the trends, but stays on the record.
    ``interpretation``: N / L / H for the patient's age on the day it was measured, or
    empty where no range applies (height, weight).
    """

    __tablename__ = "observations"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT"), default=None
    )
    set_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal] = mapped_column(Numeric(9, 3))
    unit: Mapped[str] = mapped_column(String(16))
    interpretation: Mapped[str | None] = mapped_column(String(2), default=None)
    effective_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="final")
    error_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        # A patient's series of one code over time (trends, the latest weight); its
        # patient_id prefix also serves the latest set and a patient merge.
        Index("ix_observations_patient_code_effective", "patient_id", "code", "effective_at"),
        # The rows of one set (the latest set shown, entered-in-error of a pair).
        Index("ix_observations_set_id", "set_id"),
    )


class ClinicalSettings(Base, Entity, TenantScoped):
    """The organization's clinical settings: for now the unit system its staff type and
    read vitals in. One row per organization, written the first time an admin saves."""

    __tablename__ = "clinical_settings"

    unit_system: Mapped[str] = mapped_column(String(8), default="metric")

    __table_args__ = (UniqueConstraint("organization_id"),)
