"""The patient pages over HTTP, on SQLite and PostgreSQL: search as you type, registration
with the duplicate warning, the stale-edit conflict, what each role sees, the portal."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.models import Organization, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.patients.schemas import PatientCreate, PatientUpdate
from clinicdesk.patients.views.common import DEMOGRAPHIC_FIELDS, LABELS
from tests.support.identity import SignIn, create_user

HTMX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def person(**overrides: str) -> dict[str, str]:
    form = {
        "given_name": "Margaret",
        "family_name": "Okonkwo",
        "birth_date": "1961-07-02",
        "sex_at_birth": "female",
        "phone": "(617) 201-3344",
        "email": "",
        "national_id": "",
    }
    form.update(overrides)
    return form


async def register(client: httpx.AsyncClient, **overrides: str) -> str:
    """A new patient through the form; the id of their chart."""
    response = await client.post(
        "/patients/new", data={**person(**overrides), "confirm_not_duplicate": "1"}
    )
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/patients/([0-9a-f-]{36})", response.headers["location"])
    assert match
    return match.group(1)


async def test_search_fragment_finds_a_typoed_name(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    patient_id = await register(desk)
    fragment = await desk.get("/patients", params={"q": "okonkow"}, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert f'href="/patients/{patient_id}"' in fragment.text
    assert "Okonkwo, Margaret" in fragment.text
    assert "07/02/1961" in fragment.text  # the organization's date format
    assert "(617) 201-3344" in fragment.text
    assert "name" in fragment.text  # matched on

    page = await desk.get("/patients")
    assert 'aria-live="polite"' in page.text
    assert 'hx-trigger="input changed delay:250ms, search"' in page.text
    assert "Okonkwo, Margaret" in page.text  # recent registrations


async def test_register_warns_of_a_duplicate_then_registers_anyway(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    first = await register(desk)
    warned = await desk.post("/patients/new", data=person(given_name="Margret"))
    assert warned.status_code == 200
    assert "may already be registered" in warned.text
    assert f'href="/patients/{first}"' in warned.text
    assert 'name="confirm_not_duplicate" value="1"' in warned.text
    assert 'value="Margret"' in warned.text  # what was typed is kept

    second = await desk.post(
        "/patients/new", data={**person(given_name="Margret"), "confirm_not_duplicate": "1"}
    )
    assert second.status_code == 303
    assert second.headers["location"] != f"/patients/{first}"
    chart = await desk.get(second.headers["location"])
    assert chart.status_code == 200
    assert "Margret Okonkwo" in chart.text


async def test_invalid_registration_shows_messages_next_to_fields(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    response = await desk.post(
        "/patients/new", data=person(family_name="", birth_date="2999-01-01", phone="12")
    )
    assert response.status_code == 422
    assert 'id="e-family_name"' in response.text
    assert "the date of birth is in the future" in response.text
    assert 'value="Margaret"' in response.text


async def test_stale_edit_gets_412_with_what_changed(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    patient_id = await register(desk)
    form_page = await desk.get(f"/patients/{patient_id}/edit")
    assert form_page.status_code == 200
    fields = dict(
        re.findall(r'<input type="hidden" name="([\w]+)" value="([^"]*)"', form_page.text)
    )
    loaded = {k: v for k, v in fields.items() if k.startswith("loaded_") or k == "version"}
    base: dict[str, Any] = {**person(), **loaded}

    first = await desk.post(f"/patients/{patient_id}/edit", data={**base, "city": "Boston"})
    assert first.status_code == 303, first.text
    stale = await desk.post(f"/patients/{patient_id}/edit", data={**base, "email": "m@example.org"})
    assert stale.status_code == 412
    assert "Someone else changed this record" in stale.text
    assert "What the other person changed" in stale.text
    assert re.search(r"<strong>City</strong> is now <span class=\"now\">Boston</span>", stale.text)
    assert 'value="m@example.org"' in stale.text  # the user's change is kept to re-apply

    fresh = dict(re.findall(r'<input type="hidden" name="([\w]+)" value="([^"]*)"', stale.text))
    again = await desk.post(
        f"/patients/{patient_id}/edit",
        data={**person(), **fresh, "city": "Boston", "email": "m@example.org"},
    )
    assert again.status_code == 303, again.text


async def test_a_date_of_death_is_recorded_on_the_edit_form_and_shown_on_the_chart(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    patient_id = await register(desk)
    form_page = await desk.get(f"/patients/{patient_id}/edit")
    assert 'name="deceased_on"' in form_page.text
    fields = dict(
        re.findall(r'<input type="hidden" name="([\w]+)" value="([^"]*)"', form_page.text)
    )
    base: dict[str, Any] = {**person(), **fields}
    future = await desk.post(
        f"/patients/{patient_id}/edit", data={**base, "deceased_on": "2099-01-01"}
    )
    assert future.status_code == 422, future.text
    assert "this date is in the future" in future.text
    saved = await desk.post(
        f"/patients/{patient_id}/edit", data={**base, "deceased_on": "2026-11-30"}
    )
    assert saved.status_code == 303, saved.text
    chart = await desk.get(f"/patients/{patient_id}")
    assert "Died" in chart.text
    edit_again = await desk.get(f"/patients/{patient_id}/edit")
    assert 'value="2026-11-30"' in edit_again.text


async def test_receptionist_chart_hides_the_clinical_lists(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    doctor = await sign_in_web(await create_user(session, clinic, Role.DOCTOR))
    patient_id = await register(desk)
    added = await doctor.post(
        f"/patients/{patient_id}/chart/allergies",
        data={"substance": "Penicillin", "severity": "severe", "status": "active"},
    )
    assert added.status_code == 303
    await doctor.post(
        f"/patients/{patient_id}/chart/problems",
        data={"description": "Type 2 diabetes", "icd10_code": "E11.9", "status": "active"},
    )
    clinical = await doctor.get(f"/patients/{patient_id}")
    assert 'id="problems"' in clinical.text and "Type 2 diabetes" in clinical.text
    assert 'id="changes"' in clinical.text

    front = await desk.get(f"/patients/{patient_id}")
    assert front.status_code == 200
    assert "Penicillin" in front.text  # the allergy banner is for everyone
    assert 'id="problems"' not in front.text and "Type 2 diabetes" not in front.text
    assert 'id="changes"' not in front.text
    assert (await desk.post(f"/patients/{patient_id}/chart/allergies", data={})).status_code == 403


async def test_a_nurse_records_an_allergy_on_the_chart_and_nothing_else(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    nurse = await sign_in_web(await create_user(session, clinic, Role.NURSE))
    patient_id = await register(nurse)
    page = await nurse.get(f"/patients/{patient_id}")
    assert f'action="/patients/{patient_id}/chart/allergies"' in page.text
    assert f'action="/patients/{patient_id}/chart/problems"' not in page.text
    added = await nurse.post(
        f"/patients/{patient_id}/chart/allergies",
        data={"substance": "Penicillin", "severity": "severe", "status": "active"},
    )
    assert added.status_code == 303
    assert "Penicillin" in (await nurse.get(f"/patients/{patient_id}")).text
    refused = await nurse.post(
        f"/patients/{patient_id}/chart/problems",
        data={"description": "Asthma", "icd10_code": "J45.909", "status": "active"},
    )
    assert refused.status_code == 403
    assert "Asthma" not in (await nurse.get(f"/patients/{patient_id}")).text


async def test_upload_and_download_a_document(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    doctor = await sign_in_web(await create_user(session, clinic, Role.DOCTOR))
    patient_id = await register(doctor)
    bad = await doctor.post(
        f"/patients/{patient_id}/documents",
        data={"category": "lab_result"},
        files={"file": ("notes.txt", b"just text", "text/plain")},
    )
    assert bad.status_code == 303
    chart = await doctor.get(bad.headers["location"].split("#")[0])
    assert "Only PDF files and images" in chart.text
    good = await doctor.post(
        f"/patients/{patient_id}/documents",
        data={"category": "lab_result", "title": "Blood count"},
        files={"file": ("cbc.pdf", PDF, "application/pdf")},
    )
    assert good.status_code == 303
    chart = await doctor.get(f"/patients/{patient_id}")
    link = re.search(rf'href="(/patients/{patient_id}/documents/[0-9a-f-]+)"', chart.text)
    assert link and "Blood count" in chart.text
    download = await doctor.get(link.group(1))
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")


async def test_patient_user_sees_own_portal_and_no_staff_pages(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    patient_id = await register(desk)
    other_id = await register(desk, given_name="Someone", family_name="Else", phone="")
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:6]}@example.org",
        full_name="Margaret Okonkwo",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=uuid.UUID(patient_id),
    )
    await session.commit()
    assert (await desk.get(f"/patients/{patient_id}")).status_code == 200
    patient = await sign_in_web(user)

    home = await patient.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/portal"
    portal = await patient.get("/portal")
    assert portal.status_code == 200
    assert "Hello, Margaret Okonkwo" in portal.text
    assert "Who viewed my record" in portal.text
    assert "Test receptionist" in portal.text  # the desk opened the chart
    assert 'href="/patients"' not in portal.text  # no staff navigation

    assert (await patient.get("/patients")).status_code in (403, 404)
    assert (await patient.get(f"/patients/{patient_id}")).status_code in (403, 404)
    assert (await patient.get(f"/patients/{other_id}")).status_code in (403, 404)
    assert (await desk.get("/portal")).status_code == 403


def test_every_patient_field_has_a_label_and_a_place_on_the_form() -> None:
    """The schema is the list of patient fields; the form's order and words live in one
    table, so a new field cannot be forgotten on the registration or edit form."""
    assert set(DEMOGRAPHIC_FIELDS) == set(PatientCreate.model_fields)
    assert set(PatientUpdate.model_fields) <= set(LABELS)
