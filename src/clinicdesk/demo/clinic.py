"""The demo clinic that ``clinicdesk demo`` creates: realistic enough to click through.
Each later module adds its part (patients, schedules, queues, invoices ...)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.config import Settings
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.storage import DocumentStorage, storage_from_settings
from clinicdesk.demo.billing import DemoBilling, seed_demo_billing
from clinicdesk.demo.consultations import DemoConsultations, seed_demo_consultations
from clinicdesk.demo.fees import seed_demo_fee_schedule
from clinicdesk.demo.orders import seed_demo_catalogue
from clinicdesk.demo.patient_plan import (
    DEMO_PATIENT_COUNT,
)
from clinicdesk.demo.patients import DemoPatients, seed_demo_patients
from clinicdesk.demo.queue import DemoQueue, seed_demo_queue
from clinicdesk.demo.schedule import HILLVIEW, MAIN, DemoSchedule, seed_demo_schedule
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.identity.service.common import actor_for

DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("admin@example.com", "Alex Admin", Role.ADMIN),
    ("doctor@example.com", "Dr. Dana Reyes", Role.DOCTOR),
    ("nurse@example.com", "Nico Nurse", Role.NURSE),
    ("reception@example.com", "Rita Reception", Role.RECEPTIONIST),
    ("billing@example.com", "Bill Ingram", Role.BILLING),
)


@dataclass(frozen=True, slots=True)
class DemoClinic:
    organization_name: str
    password: str
    logins: tuple[tuple[str, str], ...]
    patients: DemoPatients
    schedule: DemoSchedule
    queue: DemoQueue
    consultations: DemoConsultations
    fees: int = 0  # items of the fee schedule
    billing: DemoBilling | None = None


# Short, unrelated, easy to type on any keyboard layout; all distinct.
_PASSWORD_WORDS = (
    "maple",
    "harbor",
    "violet",
    "canyon",
    "ember",
    "willow",
    "quartz",
    "meadow",
    "anchor",
    "basil",
    "cobalt",
    "dune",
    "falcon",
    "garnet",
    "hazel",
    "indigo",
    "juniper",
    "kettle",
    "lagoon",
    "marble",
    "nectar",
    "orbit",
    "pebble",
    "quill",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "velvet",
    "walnut",
    "yarrow",
    "zephyr",
    "acorn",
    "birch",
    "cedar",
    "delta",
    "fern",
    "glacier",
    "heron",
    "iris",
    "jasper",
    "kelp",
    "lantern",
    "mango",
    "nutmeg",
    "opal",
    "pine",
    "ridge",
    "sorrel",
    "thistle",
    "cove",
    "bramble",
    "cinder",
    "drift",
    "ginger",
    "hollow",
    "lichen",
    "mosaic",
    "osprey",
    "prairie",
    "reef",
    "spruce",
    "tulip",
    "wren",
)


def demo_password() -> str:
    """A generated password that passes the policy and is easy to type from a terminal.

    Four different words of 64 and a number: about 2^31 choices, far beyond what the
    sign-in throttle lets anyone try. Words are drawn without repeats: "maple-maple-
    maple" is a repeat that the policy refuses."""
    words = secrets.SystemRandom().sample(_PASSWORD_WORDS, 4)
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


async def seed_demo_clinic(
    session: AsyncSession,
    *,
    password: str,
    storage: DocumentStorage | None = None,
    patient_count: int = DEMO_PATIENT_COUNT,
) -> DemoClinic:
    """One organization (admins without mandatory MFA, so scripts can sign in), two
    locations, one user per role, all with ``password``, and ``patient_count`` patients
    (see ``patient_plan``) with a month of past and two weeks of coming appointments
    (``schedule``). Documents go to ``storage``; by default the one the
    environment's settings choose (the CLI has pointed them at the demo directory)."""
    organization = await organizations.create_organization(
        session,
        name="Riverside Family Clinic",
        time_zone="America/New_York",
        locale="en-US",
        currency="USD",
        mfa_required_for_admins=False,
    )
    locations: dict[str, uuid.UUID] = {}
    for key, name, address, phone, rooms in (
        (
            MAIN,
            "Riverside Main",
            "12 River Street, Brooklyn, NY 11201",
            "+1 718 555 0101",
            ["Room 1", "Room 2", "Room 3", "Nurse room"],
        ),
        (
            HILLVIEW,
            "Hillview Branch",
            "4 Hill Road, Queens, NY 11375",
            "+1 718 555 0102",
            ["Room A", "Room B"],
        ),
    ):
        location = await organizations.create_location(
            session,
            actor=SYSTEM,
            data=LocationWrite(name=name, address=address, phone=phone, rooms=rooms),
        )
        locations[key] = location.id
    actors: dict[Role, Actor] = {}
    for email, full_name, role in DEMO_USERS:
        user = await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=organization.id,
            email=email,
            full_name=full_name,
            roles=[role],
            password=password,
            email_verified=True,
        )
        actors[role] = actor_for(user)
    patients = await seed_demo_patients(
        session,
        front_desk=actors[Role.RECEPTIONIST],
        clinician=actors[Role.DOCTOR],
        billing=actors[Role.BILLING],
        storage=storage or storage_from_settings(Settings()),
        count=patient_count,
    )
    schedule = await seed_demo_schedule(
        session,
        admin=actors[Role.ADMIN],
        front_desk=actors[Role.RECEPTIONIST],
        doctor=actors[Role.DOCTOR],
        nurse=actors[Role.NURSE],
        locations=locations,
        zone=ZoneInfo(organization.time_zone),
    )
    queue = await seed_demo_queue(
        session,
        front_desk=actors[Role.RECEPTIONIST],
        doctor=actors[Role.DOCTOR],
        nurse=actors[Role.NURSE],
        provider_ids=(schedule.providers[0], schedule.providers[1]),
        main_location=locations[MAIN],
        zone=ZoneInfo(organization.time_zone),
    )
    await seed_demo_catalogue(session, admin=actors[Role.ADMIN])
    consultations = await seed_demo_consultations(session)
    fees = await seed_demo_fee_schedule(
        session,
        admin=actors[Role.ADMIN],
        today=utcnow().astimezone(ZoneInfo(organization.time_zone)).date(),
    )
    billing = await seed_demo_billing(
        session, front_desk=actors[Role.RECEPTIONIST], zone=ZoneInfo(organization.time_zone)
    )
    return DemoClinic(
        organization_name=organization.name,
        password=password,
        logins=tuple((email, role.value) for email, _name, role in DEMO_USERS),
        patients=patients,
        schedule=schedule,
        queue=queue,
        consultations=consultations,
        fees=fees,
        billing=billing,
    )
