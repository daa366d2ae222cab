"""The demo clinic's laboratory history: the consultations whose reason calls for blood
tests (a diabetes review, an annual physical, tiredness, a review of results) ordered
them from the demo catalogue, and the results came back a day or two later, flagged
against the catalogue's ranges for the patient's sex and age as entered results are.

Results of the last few days wait in the doctors' inboxes, unreviewed (some abnormal,
so the inbox's order shows); older ones are signed off. Like the consultations, these
are plain rows without audit entries: history from before the demo existed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.kernel.order_flow import OrderStatus
from clinicdesk.clinical.kernel.result_flags import flag_for, pick_band
from clinicdesk.clinical.models import Encounter, Order, Result, TestCatalogueItem
from clinicdesk.clinical.service.catalogue import bands_of
from clinicdesk.clinical.service.results import age_on
from clinicdesk.clinical.vocabulary import EncounterStatus
from clinicdesk.core.models import utcnow
from clinicdesk.patients.models import Patient
from clinicdesk.scheduling.models import Provider

Value = Callable[[random.Random], float]


def _between(low: float, high: float) -> Value:
    return lambda rng: rng.uniform(low, high)


# Test name (as in ``orders._TESTS``) -> how its value is drawn, per reason for the visit.
# A diabetes review is mostly above target; the rest mostly within range.
PANELS: dict[str, dict[str, Value]] = {
    "Diabetes review": {
        "Hemoglobin A1c": _between(6.2, 8.9),
        "Glucose": _between(105, 190),
        "Creatinine": _between(0.7, 1.4),
        "Potassium": _between(3.8, 5.0),
    },
    "Annual physical": {
        "Glucose": _between(76, 104),
        "Sodium": _between(136, 144),
        "Potassium": _between(3.6, 5.0),
        "Creatinine": _between(0.6, 1.2),
        "Hemoglobin": _between(11.6, 16.5),
    },
    "Tiredness and low mood, follow-up": {
        "TSH": _between(0.8, 6.5),
        "Hemoglobin": _between(10.8, 15.0),
        "White blood cells": _between(4.8, 10.5),
    },
    "Review of blood results": {
        "Potassium": _between(3.4, 5.3),
        "Sodium": _between(133, 143),
        "Creatinine": _between(0.7, 1.5),
    },
}
PANEL_ALIASES = {
    "Diabetes follow-up": "Diabetes review",
    "Annual physical and fasting labs": "Annual physical",
    "Review lab results": "Review of blood results",
}
ADULT = 18
INBOX_DAYS = 3  # results newer than this wait for the doctor's sign-off


def _decimals(name: str) -> int:
    return 0 if name in ("Glucose", "Sodium") else 1 if name != "Creatinine" else 2


async def seed_demo_results(session: AsyncSession, *, seed: int = 20_261_206) -> int:
    """One order with its results per finished consultation whose reason has a panel;
    how many results."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    catalogue = {item.name: item for item in await session.scalars(select(TestCatalogueItem))}
    authors = {
        row.id: row.user_id for row in await session.execute(select(Provider.id, Provider.user_id))
    }
    encounters = (
        await session.execute(
            select(Encounter, Patient)
            .join(Patient, Patient.id == Encounter.patient_id)
            .where(Encounter.status == EncounterStatus.FINISHED)
            .order_by(Encounter.started_at)
        )
    ).all()
    now = utcnow()
    written = 0
    for encounter, patient in encounters:
        panel = PANELS.get(PANEL_ALIASES.get(encounter.reason or "", encounter.reason or ""))
        if panel is None or age_on(patient.birth_date, encounter.started_at.date()) < ADULT:
            continue  # the panels and the catalogue's ranges are for adults
        doctor_id = authors.get(encounter.provider_id)
        ordered_at = encounter.started_at + timedelta(minutes=12)
        resulted_at = ordered_at + timedelta(hours=rng.randint(20, 44))
        if resulted_at > now:
            continue  # today's consultations' samples are still at the laboratory
        reviewed = resulted_at < now - timedelta(days=INBOX_DAYS)
        for name, draw in panel.items():
            item = catalogue.get(name)
            if item is None:
                continue
            order = _order(encounter, item, doctor_id, ordered_at, resulted_at, reviewed)
            session.add(order)
            await session.flush()
            session.add(_result(order, item, patient, draw(rng), doctor_id, resulted_at))
            written += 1
    await session.flush()
    return written


def _order(
    encounter: Encounter,
    item: TestCatalogueItem,
    doctor_id: uuid.UUID | None,
    ordered_at: datetime,
    resulted_at: datetime,
    reviewed: bool,
) -> Order:
    return Order(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        kind=item.kind,
        catalogue_item_id=item.id,
        name=item.name,
        code=item.code,
        status=OrderStatus.REVIEWED if reviewed else OrderStatus.RESULTED,
        ordered_by_id=doctor_id,
        ordered_at=ordered_at,
        collected_at=ordered_at + timedelta(minutes=5),
        collected_by_id=doctor_id,
        resulted_at=resulted_at,
        reviewed_at=resulted_at + timedelta(hours=6) if reviewed else None,
    )


def _result(
    order: Order,
    item: TestCatalogueItem,
    patient: Patient,
    drawn: float,
    doctor_id: uuid.UUID | None,
    resulted_at: datetime,
) -> Result:
    value = Decimal(str(round(drawn, _decimals(item.name))))
    band = pick_band(
        bands_of(item),
        sex=patient.sex_at_birth,
        age_years=age_on(patient.birth_date, resulted_at.date()),
    )
    flag = flag_for(value, band.limits) if band is not None else None
    return Result(
        order_id=order.id,
        patient_id=order.patient_id,
        analyte=item.name,
        code=item.code,
        value_numeric=value,
        unit=item.default_unit,
        reference_low=band.limits.low if band is not None else None,
        reference_high=band.limits.high if band is not None else None,
        flag=flag,
        resulted_at=resulted_at,
        entered_by_id=doctor_id,
        reviewed_at=order.reviewed_at,
        reviewed_by_id=doctor_id if order.reviewed_at is not None else None,
    )
