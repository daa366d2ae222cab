"""The demo clinic's catalogue of tests: the common ones a family practice orders, so
the consultation's order form has something to pick from.

The ranges are illustrative adult ranges in US conventional units, as printed by many
US laboratories, and the critical limits are commonly used call-back thresholds; each
laboratory prints its own and a clinic sets its own. The codes are LOINC codes (LOINC
is copyright Regenstrief Institute, Inc., free to use under the LOINC licence); the
chest X-ray is left uncoded, as a clinic without the LOINC table would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.schemas.orders import CatalogueItemWrite
from clinicdesk.clinical.service import catalogue
from clinicdesk.core.actor import Actor

_TESTS: tuple[dict[str, Any], ...] = (
    {
        "name": "Potassium",
        "code": "2823-3",
        "default_unit": "mmol/L",
        "ranges": [{"low": "3.5", "high": "5.1", "critical_low": "2.5", "critical_high": "6.5"}],
    },
    {
        "name": "Sodium",
        "code": "2951-2",
        "default_unit": "mmol/L",
        "ranges": [{"low": "135", "high": "145", "critical_low": "120", "critical_high": "160"}],
    },
    {
        "name": "Glucose",
        "code": "2345-7",
        "default_unit": "mg/dL",
        "ranges": [{"low": "70", "high": "99", "critical_low": "40", "critical_high": "450"}],
    },
    {
        "name": "Creatinine",
        "code": "2160-0",
        "default_unit": "mg/dL",
        "ranges": [
            {"sex": "female", "age_from": 18, "low": "0.59", "high": "1.04"},
            {"sex": "male", "age_from": 18, "low": "0.74", "high": "1.35"},
        ],
    },
    {
        "name": "Hemoglobin",
        "code": "718-7",
        "default_unit": "g/dL",
        "ranges": [
            {"sex": "female", "age_from": 18, "low": "12.0", "high": "15.5", "critical_low": "7"},
            {"sex": "male", "age_from": 18, "low": "13.5", "high": "17.5", "critical_low": "7"},
        ],
    },
    {
        "name": "Hemoglobin A1c",
        "code": "4548-4",
        "default_unit": "%",
        "ranges": [{"low": "4.0", "high": "5.6"}],
    },
    {
        "name": "TSH",
        "code": "3016-3",
        "default_unit": "m[IU]/L",
        "ranges": [{"low": "0.4", "high": "4.0"}],
    },
    {
        "name": "White blood cells",
        "code": "6690-2",
        "default_unit": "10*3/uL",
        "ranges": [{"low": "4.5", "high": "11.0", "critical_low": "2", "critical_high": "30"}],
    },
    {
        "name": "Platelets",
        "code": "777-3",
        "default_unit": "10*3/uL",
        "ranges": [{"low": "150", "high": "450", "critical_low": "50"}],
    },
    {"name": "Chest X-ray, 2 views", "kind": "imaging"},
)


async def seed_demo_catalogue(session: AsyncSession, *, admin: Actor) -> int:
    """The tests above, added by the administrator; how many."""
    for test in _TESTS:
        await catalogue.create_catalogue_item(
            session, actor=admin, data=CatalogueItemWrite.model_validate(test)
        )
    return len(_TESTS)
