"""The demo clinic's fee schedule: what a small US family practice charges a self-paying
patient, so that a consultation finished in the demo drafts its invoice (the visit
type's fee and the priced tests) and the checkout has something to take payment for.

Prices are illustrative self-pay prices in US dollars (the demo organization's currency)
with the CPT code a clinic would print beside each (CPT is a trademark of the AMA; the
codes are given as a clinic's own billing codes, with no descriptors copied). Medical
services and tests are not taxed; the few supplies sold over the desk carry the sales
tax of New York City (4% state, 4.5% city, 0.375% transportation district: 8.875%).
Every price applies from the first of January of last year, so the month of demo
history and today's consultations find it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.schemas import FeeItemCreate, TaxRate
from clinicdesk.billing.service import fee_schedule
from clinicdesk.clinical.models import TestCatalogueItem
from clinicdesk.core.actor import Actor
from clinicdesk.scheduling.models import AppointmentType

NYC_SALES_TAX = TaxRate(name="NYC sales tax", rate=Decimal("8.875"))


@dataclass(frozen=True, slots=True)
class DemoFee:
    code: str
    name: str
    cents: int
    cpt: str | None = None
    appointment_type: str | None = None  # the demo type whose default fee it is
    catalogue_test: str | None = None  # the demo catalogue test it prices
    taxed: bool = False


FEES: tuple[DemoFee, ...] = (
    # Consultations: each demo appointment type's default fee.
    DemoFee("NP-30", "New patient visit, 30 min", 18000, "99203", appointment_type="New patient"),
    DemoFee("FU-15", "Follow-up visit, 15 min", 11000, "99213", appointment_type="Follow-up"),
    DemoFee("SICK-20", "Sick visit, 20 min", 12500, "99213", appointment_type="Sick visit"),
    DemoFee(
        "PHYS-45", "Annual physical, adult", 25000, "99396", appointment_type="Annual physical"
    ),
    DemoFee("VAX-ADM", "Vaccine administration", 3500, "90471", appointment_type="Vaccination"),
    # Tests of the catalogue (the blood is drawn here and sent to the laboratory).
    DemoFee("LAB-K", "Potassium", 1800, "84132", catalogue_test="Potassium"),
    DemoFee("LAB-NA", "Sodium", 1800, "84295", catalogue_test="Sodium"),
    DemoFee("LAB-GLU", "Glucose", 1500, "82947", catalogue_test="Glucose"),
    DemoFee("LAB-CREA", "Creatinine", 1700, "82565", catalogue_test="Creatinine"),
    DemoFee("LAB-HGB", "Hemoglobin", 1200, "85018", catalogue_test="Hemoglobin"),
    DemoFee("LAB-A1C", "Hemoglobin A1c", 3500, "83036", catalogue_test="Hemoglobin A1c"),
    DemoFee("LAB-TSH", "TSH", 4500, "84443", catalogue_test="TSH"),
    DemoFee("LAB-WBC", "White blood cell count", 1200, "85048", catalogue_test="White blood cells"),
    DemoFee("LAB-PLT", "Platelet count", 1200, "85049", catalogue_test="Platelets"),
    DemoFee(
        "RAD-CXR2", "Chest X-ray, 2 views", 9500, "71046", catalogue_test="Chest X-ray, 2 views"
    ),
    # Procedures added at checkout.
    DemoFee("PROC-VEN", "Venipuncture", 1000, "36415"),
    DemoFee("PROC-ECG", "ECG, 12-lead, with report", 6000, "93000"),
    DemoFee("PROC-NEB", "Nebulizer treatment", 4000, "94640"),
    DemoFee("PROC-WOUND", "Simple wound repair, up to 2.5 cm", 15000, "12001"),
    DemoFee("PROC-EAR", "Ear wax removal", 7500, "69210"),
    DemoFee("VAX-FLU", "Influenza vaccine, adult dose", 4000, "90686"),
    # Supplies sold at the desk: taxed.
    DemoFee("SUP-BANDAGE", "Elastic bandage", 850, taxed=True),
    DemoFee("SUP-COLD", "Instant cold pack", 600, taxed=True),
    DemoFee("SUP-SPLINT", "Wrist splint", 2400, taxed=True),
)


async def seed_demo_fee_schedule(session: AsyncSession, *, admin: Actor, today: date) -> int:
    """The fees above, added by the administrator and linked to the demo's appointment
    types and catalogue tests (which must exist already); how many."""
    found_types = await session.execute(select(AppointmentType.name, AppointmentType.id))
    types: dict[str, uuid.UUID] = dict(found_types.all())
    found_tests = await session.execute(select(TestCatalogueItem.name, TestCatalogueItem.id))
    tests: dict[str, uuid.UUID] = dict(found_tests.all())
    since = date(today.year - 1, 1, 1)
    for fee in FEES:
        type_id: uuid.UUID | None = types[fee.appointment_type] if fee.appointment_type else None
        test_id: uuid.UUID | None = tests[fee.catalogue_test] if fee.catalogue_test else None
        await fee_schedule.create_fee_item(
            session,
            actor=admin,
            data=FeeItemCreate(
                code=fee.code,
                billing_code=fee.cpt,
                name=fee.name,
                unit_price=fee.cents,
                tax_rates=[NYC_SALES_TAX] if fee.taxed else [],
                active_from=since,
                appointment_type_id=type_id,
                catalogue_item_id=test_id,
            ),
        )
    return len(FEES)
