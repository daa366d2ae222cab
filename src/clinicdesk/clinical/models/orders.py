"""Lab and imaging orders, their results, and the organization's catalogue of tests.

No package ships LOINC under a licence we can redistribute, so a test is either picked
from the organization's own catalogue (which may carry a code, LOINC or the lab's own)
or typed as free text; the order keeps the name and code it was placed with, so a later
change to the catalogue does not rewrite what was ordered.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.clinical.kernel.order_flow import OrderPriority, OrderStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

# Lab values: exact decimals, never binary floats ("5.1" stays 5.1). 18 digits with 6
# after the point holds every analyte a clinic sees (from 0.000001 to 10^12).
LabValue = Numeric(precision=18, scale=6)


class TestCatalogueItem(Base, Entity, TenantScoped):
    """A test the clinic orders, with its default unit and reference ranges.

    ``ranges``: a list of ``{"sex", "age_from", "age_to", "low", "high",
    "critical_low", "critical_high"}`` (decimals as strings), the bands
    ``kernel.result_flags.pick_band`` chooses from; checked by the schema on the way in.
    """

    __tablename__ = "test_catalogue"
    __test__ = False  # a table, not a pytest class

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    default_unit: Mapped[str | None] = mapped_column(String(40), default=None)
    ranges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reference_text: Mapped[str | None] = mapped_column(String(200), default=None)
    notes: Mapped[str | None] = mapped_column(String(1000), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (UniqueConstraint("organization_id", "name"),)


class Order(Base, Entity, TenantScoped):
    """A test asked for during a consultation. ``name``/``code`` are the catalogue's at
    the time of ordering, or the free text typed (``catalogue_item_id`` empty)."""

    __tablename__ = "clinical_orders"

    encounter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    catalogue_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("test_catalogue.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    priority: Mapped[str] = mapped_column(String(16), default=OrderPriority.ROUTINE)
    clinical_note: Mapped[str | None] = mapped_column(String(1000), default=None)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.ORDERED)
    ordered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    ordered_at: Mapped[datetime]
    collected_at: Mapped[datetime | None] = mapped_column(default=None)
    collected_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    resulted_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(300), default=None)

    __table_args__ = (
        Index("ix_clinical_orders_encounter", "encounter_id"),
        Index("ix_clinical_orders_patient", "patient_id", "ordered_at"),
        # The doctor's inbox: their orders with results waiting.
        Index("ix_clinical_orders_orderer_status", "ordered_by_id", "status"),
    )


class Result(Base, Entity, TenantScoped):
    """One analyte's value (or an imaging report's conclusion) of an order, with the
    reference range it was read against and the flag that range gave it."""

    __tablename__ = "clinical_results"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clinical_orders.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    analyte: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    value_numeric: Mapped[Decimal | None] = mapped_column(LabValue, default=None)
    value_text: Mapped[str | None] = mapped_column(Text, default=None)
    unit: Mapped[str | None] = mapped_column(String(40), default=None)
    reference_low: Mapped[Decimal | None] = mapped_column(LabValue, default=None)
    reference_high: Mapped[Decimal | None] = mapped_column(LabValue, default=None)
    reference_text: Mapped[str | None] = mapped_column(String(200), default=None)
    flag: Mapped[str | None] = mapped_column(String(4), default=None)
    resulted_at: Mapped[datetime]
    entered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    review_comment: Mapped[str | None] = mapped_column(String(500), default=None)

    __table_args__ = (
        Index("ix_clinical_results_order", "order_id"),
        # A patient's series of one analyte (the trend table).
        Index("ix_clinical_results_patient_analyte", "patient_id", "analyte", "resulted_at"),
    )
