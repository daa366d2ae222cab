"""Restricted records and emergency ("break-glass") access: who is refused, who may
break the glass and how, how long it lasts, what the trail keeps, and the admins'
report of every use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.errors import BreakGlassRefused, RestrictedRecord
from clinicdesk.patients.models import Patient
from clinicdesk.patients.service import records, restricted
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient

REASON = "Unconscious in the emergency room; need allergies"


async def staff(session: AsyncSession, clinic: Organization, role: Role) -> Actor:
    return actor_for(await create_user(session, clinic, role))


@pytest.fixture
async def locked(session: AsyncSession, clinic: Organization) -> tuple[Patient, Actor]:
    """A record a doctor restricted (the doctor is its care team)."""
    doctor = await staff(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    patient = await register_patient(session, actor=doctor, family_name="Vault")
    await records.restrict_record(session, actor=doctor, patient_id=patient.id, restricted_=True)
    await session.commit()
    return patient, doctor


async def test_a_restricted_record_opens_to_its_care_team_and_to_a_clinician_who_breaks_the_glass(
    session: AsyncSession,
    clinic: Organization,
    locked: tuple[Patient, Actor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patient, doctor = locked
    nurse = await staff(session, clinic, Role.NURSE)
    desk = await staff(session, clinic, Role.RECEPTIONIST)
    await scope_to_tenant(session, clinic.id)

    assert (await records.read_patient(session, actor=doctor, patient_id=patient.id)).id
    with pytest.raises(RestrictedRecord) as refused_nurse:
        await records.read_patient(session, actor=nurse, patient_id=patient.id)
    with pytest.raises(RestrictedRecord) as refused_desk:
        await records.read_patient(session, actor=desk, patient_id=patient.id)
    assert refused_nurse.value.extensions["emergency_access"] is True
    assert refused_desk.value.extensions["emergency_access"] is False

    with pytest.raises(BreakGlassRefused):  # not a clinician
        await records.open_in_emergency(
            session, actor=desk, patient_id=patient.id, reason=REASON, minutes=60
        )
    with pytest.raises(BreakGlassRefused):  # no real reason
        await records.open_in_emergency(
            session, actor=nurse, patient_id=patient.id, reason="  urgent  ", minutes=60
        )
    grant = await records.open_in_emergency(
        session, actor=nurse, patient_id=patient.id, reason=REASON, minutes=60
    )

    assert (await records.read_patient(session, actor=nurse, patient_id=patient.id)).id
    assert grant.expires_at is not None
    assert timedelta(minutes=59) < grant.expires_at - utcnow() <= timedelta(minutes=60)
    flagged = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.break_glass"))
    ).one()
    assert (flagged.actor_user_id, flagged.patient_id) == (nurse.user_id, patient.id)
    assert flagged.details is not None
    assert flagged.details["emergency"] is True
    assert flagged.details["reason"] == REASON
    # The reads under the grant are on the trail as usual.
    reads = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "patient.viewed", AuditEvent.actor_user_id == nurse.user_id
        )
    )
    assert [r.patient_id for r in reads] == [patient.id]

    # The access ends on time.
    later = utcnow() + timedelta(minutes=61)
    monkeypatch.setattr(restricted, "utcnow", lambda: later)
    with pytest.raises(RestrictedRecord):
        await records.read_patient(session, actor=nurse, patient_id=patient.id)


async def test_the_report_lists_every_use_and_its_viewing_is_recorded(
    session: AsyncSession, clinic: Organization, locked: tuple[Patient, Actor]
) -> None:
    patient, _doctor = locked
    nurse = await staff(session, clinic, Role.NURSE)
    admin = await staff(session, clinic, Role.ADMIN)
    await scope_to_tenant(session, clinic.id)
    await records.open_in_emergency(
        session, actor=nurse, patient_id=patient.id, reason=REASON, minutes=30
    )

    page = await restricted.break_glass_report(session, actor=admin)

    assert [(u.user_id, u.patient_id, u.reason) for u in page.items] == [
        (nurse.user_id, patient.id, REASON)
    ]
    assert page.items[0].patient_mrn == patient.mrn
    viewed = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.listed", AuditEvent.actor_user_id == admin.user_id
            )
        )
    ).one()
    assert viewed.patient_id == patient.id


async def test_a_nurse_breaks_the_glass_from_the_refusal_page_and_an_admin_sees_it(
    session: AsyncSession,
    clinic: Organization,
    locked: tuple[Patient, Actor],
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    patient, _doctor = locked
    nurse = await create_user(session, clinic, Role.NURSE)
    admin = await create_user(session, clinic, Role.ADMIN)
    browser = await sign_in_web(nurse)
    html = {"Accept": "text/html"}
    chart = f"/patients/{patient.id}"

    refused = await browser.get(chart, headers=html)
    too_short = await browser.post(
        f"{chart}/emergency-access", data={"reason": "now"}, headers=html
    )
    opened = await browser.post(f"{chart}/emergency-access", data={"reason": REASON}, headers=html)
    shown = await browser.get(chart, headers=html)

    assert refused.status_code == 403
    assert "This record is restricted" in refused.text
    assert f'action="{chart}/emergency-access"' in refused.text
    assert "Vault" not in refused.text
    assert too_short.status_code == 403
    assert "at least 15 characters" in too_short.text
    assert opened.status_code == 303
    assert opened.headers["location"] == chart
    assert shown.status_code == 200
    assert "Vault" in shown.text

    report = await (await sign_in_web(admin)).get("/admin/emergency-access", headers=html)
    api = await (await sign_in_api(admin)).get("/api/v1/emergency-access")
    assert report.status_code == 200
    assert REASON in report.text and nurse.full_name in report.text and patient.mrn in report.text
    assert api.status_code == 200
    assert [i["reason"] for i in api.json()["items"]] == [REASON]
