"""The same substance is not put on the active allergy list twice (case and spacing do
not make it another), and the banner names each substance once."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.patients.errors import DuplicateAllergy
from clinicdesk.patients.models import Allergy
from clinicdesk.patients.schemas import AllergyWrite
from clinicdesk.patients.service import chart
from clinicdesk.patients.vocabulary import AllergySeverity, ClinicalStatus
from tests.patients.test_chart import open_chart
from tests.patients.test_views import register
from tests.support.identity import SignIn, create_user


async def test_an_active_duplicate_is_refused_with_a_conflict(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    first = await c.add("allergies", AllergyWrite(substance="Penicillin G"))

    with pytest.raises(DuplicateAllergy) as refused:
        await c.add("allergies", AllergyWrite(substance="  penicillin   g "))
    assert refused.value.status_code == 409
    assert "Penicillin G is already on the active allergy list" in refused.value.detail

    # A past (inactive) entry does not block recording it again, and another substance
    # is another allergy.
    assert isinstance(first, Allergy)
    await c.update(
        "allergies",
        first.id,
        AllergyWrite(substance="Penicillin G", status=ClinicalStatus.INACTIVE),
        version=first.version,
    )
    again = await c.add("allergies", AllergyWrite(substance="Penicillin g"))
    latex = await c.add("allergies", AllergyWrite(substance="Latex"))

    # Changing an entry into a duplicate of an active one is refused too.
    with pytest.raises(DuplicateAllergy):
        await c.update(
            "allergies", latex.id, AllergyWrite(substance="PENICILLIN G"), version=latex.version
        )
    # ... and so is making the old entry active again beside the new one.
    assert isinstance(again, Allergy)
    with pytest.raises(DuplicateAllergy):
        await c.update(
            "allergies", first.id, AllergyWrite(substance="Penicillin G"), version=first.version
        )


def test_the_banner_names_a_substance_once_keeping_the_first() -> None:
    severe = Allergy(substance="Peanut", severity=AllergySeverity.SEVERE)
    mild = Allergy(substance=" peanut", severity=AllergySeverity.MILD)
    latex = Allergy(substance="Latex")
    assert chart.banner_allergies([severe, latex, mild]) == [severe, latex]


async def test_the_chart_page_says_why_and_the_banner_lists_once(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    doctor = await sign_in_web(await create_user(session, clinic, Role.DOCTOR, Role.RECEPTIONIST))
    patient_id = await register(doctor)
    form = {"substance": "Penicillin", "severity": "severe", "status": "active"}
    assert (await doctor.post(f"/patients/{patient_id}/chart/allergies", data=form)).is_redirect
    again = await doctor.post(
        f"/patients/{patient_id}/chart/allergies", data={**form, "substance": "penicillin "}
    )
    assert again.is_redirect
    page = await doctor.get(f"/patients/{patient_id}")
    assert "Penicillin is already on the active allergy list" in page.text
    banner = page.text.split('aria-label="Allergies"', 1)[1].split("</div>", 1)[0]
    assert banner.lower().count("penicillin") == 1
