"""Every route that shows a patient's data leaves a read entry on the audit trail.

The walk finds the routes by what they answer, not by a list: every GET route of the app
is called (staff routes as a role that may use them, portal routes as the patient, public
routes without a session) against an organization holding one patient with an
appointment, a waitlist entry, a queue visit, a chart entry and a document. A response
that names the patient (id, MRN or name) must have written a read entry about that
patient in the same request. A new route that shows patient data without recording the
read fails here, whatever its path; one that needs a parameter the walk cannot give fails
too, until it is given one below.
"""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import PUBLIC_PATHS
from clinicdesk.audit import service as audit
from clinicdesk.audit.models import AuditEvent
from clinicdesk.audit.service import READ_ACTIONS
from clinicdesk.core.access import RequirePermission
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.permissions import Role, roles_with
from clinicdesk.identity.service import users
from clinicdesk.identity.service.common import actor_for
from clinicdesk.notifications.alert_schemas import AlertKind
from clinicdesk.notifications.service import alerts
from clinicdesk.patients.models import Patient
from clinicdesk.patients.schemas import DocumentMeta
from clinicdesk.patients.service import documents
from clinicdesk.patients.service.documents import Upload
from clinicdesk.patients.vocabulary import DocumentCategory
from clinicdesk.queue.service import checkin, links
from clinicdesk.scheduling.service import booking, feeds
from tests.identity.test_routes import (
    PARAM,
    endpoints,
    is_portal,
    other_organization,
    requirement_of,
    routes,  # noqa: F401 - the fixture
)
from tests.support.identity import SignIn, client_for, create_user
from tests.support.walk import Endpoint

# Routes the walk cannot call, each with the reason.
NOT_WALKED = {
    "/api/v1/events": "a stream that does not end; it carries ids, tokens and rooms only",
    "/verify-email": "needs a one-time token; shows no patient data",
    "/visits/{visit_id}/consultation": "a redirect to the visit's consultation page "
    "(/encounters/{encounter_id}, walked itself); shows no patient data",
    "/r/{secret}": "needs the secret of an e-mail's reply link; it shows the patient their "
    "own appointment's time and place (no name, no record), tested in "
    "tests/notifications/test_reply_links.py",
}
# Query parameters a route needs before it answers.
_DAY = {"start": "2030-01-07T00:00:00Z", "end": "2030-01-08T00:00:00Z"}
_SLOTS = {
    "type_id": "{type_id}",
    "location_id": "{visit_location_id}",
    "start": "2030-01-07",
    "end": "2030-01-08",
}
_HERE = {"location_id": "{visit_location_id}"}
GET_PARAMS: dict[str, dict[str, str]] = {
    "/api/v1/appointments": _DAY,
    "/api/v1/drugs": {"q": "amox"},
    "/calendar/events": {
        "location_id": "{visit_location_id}",
        "start": "2030-01-07T00:00",
        "end": "2030-01-08T00:00",
    },
    "/api/v1/queue/board": _HERE,
    "/api/v1/queue/visits": _HERE,
    "/queue/board": _HERE,
    "/queue/arrivals": _HERE,
    "/queue": _HERE,
    "/queue/patient-options": {"q": "Other"},
    "/calendar/patient-options": {"q": "Other"},
    "/patients": {"q": "Other"},
    "/calendar/list": {"location_id": "{visit_location_id}", "date": "2030-01-07"},
    "/api/v1/icd10": {"q": "asthma"},
    "/api/v1/slots": _SLOTS,
    "/api/v1/portal/slots": _SLOTS,
    "/portal/appointments/slots": {**_SLOTS, "start": "2030-01-07"},
}
# Fragments that only htmx asks for (served the whole page, they fail: a separate bug).
FRAGMENTS = {"/queue/board", "/queue/arrivals"}
# Routes known to show the patient: the walk must find at least these, so it cannot
# pass by finding nothing.
KNOWN_TO_SHOW_THE_PATIENT = {
    "/api/v1/patients/{patient_id}",
    "/api/v1/patients/{patient_id}/changes",
    "/api/v1/appointments/{appointment_id}",
    "/api/v1/queue/visits/{visit_id}",
    "/patients/{patient_id}",
    "/calendar/appointments/{appointment_id}",
    "/portal",
    "/api/v1/portal/record",
    "/api/v1/portal/appointments",
    "/api/v1/patients",
    "/patients",
    "/api/v1/appointments",
    "/calendar/list",
    "/api/v1/waitlist",
    "/api/v1/queue/board",
    "/api/v1/queue/visits",
    "/queue",
}


