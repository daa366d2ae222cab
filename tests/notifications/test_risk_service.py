"""No-show risk on SQLite and PostgreSQL: training on an organization's history stores
its model, scoring writes the appointment's risk (no new version, no audit entry), the
nightly job trains each organization and rescores what is booked, and the calendar marks
a high-risk appointment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import mail_sender
from clinicdesk.audit.models import AuditEvent
from clinicdesk.config import Settings
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import Database
from clinicdesk.core.jobs import JobRegistry, enqueue
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications import risk_model
from clinicdesk.notifications.channels import senders_from_settings
from clinicdesk.notifications.risk_records import NoShowModel
from clinicdesk.notifications.service import risk
from clinicdesk.notifications.tasks import (
    NO_SHOW_TRAIN_ALL,
    NoShowTrainAll,
    register_notification_jobs,
)
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.schemas import AppointmentCreate
from clinicdesk.scheduling.service import booking
from tests.support.identity import SignIn, create_org, create_user
from tests.support.jobs import run_jobs_in
from tests.support.scheduling import Book, make_book
from tests.support.sql import statements_of

HISTORY = 120  # per patient


def misses(patient: int, i: int) -> bool:
    """The first patient misses two in five, the second one in twenty."""
    return i % 5 < 2 if patient == 0 else i % 20 == 0


async def seed_history(session: AsyncSession, book: Book) -> None:
    """240 finished appointments over the past year (an hour apart, so none overlaps),
    booked 1 to 30 days ahead; a cancelled and a never-marked one that must not count."""
    start = datetime.combine(utcnow().date() - timedelta(days=400), time(9), tzinfo=UTC)
    patients = (book.patient_id, book.other_patient_id)
    for i in range(HISTORY):
        for p, patient_id in enumerate(patients):
            starts_at = start + timedelta(days=3 * i, hours=p)
            missed = misses(p, i)
            session.add(
                Appointment(
                    patient_id=patient_id,
                    provider_id=book.provider_id,
                    location_id=book.location_id,
                    type_id=book.type_id,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=30),
                    busy_until=starts_at + timedelta(minutes=30),
                    status=scheduling.AppointmentStatus.NOSHOW
                    if missed
                    else scheduling.AppointmentStatus.FULFILLED,
                    holds_slot=not missed,
                    created_at=starts_at - timedelta(days=1 + i % 30),
                )
            )
    for status in (scheduling.AppointmentStatus.CANCELLED, scheduling.AppointmentStatus.BOOKED):
        starts_at = start + timedelta(days=1, hours=4 if status == "booked" else 5)
        session.add(
            Appointment(
                patient_id=book.other_patient_id,
                provider_id=book.provider_id,
                location_id=book.location_id,
                type_id=book.type_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
                busy_until=starts_at + timedelta(minutes=30),
                status=status,
                holds_slot=status == "booked",
            )
        )
    await session.commit()


async def book_upcoming(
    session: AsyncSession, book: Book, patient_id: uuid.UUID, hour: int
) -> Appointment:
    appointment = await booking.book(
        session,
        actor=SYSTEM,
        data=AppointmentCreate(
            patient_id=patient_id,
            provider_id=book.provider_id,
            location_id=book.location_id,
            type_id=book.type_id,
            starts_at=datetime.combine(book.monday, time(hour), tzinfo=UTC),
        ),
    )
    await session.commit()
    return appointment


async def test_history_leaves_out_cancelled_and_unmarked_appointments(
    session: AsyncSession, clinic: Organization
) -> None:
    book = await make_book(session, clinic)
    await seed_history(session, book)
    history = await scheduling.no_show_history(
        session, utcnow() - timedelta(days=730), until=utcnow()
    )
    assert len(history) == 2 * HISTORY
    assert sum(h.no_show for h in history) == 48 + 6
    assert [h.starts_at for h in history] == sorted(h.starts_at for h in history)
    assert {h.time_zone for h in history} == {"UTC"}
    records = await scheduling.attendance_before(
        session, [book.patient_id, book.other_patient_id, uuid.uuid4()], utcnow()
    )
    assert records == {
        book.patient_id: scheduling.Attendance(HISTORY, 48),
        book.other_patient_id: scheduling.Attendance(HISTORY, 6),
    }


async def test_training_stores_the_model_and_scoring_writes_the_risk(
    session: AsyncSession, clinic: Organization
) -> None:
    book = await make_book(session, clinic)
    await seed_history(session, book)
    assert await risk.latest_model(session) is None

    model = await risk.train(session)
    await session.commit()
    assert model is not None and model.kind == "logistic"
    assert model.n_samples == 2 * HISTORY and model.n_no_shows == 54
    assert model.auc is not None and model.holdout_size == 48
    row = (await session.scalars(select(NoShowModel))).one()
    assert (row.kind, row.n_samples, row.auc) == ("logistic", 240, model.auc)
    assert row.base_rate == model.base_rate
    assert await risk.latest_model(session) == model

    often_absent = await book_upcoming(session, book, book.patient_id, 9)
    reliable = await book_upcoming(session, book, book.other_patient_id, 10)
    versions = (often_absent.version, reliable.version)
    audit_entries = await session.scalar(select(func.count()).select_from(AuditEvent))

    high = await risk.score(session, often_absent.id)
    low = await risk.score(session, reliable.id)
    await session.commit()
    assert high > low
    assert high > model.base_rate > low
    for appointment, expected in ((often_absent, high), (reliable, low)):
        await session.refresh(appointment)
        assert appointment.no_show_risk == expected
    # Derived: no new version for an open form to trip over, nothing on the audit trail.
    assert (often_absent.version, reliable.version) == versions
    assert await session.scalar(select(func.count()).select_from(AuditEvent)) == audit_entries

    parts = await risk.explain_appointment(session, often_absent.id, {})
    assert sum(v for _, v in parts) == pytest.approx(risk_model.logit(high))


async def test_without_a_model_the_prior_scores(
    session: AsyncSession, clinic: Organization
) -> None:
    book = await make_book(session, clinic)
    await seed_history(session, book)
    appointment = await book_upcoming(session, book, book.patient_id, 9)
    found = await risk.score(session, appointment.id)
    assert found == risk_model.smoothed_rate(48, HISTORY, risk_model.DEFAULT_BASE_RATE)


async def test_a_short_history_stores_the_prior(
    session: AsyncSession, clinic: Organization
) -> None:
    book = await make_book(session, clinic)
    assert await risk.train(session) is None  # nothing finished yet: nothing stored
    start = utcnow() - timedelta(days=30)
    for i, status in enumerate(("noshow", "fulfilled", "fulfilled")):
        starts_at = start + timedelta(days=i)
        session.add(
            Appointment(
                patient_id=book.patient_id,
                provider_id=book.provider_id,
                location_id=book.location_id,
                type_id=book.type_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
                busy_until=starts_at + timedelta(minutes=30),
                status=status,
                holds_slot=status != "noshow",
            )
        )
    await session.commit()
    model = await risk.train(session)
    assert model is not None and model.kind == "prior" and model.n_samples == 3
    assert model.base_rate == risk_model.organization_rate(1, 3)


async def test_the_nightly_job_trains_each_organization_and_rescores(
    session: AsyncSession, db: Database, clinic: Organization, settings: Settings
) -> None:
    book = await make_book(session, clinic)
    await seed_history(session, book)
    upcoming = await book_upcoming(session, book, book.patient_id, 9)
    booked_risk = upcoming.no_show_risk  # scored with the prior when booked
    assert booked_risk is not None

    registry = JobRegistry()
    register_notification_jobs(
        registry, senders=senders_from_settings(settings, mail_sender(settings))
    )
    assert "notifications.no_show.train" in {s.name for s in registry.schedules}
    await use_system_scope(session)
    await enqueue(session, NO_SHOW_TRAIN_ALL, NoShowTrainAll())
    await session.commit()
    ran = await run_jobs_in(session, db, registry)
    assert ran == 2  # the system job, then the clinic's training

    await scope_to_tenant(session, clinic.id)
    model = await risk.latest_model(session)
    assert model is not None and model.kind == "logistic"
    scored = await session.scalar(
        select(Appointment.no_show_risk).where(Appointment.id == upcoming.id)
    )
    assert scored is not None and scored > model.base_rate


async def test_the_calendar_marks_a_high_risk_appointment(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    book = await make_book(session, clinic)
    risky = await book_upcoming(session, book, book.patient_id, 9)
    calm = await book_upcoming(session, book, book.other_patient_id, 10)
    await scheduling.set_no_show_risk(session, risky.id, 0.46)
    await scheduling.set_no_show_risk(session, calm.id, 0.29)
    await session.commit()
    client: httpx.AsyncClient = await sign_in_web(
        await create_user(session, clinic, Role.RECEPTIONIST)
    )
    day = book.monday.isoformat()

    listing = await client.get(
        "/calendar/list", params={"location_id": str(book.location_id), "date": day}
    )
    assert listing.status_code == 200, listing.text
    assert listing.text.count("High no-show risk") == 1
    assert 'title="Predicted no-show risk: 46 %"' in listing.text

    details = await client.get(f"/calendar/appointments/{risky.id}")
    assert "High no-show risk" in details.text and "46 %" in details.text
    other = await client.get(f"/calendar/appointments/{calm.id}")
    assert other.status_code == 200 and "High no-show risk" not in other.text

    events = await client.get(
        "/calendar/events",
        params={
            "location_id": str(book.location_id),
            "start": f"{day}T00:00",
            "end": f"{day}T23:59",
        },
    )
    shown = {e["id"]: e for e in events.json() if "id" in e}
    assert "cal-risk-high" in shown[str(risky.id)]["classNames"]
    assert shown[str(risky.id)]["title"].startswith("⚠")
    assert "High no-show risk (46 %)" in shown[str(risky.id)]["extendedProps"]["details"]
    assert "cal-risk-high" not in shown[str(calm.id)]["classNames"]
    assert "no-show risk" not in shown[str(calm.id)]["extendedProps"]["details"]


async def test_scoring_in_the_booking_transaction_is_a_few_statements(
    session: AsyncSession, clinic: Organization
) -> None:
    """The booking reaction scores before the booking commits: the appointment is in the
    session already; what is read is the patient's record, the zone, the newest model."""
    book = await make_book(session, clinic)
    await seed_history(session, book)
    await risk.train(session)
    await session.commit()
    appointment = await booking.book(
        session,
        actor=SYSTEM,
        data=AppointmentCreate(
            patient_id=book.patient_id,
            provider_id=book.provider_id,
            location_id=book.location_id,
            type_id=book.type_id,
            starts_at=datetime.combine(book.monday, time(9), tzinfo=UTC),
        ),
    )
    with statements_of(session) as seen:
        found = await risk.score(session, appointment.id)
    assert appointment.no_show_risk == found
    reads = [s for s in seen if s.startswith("SELECT") and "set_config" not in s]
    writes = [s for s in seen if s.startswith("UPDATE")]
    assert len(reads) <= 3, "\n".join(seen)
    assert len(writes) == 1 and "appointments" in writes[0]
    assert any("no_show_models" in s and "LIMIT" in s for s in reads)


async def test_training_keeps_the_newest_models_of_its_own_organization(
    session: AsyncSession, clinic: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await create_org(session, "Elsewhere")
    await scope_to_tenant(session, other.id)
    session.add(
        NoShowModel(
            trained_at=utcnow() - timedelta(days=90),
            kind="prior",
            model="{}",
            n_samples=3,
            base_rate=0.1,
        )
    )
    await session.commit()
    book = await make_book(session, clinic)
    await seed_history(session, book)
    monkeypatch.setattr(risk, "KEEP_MODELS", 2)
    nights = [utcnow() - timedelta(days=d) for d in (3, 2, 1)]
    for night in nights:
        await risk.train(session, now=night)
    await session.commit()
    kept = await session.scalars(select(NoShowModel.trained_at).order_by(NoShowModel.trained_at))
    assert list(kept) == nights[1:]
    await scope_to_tenant(session, other.id)
    assert len((await session.scalars(select(NoShowModel))).all()) == 1
