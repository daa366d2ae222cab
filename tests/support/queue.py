"""Queue test helpers: a clinic whose location's day is in full swing whatever the time
(its time zone is chosen so that the local time is around midday), providers who work
every day, appointments booked for today."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor, ActorKind
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import booking, setup
from tests.support.identity import PASSWORD
from tests.support.patients import register_patient


def zone_near_noon() -> str:
    """A fixed-offset zone where it is now between 10:00 and 14:00, so a test's "today"
    never crosses midnight while it runs."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        hour = (now + timedelta(hours=offset)).hour
        if 10 <= hour < 14:
            # POSIX sign convention: Etc/GMT-3 is three hours AHEAD of UTC.
            return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    return "Etc/UTC"


@dataclass
class QueueClinic:
    organization_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID  # Dr. Ada (doctor_email)
    other_provider_id: uuid.UUID  # Dr. Bo
    consultation_id: uuid.UUID  # 15 minutes
    checkup_id: uuid.UUID  # 30 minutes
    patient_ids: list[uuid.UUID] = field(default_factory=list)
    doctor_email: str = ""
    other_doctor_email: str = ""
    desk_email: str = ""
    admin_email: str = ""
    user_ids: dict[str, uuid.UUID] = field(default_factory=dict)


_NAMES = ("Ann", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun")

BOOKER_PERMISSIONS = frozenset({Permission.SCHEDULING_WRITE, Permission.SCHEDULING_OVERBOOK})


async def make_queue_clinic(
    session: AsyncSession, clinic: Organization, *, patients: int = 6, tag: str | None = None
) -> QueueClinic:
    tag = tag or uuid.uuid4().hex[:6]
    await scope_to_tenant(session, clinic.id)
    emails = {
        role: f"{role.value}-{tag}@queue.example.org"
        for role in (Role.DOCTOR, Role.RECEPTIONIST, Role.ADMIN)
    }
    created = {}
    for role, email in emails.items():
        created[role] = await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=clinic.id,
            email=email,
            full_name=f"Queue {role.value}",
            roles=[role],
            password=PASSWORD,
        )
    other_email = f"doctor2-{tag}@queue.example.org"
    other = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=other_email,
        full_name="Bo Second",
        roles=[Role.DOCTOR],
        password=PASSWORD,
    )
    location = await organizations.create_location(
        session,
        actor=SYSTEM,
        data=LocationWrite(
            name="Main Street",
            time_zone=zone_near_noon(),
            rooms=["Room 1", "Room 2", "Room 3", "Room 4", "Room 5"],
        ),
    )
    providers = []
    for user, name in ((created[Role.DOCTOR], "Dr. Ada"), (other, "Dr. Bo")):
        provider = await setup.create_provider(
            session,
            actor=SYSTEM,
            data=ProviderWrite(user_id=user.id, display_name=name, location_ids=[location.id]),
        )
        every_day = [
            HoursBlock(location_id=location.id, weekday=d, start_time=time(0), end_time=time(23))
            for d in range(7)
        ]
        await setup.set_weekly_hours(
            session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=every_day)
        )
        providers.append(provider)
    consultation = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(name=f"Consultation {tag}", duration_minutes=15),
    )
    checkup = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(name=f"Check-up {tag}", duration_minutes=30),
    )
    patient_ids = []
    for n in range(patients):
        patient = await register_patient(
            session,
            given_name=_NAMES[n % len(_NAMES)],
            family_name=f"Queue{chr(97 + n % 26)}",
            birth_date=date(1950 + n, 1, 1 + n % 28),
        )
        patient_ids.append(patient.id)
    await session.commit()
    return QueueClinic(
        organization_id=clinic.id,
        location_id=location.id,
        provider_id=providers[0].id,
        other_provider_id=providers[1].id,
        consultation_id=consultation.id,
        checkup_id=checkup.id,
        patient_ids=patient_ids,
        doctor_email=emails[Role.DOCTOR],
        other_doctor_email=other_email,
        desk_email=emails[Role.RECEPTIONIST],
        admin_email=emails[Role.ADMIN],
        user_ids={
            "doctor": created[Role.DOCTOR].id,
            "desk": created[Role.RECEPTIONIST].id,
            "admin": created[Role.ADMIN].id,
            "other_doctor": other.id,
        },
    )


async def book_today(
    session: AsyncSession,
    qc: QueueClinic,
    patient_id: uuid.UUID,
    *,
    minutes_from_now: int = 0,
    provider_id: uuid.UUID | None = None,
    type_id: uuid.UUID | None = None,
    on: datetime | None = None,
) -> uuid.UUID:
    """An appointment for today (overbooked, so any time goes; a time already begun is
    booked as a recorded past visit, as the front desk would)."""
    booker = Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        permissions=BOOKER_PERMISSIONS,
    )
    await scope_to_tenant(session, qc.organization_id)
    start = on or (datetime.now(UTC) + timedelta(minutes=minutes_from_now)).replace(microsecond=0)
    appointment = await booking.book(
        session,
        actor=booker,
        data=AppointmentCreate(
            patient_id=patient_id,
            provider_id=provider_id or qc.provider_id,
            location_id=qc.location_id,
            type_id=type_id or qc.consultation_id,
            starts_at=start,
            overbook=True,
            overbook_reason="test",
            record_past_visit=True,
        ),
    )
    await session.commit()
    return appointment.id


async def seed_queue_database(
    url: str, *, patients: int = 6, appointments: int = 0, grant_to: str | None = None
) -> QueueClinic:
    """Migrate an empty database and seed a queue clinic in it (for server-process
    tests); ``appointments`` booked for today with Dr. Ada, one per patient."""
    db = create_database(url, pool_size=2)
    try:
        await migrations.upgrade(db, grant_to=grant_to)
        async with session_scope(db) as session:
            org = await organizations.create_organization(
                session, name="Queue Clinic", mfa_required_for_admins=False
            )
            qc = await make_queue_clinic(session, org, patients=patients, tag="live")
            for n, patient_id in enumerate(qc.patient_ids[:appointments]):
                await book_today(session, qc, patient_id, minutes_from_now=5 * n)
            return qc
    finally:
        await db.dispose()


async def book_today_over_http(
    client: httpx.AsyncClient, headers: dict[str, str], qc: QueueClinic
) -> list[str]:
    """The ids of today's still-booked appointments at the clinic's location."""
    now = datetime.now(UTC)
    listed = await client.get(
        "/api/v1/appointments",
        params={
            "start": (now - timedelta(hours=12)).isoformat(),
            "end": (now + timedelta(hours=12)).isoformat(),
            "location_id": str(qc.location_id),
        },
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    return [a["id"] for a in listed.json()["items"] if a["status"] == "booked"]


__all__ = ["PASSWORD", "QueueClinic", "book_today", "make_queue_clinic", "seed_queue_database"]
