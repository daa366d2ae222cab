"""Pages show what people read, not what the database holds: dates in the clinic's date
format, vocabulary values as words, the chart's history without bookkeeping columns,
and a visit already over listed as past (chart and portal)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM, Actor, ActorKind
from clinicdesk.core.labels import humanize, label, register_labels
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.service import users
from clinicdesk.patients.vocabulary import LABELS as PATIENT_LABELS
from clinicdesk.queue.schemas import AppointmentCheckIn
from clinicdesk.queue.service import checkin, flow
from clinicdesk.queue.vocabulary import LABELS as QUEUE_LABELS
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.vocabulary import LABELS as SCHEDULING_LABELS
from tests.support.identity import SignIn
from tests.support.queue import QueueClinic, book_today, make_queue_clinic

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
HTMX = {"HX-Request": "true"}


def visible_text(html: str) -> str:
    """What a reader sees: no tags (so no attribute values), no scripts."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _staff(qc: QueueClinic) -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["doctor"],
        permissions=frozenset(
            {Permission.PATIENTS_WRITE, Permission.SCHEDULING_WRITE, Permission.QUEUE_WRITE}
        ),
    )


async def _finished_early_and_one_ahead(
    session: AsyncSession, clinic: Organization
) -> tuple[QueueClinic, uuid.UUID, uuid.UUID, uuid.UUID]:
    """A patient seen today before their booked time (checked in early, the visit
    finished: the appointment is fulfilled though its time is still ahead), and booked
    again in a week."""
    qc = await make_queue_clinic(session, clinic, patients=1)
    (patient_id,) = qc.patient_ids
    actor = _staff(qc)
    soon = (datetime.now(UTC) + timedelta(minutes=90)).replace(second=0, microsecond=0)
    seen = await book_today(session, qc, patient_id, on=soon)
    later = await book_today(session, qc, patient_id, on=soon + timedelta(days=7))
    visit, _secret = await checkin.check_in_appointment(
        session, actor=actor, data=AppointmentCheckIn(appointment_id=seen)
    )
    await flow.call(session, actor=actor, visit_id=visit.id, room="Room 2")
    await flow.start(session, actor=actor, visit_id=visit.id)
    await flow.finish(session, actor=actor, visit_id=visit.id)
    await session.commit()
    assert (await session.get(Appointment, seen)).status == "fulfilled"  # type: ignore[union-attr]
    return qc, patient_id, seen, later


async def _user(session: AsyncSession, qc: QueueClinic, key: str) -> User:
    found = await session.get(User, qc.user_ids[key])
    assert found is not None
    return found


def _section(html: str, title: str, until: str) -> str:
    return html.split(f">{title}<", 1)[1].split(until, 1)[0]


async def test_the_chart_lists_a_finished_visit_as_past_in_words_and_clinic_dates(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    qc, patient_id, seen, later = await _finished_early_and_one_ahead(session, clinic)
    doctor = await sign_in_web(await _user(session, qc, "doctor"))

    listed = await doctor.get(f"/scheduling/patients/{patient_id}/appointments", headers=HTMX)
    assert listed.status_code == 200, listed.text
    upcoming = _section(listed.text, "Upcoming", ">Past<")
    past = _section(listed.text, "Past", "</article>")
    assert str(later) in upcoming and str(seen) not in upcoming
    assert str(seen) in past and "Seen" in past
    shown = visible_text(listed.text)
    assert not ISO_DATE.search(shown), shown
    assert re.search(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b", shown)  # MM/DD/YYYY, the default

    chart = await doctor.get(f"/patients/{patient_id}")
    assert chart.status_code == 200
    changes = visible_text(chart.text.split('id="changes"', 1)[1])
    for internal in ("busy_until", "holds_slot", "order_key", "status_link_hash", "token_number"):
        assert internal not in changes
        assert humanize(internal) not in changes
    assert "Status : Arrived → Seen" in changes  # the appointment's status, in words
    assert "Status : In consultation → Done" in changes  # the visit's
    assert "Priority : — → Normal" in changes
    assert "Queue number : — → " in changes
    assert "Patient listed" not in changes  # a read, not a change
    assert not ISO_DATE.search(visible_text(chart.text))

    details = await doctor.get(f"/calendar/appointments/{later}")
    assert details.status_code == 200
    assert not ISO_DATE.search(visible_text(details.text))


async def test_the_portal_lists_a_finished_visit_as_past(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    _qc, patient_id, _seen, _later = await _finished_early_and_one_ahead(session, clinic)
    await scope_to_tenant(session, clinic.id)
    portal_user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email="marta@example.org",
        full_name="Marta",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient_id,
    )
    await session.commit()
    browser: httpx.AsyncClient = await sign_in_web(portal_user)

    page = await browser.get("/portal/appointments")
    assert page.status_code == 200, page.text
    coming_up = _section(page.text, "Coming up", "</article>")
    assert coming_up.split("<tbody>", 1)[1].count("<tr>") == 1  # next week's only
    assert "Seen" not in coming_up
    assert "fulfilled" not in visible_text(page.text)
    assert not ISO_DATE.search(visible_text(page.text))


@pytest.mark.parametrize(
    ("value", "vocabulary", "shown"),
    [
        ("fulfilled", "appointment_status", "Seen"),
        ("male", "sex_at_birth", "Male"),
        ("in_consultation", "visit_status", "In consultation"),
        ("noshow", "appointment_status", "No-show"),
        ("something_new", "appointment_status", "Something new"),
        (None, None, "—"),
    ],
)
def test_labels_come_from_the_vocabularies(
    value: str | None, vocabulary: str | None, shown: str
) -> None:
    # As ``create_app`` registers them (the page tests above see them through the app).
    for vocabularies in (PATIENT_LABELS, SCHEDULING_LABELS, QUEUE_LABELS):
        register_labels(vocabularies)
    assert label(value, vocabulary) == shown
