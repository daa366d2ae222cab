"""Merging keeps the more complete record by default and lets the person merging choose,
field by field, which value survives; the choices are applied in the merge's one
transaction and audited."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.models import Patient, PatientNameTerm
from clinicdesk.patients.service import merge
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient

BORN = date(1971, 5, 2)


async def _pair(session: AsyncSession, clinic: Organization) -> tuple[Actor, Patient, Patient]:
    """A sparse record and a fuller one of the same person, with a different phone."""
    desk = actor_for(await create_user(session, clinic, Role.RECEPTIONIST))
    await scope_to_tenant(session, clinic.id)
    sparse = await register_patient(
        session,
        actor=desk,
        given_name="Marta",
        family_name="Silva",
        birth_date=BORN,
        phone="(617) 201-3344",
    )
    full = await register_patient(
        session,
        actor=desk,
        given_name="Marta",
        family_name="Silva Costa",
        birth_date=BORN,
        phone="(617) 555-0199",
        email="marta@example.org",
        address_line1="12 Elm St",
        city="Boston",
        postal_code="02118",
    )
    return desk, sparse, full


async def test_the_more_complete_record_is_the_default_survivor(
    session: AsyncSession, clinic: Organization
) -> None:
    _desk, sparse, full = await _pair(session, clinic)
    assert merge.completeness(full) > merge.completeness(sparse)
    assert merge.more_complete_first(sparse, full) == (full, sparse)
    assert merge.more_complete_first(full, sparse) == (full, sparse)
    assert set(merge.differing_choices(full, sparse)) == {"name", "phone"}


async def test_chosen_fields_come_from_the_duplicate_and_are_audited(
    session: AsyncSession, clinic: Organization
) -> None:
    desk, sparse, full = await _pair(session, clinic)
    sparse_phone = sparse.phone

    with pytest.raises(InvalidField):
        await merge.merge_patients(
            session,
            actor=desk,
            keep_id=full.id,
            duplicate_id=sparse.id,
            reason="same person",
            take_from_duplicate=["shoe_size"],
        )

    outcome = await merge.merge_patients(
        session,
        actor=desk,
        keep_id=full.id,
        duplicate_id=sparse.id,
        reason="same person",
        take_from_duplicate=["phone", "name"],
    )
    kept = outcome.kept
    assert (kept.family_name, kept.phone) == ("Silva", sparse_phone)
    assert (kept.email, kept.city) == ("marta@example.org", "Boston")  # the kept record's own
    tokens = set(
        await session.scalars(
            select(PatientNameTerm.token).where(PatientNameTerm.patient_id == kept.id)
        )
    )
    assert "costa" not in tokens  # search follows the chosen name

    entry = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "patient.merged", AuditEvent.resource_id == str(kept.id)
        )
    )
    assert entry is not None and entry.details is not None and entry.changes is not None
    assert entry.details["taken_from_duplicate"] == ["name", "phone"]
    assert entry.changes["family_name"] == {"before": "Silva Costa", "after": "Silva"}


async def test_the_page_defaults_to_the_fuller_record_and_posts_the_choices(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    _desk, sparse, full = await _pair(session, clinic)
    sparse_phone = sparse.phone
    browser = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))

    page = await browser.get(f"/patients/{sparse.id}/merge", params={"duplicate_id": str(full.id)})
    assert page.status_code == 200, page.text
    assert f'action="/patients/{full.id}/merge"' in page.text  # the fuller one is kept
    assert re.search(r'name="choice_phone" value="kept" checked', page.text)
    assert 'name="choice_phone" value="duplicate"' in page.text
    assert "(617) 201-3344" in page.text and "(617) 555-0199" in page.text
    other_way = await browser.get(
        f"/patients/{full.id}/merge", params={"duplicate_id": str(sparse.id), "keep": "given"}
    )
    assert f'action="/patients/{full.id}/merge"' in other_way.text
    chosen_sparse = await browser.get(
        f"/patients/{sparse.id}/merge", params={"duplicate_id": str(full.id), "keep": "given"}
    )
    assert f'action="/patients/{sparse.id}/merge"' in chosen_sparse.text

    merged = await browser.post(
        f"/patients/{full.id}/merge",
        data={
            "duplicate_id": str(sparse.id),
            "reason": "registered twice",
            "choice_phone": "duplicate",
        },
    )
    assert merged.status_code == 303, merged.text
    await session.refresh(full)
    assert full.phone == sparse_phone
    assert full.family_name == "Silva Costa"  # not chosen: the kept record's own
