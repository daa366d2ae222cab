"""The demo clinic that ``clinicdesk demo`` creates: realistic enough to click through.
Each later module adds its part (patients, schedules, queues, invoices ...)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users

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


def demo_password() -> str:
    """A generated password that passes the policy and is easy to type from a terminal."""
    words = ["maple", "harbor", "violet", "canyon", "ember", "willow", "quartz", "meadow"]
    return "-".join(secrets.choice(words) for _ in range(3)) + f"-{secrets.randbelow(90) + 10}"


async def seed_demo_clinic(session: AsyncSession, *, password: str) -> DemoClinic:
    """One organization (admins without mandatory MFA, so scripts can sign in), two
    locations and one user per role, all with ``password``."""
    organization = await organizations.create_organization(
        session,
        name="Riverside Family Clinic",
        time_zone="Europe/London",
        locale="en-GB",
        currency="GBP",
        mfa_required_for_admins=False,
    )
    for name, address, phone, rooms in (
        (
            "Riverside Main",
            "12 River Street, Riverside RS1 2AB",
            "+44 20 7946 0101",
            ["Room 1", "Room 2", "Room 3", "Nurse room"],
        ),
        (
            "Hillview Branch",
            "4 Hill Road, Riverside RS4 8CD",
            "+44 20 7946 0202",
            ["Room A", "Room B"],
        ),
    ):
        await organizations.create_location(
            session,
            actor=SYSTEM,
            data=LocationWrite(name=name, address=address, phone=phone, rooms=rooms),
        )
    for email, full_name, role in DEMO_USERS:
        await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=organization.id,
            email=email,
            full_name=full_name,
            roles=[role],
            password=password,
            email_verified=True,
        )
    return DemoClinic(
        organization_name=organization.name,
        password=password,
        logins=tuple((email, role.value) for email, _name, role in DEMO_USERS),
    )
