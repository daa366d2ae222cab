"""The audit report names who did what and to whom — the actor, the record, the patient —
with links, not truncated ids; a record that is gone still says what it was."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient


async def test_entries_name_their_actor_record_and_patient(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    admin = await create_user(session, clinic, Role.ADMIN)
    nurse = await create_user(session, clinic, Role.NURSE)
    await scope_to_tenant(session, clinic.id)
    patient = await register_patient(
        session, actor=actor_for(nurse), given_name="Ana", family_name="Lima"
    )
    gone = uuid.uuid4()
    await audit.record(
        session,
        action="test.about_a_user",
        actor=actor_for(admin),
        resource_type="user",
        resource_id=nurse.id,
    )
    await audit.record(
        session,
        action="test.about_a_removed_patient",
        actor=SYSTEM,
        organization_id=clinic.id,
        resource_type="patient",
        resource_id=gone,
        patient_id=gone,
    )
    browser = await sign_in_web(admin)

    page = await browser.get("/admin/audit", params={"action": "test.about_a_user"})
    assert page.status_code == 200, page.text
    assert f'<a href="/admin/users/{nurse.id}" title="{nurse.id}">{nurse.full_name}</a>' in (
        page.text
    )

    created = await browser.get("/admin/audit", params={"patient_id": str(patient.id)})
    assert created.status_code == 200, created.text
    chart_link = (
        f'<a href="/patients/{patient.id}" title="{patient.id}">Ana Lima · MRN {patient.mrn}</a>'
    )
    assert chart_link in created.text
    assert f">{nurse.full_name}</a>" in created.text  # the actor, linked as before
    assert "Patient created" in created.text  # the action in words

    removed = await browser.get("/admin/audit", params={"action": "test.about_a_removed_patient"})
    assert removed.status_code == 200, removed.text
    assert f"Patient (deleted or unknown) …{str(gone)[-6:]}" in removed.text
    # No id is shown cut short without saying what it is.
    assert not re.search(r">…[0-9a-f]{6}<", removed.text + created.text + page.text)
