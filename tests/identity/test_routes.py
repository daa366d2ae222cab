"""Access control over the whole app: every route declares what it needs, anonymous
callers get 401, each role gets what the written policy (ROLE_PERMISSIONS) allows, and
another organization's resources are simply not there (404)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import PUBLIC_PATHS, create_app
from clinicdesk.billing.payment_schemas import PaymentCreate
from clinicdesk.billing.schemas import CreditNoteCreate, FeeItemCreate, InvoiceCreate, LineAdd
from clinicdesk.billing.service import fee_schedule, invoices, issuing, payments
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.clinical.schemas.diagnoses import DiagnosisWrite
from clinicdesk.clinical.schemas.encounters import EncounterStart
from clinicdesk.clinical.schemas.notes import NoteCreate, NoteTemplateWrite, QuickPhraseWrite
from clinicdesk.clinical.schemas.orders import CatalogueItemWrite, OrderPlace, ResultsEntry
from clinicdesk.clinical.schemas.prescriptions import PrescriptionWrite
from clinicdesk.clinical.schemas.recalls import RecallWrite
from clinicdesk.clinical.schemas.vitals import VitalsRecord
from clinicdesk.clinical.service import (
    catalogue,
    diagnoses,
    encounters,
    note_templates,
    notes,
    orders,
    phrases,
    prescription_sheets,
    prescriptions,
    results,
    vitals,
)
from clinicdesk.clinical.service import recalls as clinical_recalls
from clinicdesk.clinical.vocabulary import EncounterKind, RecallUnit
from clinicdesk.config import Settings
from clinicdesk.core.access import Requirement, RequirePermission
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.jobs import Job, JobStatus
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.mail import OutgoingMail
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.auth import RequirePatientPortal, authenticate
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.permissions import Role, roles_with
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, sessions, users
from clinicdesk.identity.service.common import actor_for
from clinicdesk.notifications.alert_schemas import AlertKind
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service import alerts
from clinicdesk.patients.schemas import AllergyWrite, PayerWrite, PolicyWrite
from clinicdesk.patients.service import chart, insurance
from clinicdesk.queue.schemas import DisplayWrite, WalkInCheckIn
from clinicdesk.queue.service import checkin, links
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeWrite,
    HoursBlock,
    HoursExceptionWrite,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.series_schemas import WaitlistWrite
from clinicdesk.scheduling.service import booking, setup, waitlist
from tests.billing.claims_support import walk_claim
from tests.support.identity import SignIn, create_org, create_user
from tests.support.patients import register_patient
from tests.support.walk import Endpoint, api_routes, calls

PARAM = re.compile(r"{(\w+)}")


def requirement_of(route: Endpoint) -> Requirement | None:
    found = [c for c in calls(route.dependant) if isinstance(c, Requirement)]
    return found[0] if found else None


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Endpoint]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("routes"),
        database_url=f"sqlite:///{tmp_path_factory.mktemp('routes-db') / 'x.db'}",
        _env_file=None,
    )
    return api_routes(create_app(settings, configure_logs=False))


def endpoints(routes: list[Endpoint]) -> Iterator[tuple[str, str, Endpoint]]:
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            yield method, route.path, route


def test_public_routes_are_exactly_the_written_list(routes: list[Endpoint]) -> None:
    public = {r.path for r in routes if authenticate not in set(calls(r.dependant))}
    assert public == set(PUBLIC_PATHS) - {"/openapi.json"}


def test_the_walk_sees_the_whole_app(routes: list[Endpoint]) -> None:
    paths = {r.path for r in routes}
    assert {"/login", "/api/v1/users/{user_id}", "/admin/audit", "/health/ready"} <= paths
    assert len(routes) > 40


def test_every_protected_route_declares_what_it_needs(routes: list[Endpoint]) -> None:
    undeclared = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if r.path not in PUBLIC_PATHS and requirement_of(r) is None
    ]
    assert undeclared == [], "routes without a Requirement (SignedIn, AdminUsers, ...)"


def concrete(path: str) -> str:
    return PARAM.sub(lambda _m: str(uuid.uuid4()), path)


async def test_anonymous_callers_get_401_on_every_protected_route(
    app: FastAPI, routes: list[Endpoint]
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method, path, _route in endpoints(routes):
            if path in PUBLIC_PATHS:
                continue
            response = await client.request(method, concrete(path))
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"


async def test_every_role_gets_what_the_policy_allows(
    app: FastAPI,
    routes: list[Endpoint],
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    users = {role: await create_user(session, clinic, role) for role in Role}
    mismatches = []
    for method, path, route in endpoints(routes):
        requirement = requirement_of(route)
        if requirement is None:
            continue
        allowed = (
            roles_with(requirement.permission)
            if isinstance(requirement, RequirePermission)
            else frozenset()
            if isinstance(requirement, RequirePatientPortal)
            else frozenset(Role)
        )
        for role, user in users.items():
            # A fresh sign-in per request: some routes end the session they are called with.
            client = await (sign_in_api if path.startswith("/api/") else sign_in_web)(user)
            response = await client.request(method, concrete(path))
            got_in = response.status_code not in (401, 403)
            if got_in != (role in allowed):
                mismatches.append(f"{role.value:<12} {method:<6} {path} -> {response.status_code}")
    assert mismatches == []


# --- another organization's resources -------------------------------------------------


async def other_organization(session: AsyncSession, config: IdentityConfig) -> dict[str, object]:
    """Resources of organization B, keyed by the path parameter that names them."""
    other = await create_org(session, "Clinic B", mfa_required_for_admins=False)
    user = await create_user(session, other, Role.DOCTOR)
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="B main")
    )
    _token, web_session = await sessions.start_web_session(
        session,
        user=user,
        config=config,
        mfa_verified=True,
    )
    doctor = actor_for(user)
    patient = await register_patient(
        session, actor=doctor, given_name="Bea", family_name="Other", birth_date=date(1990, 1, 2)
    )
    allergy = await chart.add_entry(
        session,
        actor=doctor,
        patient_id=patient.id,
        kind="allergies",
        data=AllergyWrite(substance="B main"),
    )
    billing = actor_for(await create_user(session, other, Role.BILLING))
    payer = await insurance.add_payer(session, actor=billing, data=PayerWrite(name="B payer"))
    policy = await insurance.add_policy(
        session, actor=billing, patient_id=patient.id, data=PolicyWrite(payer_id=payer.id)
    )
    location_b = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="B second")
    )
    provider = await setup.create_provider(
        session,
        actor=SYSTEM,
        data=ProviderWrite(user_id=user.id, display_name="Dr. B", location_ids=[location_b.id]),
    )
    monday = HoursBlock(location_id=location_b.id, weekday=0, start_time=time(8), end_time=time(17))
    await setup.set_weekly_hours(
        session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=[monday])
    )
    kind = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(name="B visit", duration_minutes=15),
    )
    closure = await setup.add_exception(
        session,
        actor=SYSTEM,
        data=HoursExceptionWrite(location_id=location_b.id, on_date=date(2030, 1, 1), kind="off"),
    )
    appointment = await booking.book(
        session,
        actor=SYSTEM,
        data=AppointmentCreate(
            patient_id=patient.id,
            provider_id=provider.id,
            location_id=location_b.id,
            type_id=kind.id,
            starts_at=datetime(2030, 1, 7, 9, tzinfo=UTC),  # a Monday
        ),
    )
    waiting = await waitlist.add_entry(
        session,
        actor=SYSTEM,
        data=WaitlistWrite(
            patient_id=patient.id,
            type_id=kind.id,
            location_id=location_b.id,
            earliest=date(2030, 1, 7),
            latest=date(2030, 1, 11),
        ),
    )
    visit, _secret = await checkin.check_in_walk_in(
        session,
        actor=doctor,
        data=WalkInCheckIn(patient_id=patient.id, location_id=location_b.id),
    )
    encounter = await encounters.start_encounter(
        session, actor=doctor, data=EncounterStart(patient_id=patient.id, kind=EncounterKind.PHONE)
    )
    recorded = await vitals.record_vitals(
        session, actor=doctor, data=VitalsRecord(heart_rate=Decimal(72)), patient_id=patient.id
    )
    note = await notes.create_note(
        session, actor=doctor, encounter_id=encounter.id, data=NoteCreate(subjective="B main")
    )
    note_template = await note_templates.create_template(
        session, actor=doctor, data=NoteTemplateWrite(name="B template")
    )
    phrase = await phrases.create_phrase(
        session, actor=doctor, data=QuickPhraseWrite(trigger="bb", expansion="B", shared=True)
    )
    diagnosis = await diagnoses.add_diagnosis(
        session, actor=doctor, encounter_id=encounter.id, data=DiagnosisWrite(icd10_code="I10")
    )
    prescription = await prescriptions.prescribe(
        session,
        actor=doctor,
        encounter_id=encounter.id,
        data=PrescriptionWrite(drug_name="B drug", dose=Decimal(1)),
    )
    printed = await prescription_sheets.issue_sheet(
        session, actor=doctor, encounter_id=encounter.id
    )
    test = await catalogue.create_catalogue_item(
        session, actor=SYSTEM, data=CatalogueItemWrite(name="B main")
    )
    order = await orders.place_order(
        session,
        actor=doctor,
        encounter_id=encounter.id,
        data=OrderPlace(catalogue_item_id=test.id),
    )
    resulted = await results.enter_results(
        session,
        actor=doctor,
        order_id=order.id,
        data=ResultsEntry.model_validate({"results": [{"value_numeric": "4.2"}]}),
        expected_version=None,
    )
    fee_item = await fee_schedule.create_fee_item(
        session, actor=SYSTEM, data=FeeItemCreate(code="B1", name="B main", unit_price=100)
    )
    invoice = await invoices.create_draft(
        session,
        actor=doctor,
        data=InvoiceCreate(patient_id=patient.id, lines=[LineAdd(name="B main", unit_price=1)]),
    )
    # An issued invoice with a credit note: their PDFs (staff and portal) are walked too.
    credited = await invoices.create_draft(
        session,
        actor=doctor,
        data=InvoiceCreate(patient_id=patient.id, lines=[LineAdd(name="B main", unit_price=1)]),
    )
    await issuing.issue(
        session, actor=doctor, invoice_id=credited.invoice.id, expected_version=None
    )
    credit_note = await issuing.credit(
        session, actor=doctor, invoice_id=credited.invoice.id, data=CreditNoteCreate(reason="B")
    )
    payment = await payments.record_payment(
        session,
        actor=billing,
        data=PaymentCreate(patient_id=patient.id, method=PaymentMethod.CASH, amount=100),
    )
    claim_id = await walk_claim(session, actor=billing, patient_id=patient.id, policy_id=policy.id)
    display, _link = await links.create_display(
        session, actor=SYSTEM, data=DisplayWrite(location_id=location_b.id, name="B TV")
    )
    # An alert of organization B's doctors, naming its patient.
    alert_id = await alerts.notify_staff(
        session,
        kind=AlertKind.RESULT_TO_REVIEW,
        title="B main",
        patient_id=patient.id,
        link=f"/patients/{patient.id}",
        role=Role.DOCTOR.value,
    )
    mail = OutgoingMail(to="b@example.org", subject="B main", text="B main")
    await send_mail(session, mail)
    dead_job = await session.scalar(select(Job).where(Job.kind == "mail.send"))
    assert dead_job is not None
    dead_job.status = JobStatus.DEAD
    # The booking above planned Bea's messages (she has no address: kept as not sent).
    message_id = await session.scalar(select(Message.id).where(Message.patient_id == patient.id))
    assert message_id is not None
    recall = await clinical_recalls.add_recall(
        session,
        actor=doctor,
        patient_id=patient.id,
        data=RecallWrite(in_count=6, in_unit=RecallUnit.MONTHS),
    )
    await session.commit()
    return {
        "visit_id": visit.id,
        "display_id": display.id,
        "provider_id": provider.id,
        "type_id": kind.id,
        "exception_id": closure.id,
        "appointment_id": appointment.id,
        "waitlist_entry_id": waiting.id,
        "user_id": user.id,
        "location_id": location.id,
        "session_id": web_session.id,
        "patient_id": patient.id,
        "entry_id": allergy.id,
        "document_id": uuid.uuid4(),
        "field": "national_id",
        "kind": "allergies",
        "job_id": dead_job.id,
        "encounter_id": encounter.id,
        "diagnosis_id": diagnosis.id,
        "name": "reason",
        "observation_id": recorded.observations[0].id,
        "note_id": note.id,
        "note_template_id": note_template.id,
        "phrase_id": phrase.id,
        "prescription_id": prescription.id,
        "sheet_id": printed.sheet.id,
        "code": printed.sheet.code,
        "test_id": test.id,
        "order_id": order.id,
        "result_id": resulted.results[0].id,
        "payer_id": payer.id,
        "policy_id": policy.id,
        "item_id": fee_item.id,
        "invoice_id": invoice.invoice.id,
        "line_id": invoice.lines[0].id,
        "issued_invoice_id": credited.invoice.id,
        "credit_note_id": credit_note.note.id,
        "payment_id": payment.payment.id,
        "claim_id": claim_id,
        "business_date": "2030-01-07",
        "message_id": message_id,
        # A template is named by its key, not owned by a row: an unknown key is what is
        # "not there" (the read walk gives a real one, tests/audit/test_reads.py).
        "purpose": "no-such-purpose",
        "channel": "no-such-channel",
        "language": "xx",
        "alert_id": alert_id,
        "recall_id": recall.id,
    }


# Valid bodies, so that the request gets as far as looking the resource up.
_PERSON = {"given_name": "Ann", "family_name": "Lee", "birth_date": "1980-01-01"}
API_BODIES: dict[str, object] = {
    "/api/v1/users/{user_id}/roles": {"roles": ["doctor"]},
    "/api/v1/locations/{location_id}": {"name": "Renamed"},
    "/api/v1/patients/{patient_id}": _PERSON,
    "/api/v1/patients/{patient_id}/merge": {"duplicate_id": str(uuid.uuid4()), "reason": "dup"},
    "/api/v1/patients/{patient_id}/portal-invitation": {"email": "b@example.org"},
    "/api/v1/patients/{patient_id}/allergies": {"substance": "x"},
    "/api/v1/patients/{patient_id}/allergies/{entry_id}": {"substance": "x"},
    "/api/v1/patients/{patient_id}/medications": {"name": "x"},
    "/api/v1/patients/{patient_id}/medications/{entry_id}": {"name": "x"},
    "/api/v1/patients/{patient_id}/problems": {"description": "x"},
    "/api/v1/patients/{patient_id}/problems/{entry_id}": {"description": "x"},
    "/api/v1/patients/{patient_id}/history": {"kind": "social", "description": "x"},
    "/api/v1/patients/{patient_id}/history/{entry_id}": {"kind": "social", "description": "x"},
    "/api/v1/patients/{patient_id}/restriction": {"restricted": True},
    "/api/v1/patients/{patient_id}/emergency-access": {"reason": "An emergency, reason given"},
    "/api/v1/payers/{payer_id}": {"name": "Renamed"},
    "/api/v1/patients/{patient_id}/insurance-policies": {"payer_id": str(uuid.uuid4())},
    "/api/v1/patients/{patient_id}/insurance-policies/{policy_id}": {"payer_id": str(uuid.uuid4())},
    "/api/v1/patients/{patient_id}/insurance-policies/{policy_id}/end": {"reason": "test"},
}
_LATER = "2030-01-07T10:00:00+00:00"
API_BODIES.update(
    {
        "/api/v1/providers/{provider_id}": {"user_id": str(uuid.uuid4()), "display_name": "X"},
        "/api/v1/providers/{provider_id}/hours": {"blocks": []},
        "/api/v1/appointments/{appointment_id}/reschedule": {"starts_at": _LATER},
        "/api/v1/appointments/{appointment_id}/cancel": {"reason": "test"},
        "/api/v1/appointments/{appointment_id}/series-cancel": {"scope": "all", "reason": "test"},
        "/api/v1/appointments/{appointment_id}/series-reschedule": {
            "scope": "all",
            "shift_minutes": 30,
        },
        "/api/v1/portal/appointments/{appointment_id}/cancel": {"reason": "test"},
        "/api/v1/portal/appointments/{appointment_id}/reschedule": {"starts_at": _LATER},
        "/api/v1/providers/{provider_id}/status": {"state": "available"},
        "/api/v1/queue/visits/{visit_id}/call": {"room": "1"},
        "/api/v1/queue/visits/{visit_id}/leave": {},
        "/api/v1/queue/visits/{visit_id}/return": {},
        "/api/v1/queue/visits/{visit_id}/transfer": {"provider_id": None},
        "/api/v1/queue/visits/{visit_id}/priority": {"priority": 0},
        "/api/v1/queue/visits/{visit_id}/move": {"direction": "up"},
        "/api/v1/encounters/{encounter_id}": {"reason": "x"},
        "/api/v1/encounters/{encounter_id}/cancel": {"reason": "test"},
        "/api/v1/encounters/{encounter_id}/vitals": {"heart_rate": 72},
        "/api/v1/patients/{patient_id}/vitals": {"heart_rate": 72},
        "/api/v1/observations/{observation_id}/entered-in-error": {"reason": "test"},
        "/api/v1/encounters/{encounter_id}/notes": {"subjective": "x"},
        "/api/v1/notes/{note_id}": {"subjective": "x"},
        "/api/v1/notes/{note_id}/addenda": {"text": "x"},
        "/api/v1/notes/{note_id}/template": {"template_id": str(uuid.uuid4())},
        "/api/v1/notes/{note_id}/expand": {"text": ".meds"},
        "/api/v1/note-templates/{note_template_id}": {"name": "x"},
        "/api/v1/quick-phrases/{phrase_id}": {"trigger": "x", "expansion": "x"},
        "/api/v1/encounters/{encounter_id}/diagnoses": {"icd10_code": "I10"},
        "/api/v1/diagnoses/{diagnosis_id}": {"note": "x"},
        "/api/v1/diagnoses/{diagnosis_id}/entered-in-error": {"reason": "test"},
        "/api/v1/encounters/{encounter_id}/prescriptions": {"drug_name": "x", "dose": "1"},
        "/api/v1/prescriptions/{prescription_id}/discontinue": {"reason": "test"},
        "/api/v1/prescriptions/{prescription_id}/entered-in-error": {"reason": "test"},
        "/api/v1/prescriptions/{prescription_id}/renew": {"encounter_id": str(uuid.uuid4())},
        "/api/v1/prescriptions/{prescription_id}/change": {
            "encounter_id": str(uuid.uuid4()),
            "reason": "test",
            "new": {"drug_name": "x", "dose": "1"},
        },
        "/api/v1/encounters/{encounter_id}/orders": {"name": "x", "kind": "lab"},
        "/api/v1/orders/{order_id}/results": {"results": [{"value_numeric": "1"}]},
        "/api/v1/orders/{order_id}/cancel": {"reason": "test"},
        "/api/v1/results/{result_id}/review": {},
        "/api/v1/fee-schedule/{item_id}/versions": {"unit_price": 1},
        "/api/v1/fee-schedule/{item_id}/deactivate": {},
        "/api/v1/invoices/{invoice_id}": {},
        "/api/v1/invoices/{invoice_id}/lines": {"name": "x", "unit_price": 1},
        "/api/v1/invoices/{invoice_id}/lines/{line_id}": {"quantity": "1"},
        "/api/v1/invoices/{invoice_id}/discount": {},
        "/api/v1/invoices/{invoice_id}/credit-notes": {"reason": "test"},
        "/api/v1/payments/{payment_id}/refunds": {"amount": 1, "reason": "test"},
        "/api/v1/payments/{payment_id}/void": {"reason": "test"},
        "/api/v1/invoices/{invoice_id}/apply-credit": {},
        "/api/v1/claims/{claim_id}/accept": {"amount_approved": 1},
        "/api/v1/claims/{claim_id}/reject": {"reason": "test"},
        "/api/v1/claims/{claim_id}/remittances": {"amount": 1},
        # A location no organization has: the day of another's is as unknown (its own
        # cross-organization test is in tests/billing/test_day_close.py).
        "/api/v1/billing/days/{business_date}/close": {"location_id": str(uuid.uuid4())},
        "/api/v1/notifications/templates/{purpose}/{channel}/{language}": {"body": "x"},
        "/api/v1/notifications/templates/{purpose}/{channel}/{language}/preview": {"body": "x"},
        "/api/v1/patients/{patient_id}/recalls": {"in_count": 6, "in_unit": "months"},
        "/api/v1/recalls/{recall_id}/cancel": {"reason": "test"},
        "/api/v1/billing/days/{business_date}/reopen": {
            "location_id": str(uuid.uuid4()),
            "reason": "A payment found after closing",
        },
    }
)
API_QUERIES: dict[str, dict[str, str]] = {
    "/api/v1/patients/{patient_id}/documents/{document_id}": {"reason": "cleanup"},
    "/api/v1/billing/days/{business_date}": {"location_id": str(uuid.uuid4())},
}
API_FILES: dict[str, dict[str, tuple[str, bytes]]] = {
    "/api/v1/patients/{patient_id}/documents": {"file": ("a.pdf", b"%PDF-1.4\n%%EOF\n")},
}
FORM = {"version": "1", "name": "Renamed", "roles": "doctor"}


def is_portal(route: Endpoint) -> bool:
    return isinstance(requirement_of(route), RequirePatientPortal)


def allowed_role(route: Endpoint) -> Role:
    """A role that passes the route's requirement (the admin where it can), so that the
    request gets as far as looking the resource up."""
    requirement = requirement_of(route)
    if not isinstance(requirement, RequirePermission):
        return Role.ADMIN
    allowed = roles_with(requirement.permission)
    return Role.ADMIN if Role.ADMIN in allowed else sorted(allowed)[0]


async def portal_account(session: AsyncSession, clinic: Organization) -> User:
    """A patient of organization A with a portal account."""
    await scope_to_tenant(session, clinic.id)
    patient = await register_patient(
        session, given_name="Pat", family_name="Portal", birth_date=date(1970, 5, 6)
    )
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Pat Portal",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient.id,
    )
    await session.commit()
    return user


async def test_another_organizations_resources_are_not_found(
    app: FastAPI,
    routes: list[Endpoint],
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    theirs = await other_organization(session, app.state.identity)
    await scope_to_tenant(session, clinic.id)
    staff = {role: await create_user(session, clinic, role) for role in Role}
    portal_user = await portal_account(session, clinic)
    leaks = []
    checked = 0
    for method, path, _route in endpoints(routes):
        names = PARAM.findall(path)
        if not names or path in PUBLIC_PATHS:
            continue
        missing = [n for n in names if n not in theirs]
        assert not missing, f"add a resource of organization B for {missing} ({path})"
        url = PARAM.sub(lambda m: str(theirs[m.group(1)]), path)
        caller = portal_user if is_portal(_route) else staff[allowed_role(_route)]
        client = await (sign_in_api if path.startswith("/api/") else sign_in_web)(caller)
        if path in API_FILES and method == "POST":
            response = await client.request(method, url, files=API_FILES[path])
        elif path.startswith("/api/"):
            # "If-Match: *": an update must get as far as looking the record up.
            response = await client.request(
                method,
                url,
                json=API_BODIES.get(path),
                params=API_QUERIES.get(path),
                headers={"If-Match": "*"},
            )
        else:
            # A fragment's address opened directly leads to its page (303), not there either.
            response = await client.request(method, url, data=FORM, follow_redirects=True)
        checked += 1
        if response.status_code != 404:
            leaks.append(f"{method} {path} -> {response.status_code}")
        assert "B main" not in response.text
    assert checked >= 10
    assert leaks == []
