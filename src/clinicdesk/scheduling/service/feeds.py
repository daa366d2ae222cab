"""A provider's private calendar feed (``.ics``): issuing and revoking its secret link, and
the feed itself for calendar apps, which fetch it without a session.

Privacy first: a feed may end up in a phone's calendar, a shared family calendar or a
cloud sync, so it carries no patient data at all. An event says what kind of visit it is
(the appointment type), where, and its status; the provider opens ClinicDesk for who.

The link's secret is 256 random bits; only its SHA-256 is stored, so a database leak
does not reveal working links. Issuing a new link revokes the old one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_by_lookup
from clinicdesk.core.tokens import hash_token, new_token
from clinicdesk.identity import public as identity
from clinicdesk.scheduling.errors import FeedNotAllowed, FeedNotFound
from clinicdesk.scheduling.models import Appointment, AppointmentType, Provider
from clinicdesk.scheduling.policies import can_manage_feed
from clinicdesk.scheduling.service.setup import get_provider
from clinicdesk.scheduling.vocabulary import AppointmentStatus

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=90)

# RFC 5545 VEVENT STATUS: TENTATIVE / CONFIRMED / CANCELLED. A no-show is a cancelled
# slot as far as the provider's calendar is concerned.
_ICS_STATUS: dict[str, str] = {
    AppointmentStatus.PROPOSED: "TENTATIVE",
    AppointmentStatus.PENDING: "TENTATIVE",
    AppointmentStatus.CANCELLED: "CANCELLED",
    AppointmentStatus.NOSHOW: "CANCELLED",
}


async def _manageable(session: AsyncSession, actor: Actor, provider_id: uuid.UUID) -> Provider:
    provider = await get_provider(session, provider_id)
    if not can_manage_feed(actor, provider):
        raise FeedNotAllowed("Only the provider or an administrator can manage this link.")
    return provider


async def issue_feed_token(session: AsyncSession, *, actor: Actor, provider_id: uuid.UUID) -> str:
    """A new secret for the provider's feed; the previous link stops working. The raw
    secret is returned once and never stored."""
    provider = await _manageable(session, actor, provider_id)
    secret, secret_hash = new_token()
    before = audit.snapshot(provider)
    provider.feed_token_hash = secret_hash
    await session.flush()
    await audit.record(
        session,
        action="provider.feed_issued",
        actor=actor,
        resource_type="provider",
        resource_id=provider.id,
        changes=audit.changes(before, audit.snapshot(provider)),
    )
    return secret


async def revoke_feed(session: AsyncSession, *, actor: Actor, provider_id: uuid.UUID) -> None:
    provider = await _manageable(session, actor, provider_id)
    if provider.feed_token_hash is None:
        return
    before = audit.snapshot(provider)
    provider.feed_token_hash = None
    await session.flush()
    await audit.record(
        session,
        action="provider.feed_revoked",
        actor=actor,
        resource_type="provider",
        resource_id=provider.id,
        changes=audit.changes(before, audit.snapshot(provider)),
    )


async def feed(session: AsyncSession, token: str) -> str:
    """The ICS text of the feed named by ``token``.

    The caller has no session and no tenant: the database tells whose token it is (and
    nothing else), the session is scoped to that organization, so everything read here
    is that organization's alone."""
    if not 20 <= len(token) <= 100:
        raise FeedNotFound("No calendar feed at this address.")
    await scope_by_lookup(session, Provider.feed_token_hash, hash_token(token))
    provider = await session.scalar(
        select(Provider).where(Provider.feed_token_hash == hash_token(token))
    )
    if provider is None:
        raise FeedNotFound("No calendar feed at this address.")
    now = utcnow()
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.provider_id == provider.id,
            Appointment.starts_at >= now - FEED_PAST,
            Appointment.starts_at < now + FEED_AHEAD,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    appointments = list(rows.all())
    types = {t.id: t for t in await session.scalars(select(AppointmentType))}
    places = {loc.id: loc.name for loc in await identity.list_locations(session)}

    calendar = Calendar()
    calendar.add("prodid", "-//ClinicDesk//Provider schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"ClinicDesk: {provider.display_name}")
    for appointment in appointments:
        kind = types.get(appointment.type_id)
        event = Event()
        event.add("uid", f"{appointment.id}@clinicdesk")
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", kind.name if kind else "Appointment")
        event.add("status", _ICS_STATUS.get(appointment.status, "CONFIRMED"))
        event.add("sequence", appointment.version)
        if appointment.location_id in places:
            event.add("location", places[appointment.location_id])
        calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics.decode()