def role_for(route: Endpoint) -> Role:
    """A clinician where the route allows one (they see the most), else a role it allows."""
    requirement = requirement_of(route)
    if not isinstance(requirement, RequirePermission):
        return Role.DOCTOR
    allowed = roles_with(requirement.permission)
    for role in (Role.DOCTOR, Role.NURSE, Role.ADMIN):
        if role in allowed:
            return role
    return sorted(allowed)[0]


def about(entry: AuditEvent, patient_id: uuid.UUID) -> bool:
    if entry.action in ("audit.viewed", "audit.exported"):
        return True  # the report's entry holds its query (see audit.READ_ACTIONS)
    listed = (entry.details or {}).get("patient_ids") or []
    return entry.patient_id == patient_id or str(patient_id) in listed


async def setting(session: AsyncSession, app: FastAPI) -> dict[str, Any]:
    """Organization B of the access walk, plus a document, a portal account, and the
    secret links of its visit, display and feed."""
    # other_organization leaves the session scoped to organization B.
    values: dict[str, Any] = dict(await other_organization(session, app.state.identity))
    patient = await session.get(Patient, values["patient_id"])
    assert patient is not None
    organization = await session.get(Organization, patient.organization_id)
    assert organization is not None
    await scope_to_tenant(session, organization.id)
    document = await documents.upload_document(
        session,
        actor=SYSTEM,
        storage=app.state.patients.storage,
        patient_id=patient.id,
        upload=Upload(filename="photo.png", head=PNG, chunks=_one(PNG)),
        meta=DocumentMeta(category=DocumentCategory.PHOTO, shared_with_patient=True),
        max_bytes=10_000,
        allowed_categories=None,
    )
    portal = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=organization.id,
        email=f"portal-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Portal",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient.id,
    )
    admin = await create_user(session, organization, Role.ADMIN)
    await scope_to_tenant(session, organization.id)
    feed = await feeds.issue_feed_token(
        session, actor=actor_for(admin), provider_id=values["provider_id"]
    )
    _display, display_secret = await links.renew_display(
        session, actor=SYSTEM, display_id=values["display_id"]
    )
    _visit, visit_secret = await checkin.renew_status_link(
        session, actor=SYSTEM, visit_id=values["visit_id"]
    )
    appointment = await booking.get_appointment(session, values["appointment_id"])
    await session.commit()
    values.update(
        type_id=appointment.type_id,
        visit_location_id=appointment.location_id,
        display_secret=display_secret,
        visit_secret=visit_secret,
        document_id=document.id,
        token=feed,
        organization=organization,
        portal=portal,
        markers=[str(patient.id), patient.mrn, patient.display_name],
    )
    # The portal shows issued invoices only (a draft is not one yet): walk the issued one.
    values["invoice_id"] = values["issued_invoice_id"]
    # A template the organization has (the access walk names an unknown one).
    values.update(purpose="reminder", channel="sms", language="en")
    return values


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f80f00000101000518d84e0000000049454e44ae426082"
)


def _value_of(values: dict[str, Any], match: re.Match[str]) -> str:
    return str(values[match.group(1)])


async def _one(content: bytes) -> Any:
    yield content


