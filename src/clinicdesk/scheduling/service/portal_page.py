"""The patient's appointments page in the portal, read in one call: what is coming up
and what is past, what they may still change online (the policy decides, not the page),
and what they may book."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.scheduling.models import Appointment, AppointmentType, BookingPolicy, Provider
from clinicdesk.scheduling.policies import PortalChange, is_upcoming, portal_change
from clinicdesk.scheduling.service import setup
from clinicdesk.scheduling.service.portal import get_policy, own_appointments

PAST_SHOWN = 10


@dataclass(slots=True)
class PortalAppointmentsPage:
    policy: BookingPolicy
    now: datetime
    upcoming: list[Appointment] = field(default_factory=list)
    past: list[Appointment] = field(default_factory=list)
    changes: dict[uuid.UUID, PortalChange] = field(default_factory=dict)
    types: dict[uuid.UUID, AppointmentType] = field(default_factory=dict)
    bookable: list[AppointmentType] = field(default_factory=list)
    providers: dict[uuid.UUID, Provider] = field(default_factory=dict)
    locations: list[identity.Location] = field(default_factory=list)  # open for booking
    zones: dict[uuid.UUID, str] = field(default_factory=dict)  # location -> its time zone

    @property
    def first_day(self) -> date:
        """The first day a booking may fall on (the minimum notice)."""
        return (self.now + timedelta(hours=self.policy.min_notice_hours)).date()


def split_upcoming(
    appointments: Iterable[Appointment], *, now: datetime
) -> tuple[list[Appointment], list[Appointment]]:
    """Upcoming (soonest first) and past (latest first), by ``policies.is_upcoming``:
    a finished, cancelled or missed appointment is past whenever it was booked for."""
    upcoming: list[Appointment] = []
    past: list[Appointment] = []
    for appointment in appointments:
        (upcoming if is_upcoming(appointment, now=now) else past).append(appointment)
    upcoming.sort(key=lambda a: a.starts_at)
    past.sort(key=lambda a: a.starts_at, reverse=True)
    return upcoming, past


async def appointments_page(session: AsyncSession, *, actor: Actor) -> PortalAppointmentsPage:
    appointments = await own_appointments(session, actor=actor)
    policy = await get_policy(session)
    page = PortalAppointmentsPage(policy=policy, now=utcnow())
    page.upcoming, page.past = split_upcoming(appointments, now=page.now)
    page.past = page.past[:PAST_SHOWN]
    page.changes = {a.id: portal_change(policy, a, now=page.now) for a in appointments}
    page.types = {t.id: t for t in await setup.list_types(session, active_only=False)}
    page.bookable = [t for t in page.types.values() if t.online_bookable and t.is_active]
    page.providers = {p.id: p for p in await setup.list_providers(session, active_only=False)}
    everywhere = await identity.list_locations(session)
    page.locations = await identity.active_locations(session)
    # Times show in each location's zone (the organization's when it has none).
    page.zones = {loc.id: loc.time_zone for loc in everywhere if loc.time_zone}
    return page