async def test_every_route_that_shows_a_patient_records_the_read(
    app: FastAPI,
    routes: list[Endpoint],  # noqa: F811
    session: AsyncSession,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    values = await setting(session, app)
    organization: Organization = values["organization"]
    staff: dict[Role, User] = {
        role: await create_user(session, organization, role) for role in Role
    }
    # An alert naming the patient, for the doctors the walk signs in as (the alerts' list
    # shows it; opening it leads to the patient's page).
    await scope_to_tenant(session, organization.id)
    values["alert_id"] = await alerts.notify_staff(
        session,
        kind=AlertKind.RESULT_TO_REVIEW,
        title=f"Result to review: {values['markers'][2]}",
        patient_id=values["patient_id"],
        link=f"/patients/{values['patient_id']}",
        role=Role.DOCTOR.value,
    )
    await session.commit()
    anonymous = client_for(app)
    # Every caller signs in before the walk: a route that answers with a redirect or a
    # refusal rolls back the shared session, which expires the objects made here.
    callers: dict[Role | None, User] = {None: values["portal"]}
    for role, user in staff.items():
        callers[role] = user
    signed_in: dict[tuple[Role | None, bool], httpx.AsyncClient] = {}
    for who, user in callers.items():
        signed_in[(who, True)] = await sign_in_api(user)
        signed_in[(who, False)] = await sign_in_web(user)
    organization_id = organization.id
    shown: set[str] = set()
    unrecorded: list[str] = []
    refused: list[str] = []
    for method, path, route in endpoints(routes):
        if method != "GET" or path in NOT_WALKED:
            continue
        secret = "display_secret" if path.startswith("/display/") else "visit_secret"
        named = {**values, "secret": values[secret]}
        url = PARAM.sub(partial(_value_of, named), path)
        params = {k: v.format(**values) for k, v in GET_PARAMS.get(path, {}).items()}
        if path in PUBLIC_PATHS or requirement_of(route) is None:
            client = anonymous
        else:
            who = None if is_portal(route) else role_for(route)
            client = signed_in[(who, path.startswith("/api/"))]
        headers = {"HX-Request": "true"} if path in FRAGMENTS else {}
        response = await client.get(url, params=params, headers=headers)
        if response.status_code >= 400:
            refused.append(f"{path} -> {response.status_code}")
            continue
        if not any(marker in response.text for marker in values["markers"]):
            continue
        shown.add(path)
        await scope_to_tenant(session, organization_id)
        entries = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.request_id == response.headers["X-Request-ID"],
                    AuditEvent.action.in_(READ_ACTIONS),
                )
            )
        ).all()
        if not any(about(e, values["patient_id"]) for e in entries):
            unrecorded.append(path)
    await anonymous.aclose()
    assert refused == [], f"give these routes what they need in GET_PARAMS: {refused}"
    assert unrecorded == [], f"these routes show a patient without recording the read: {unrecorded}"
    assert shown >= KNOWN_TO_SHOW_THE_PATIENT, sorted(shown)


async def test_one_entry_per_patient_and_reader_per_request(
    session: AsyncSession, clinic: Organization
) -> None:
    doctor = actor_for(await create_user(session, clinic, Role.DOCTOR))
    nurse = actor_for(await create_user(session, clinic, Role.NURSE))
    await scope_to_tenant(session, clinic.id)
    ann, bob = uuid.uuid4(), uuid.uuid4()

    async def entries() -> list[tuple[str, uuid.UUID | None, list[str]]]:
        found = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(READ_ACTIONS))
            # Not chained yet before the commit (seq empty): then the order they were made.
            .order_by(AuditEvent.seq, AuditEvent.id)
        )
        return [
            (e.action, e.actor_user_id, (e.details or {}).get("patient_ids", [])) for e in found
        ]

    await audit.record_read(session, actor=doctor, patient_id=ann, view="chart")
    await audit.record_read(session, actor=doctor, patient_id=ann, view="changes")
    await audit.record_list_read(session, actor=doctor, patient_ids=[ann, bob], view="queue")
    await audit.record_list_read(session, actor=doctor, patient_ids=[bob], view="search")
    await audit.record_read(session, actor=nurse, patient_id=ann, view="chart")
    await audit.record_list_read(session, actor=doctor, patient_ids=[], view="search")
    first = await entries()
    await session.commit()  # the next request
    await audit.record_read(session, actor=doctor, patient_id=ann, view="chart")

    assert first == [
        ("patient.viewed", doctor.user_id, []),
        ("patient.listed", doctor.user_id, [str(bob)]),  # Ann was already recorded
        ("patient.viewed", nurse.user_id, []),
    ]
    assert len(await entries()) == 4
