"""The links that open a queue screen without signing in: a waiting-room display's
(per location, revocable) and a patient's own status link (one visit, until the end of
that day). Each carries 256 random bits; only the SHA-256 is stored, so a database leak
does not reveal working links.

Resolving a link runs without a tenant: the hash is looked up across tenants (the system
scope, for that one query), then the session is scoped to the link's organization, so
everything else read for the screen is that organization's alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_by_lookup, scope_to_tenant
from clinicdesk.core.tokens import hash_token, new_token
from clinicdesk.identity import public as identity
from clinicdesk.queue.errors import DisplayNotFound, LinkNotFound
from clinicdesk.queue.models import QueueDisplay, Visit
from clinicdesk.queue.schemas import DisplayWrite
from clinicdesk.queue.signals import QueueMoved, queue_moved
from clinicdesk.queue.vocabulary import VisitStatus

# Shorter than this cannot be one of our secrets: refused before any query.
_MIN_SECRET, _MAX_SECRET = 20, 100


@dataclass(frozen=True, slots=True)
class DisplayAccess:
    display_id: uuid.UUID
    organization_id: uuid.UUID
    location_id: uuid.UUID
    show_initials: bool


@dataclass(frozen=True, slots=True)
class VisitAccess:
    visit_id: uuid.UUID
    organization_id: uuid.UUID
    location_id: uuid.UUID
    patient_id: uuid.UUID


def _plausible(secret: str) -> bool:
    return _MIN_SECRET <= len(secret) <= _MAX_SECRET


async def resolve_display(session: AsyncSession, secret: str) -> DisplayAccess:
    """The display behind a link, with the session scoped to its organization."""
    if not _plausible(secret):
        raise LinkNotFound("This display link is not valid. Ask the clinic for a new one.")
    await scope_by_lookup(session, QueueDisplay.secret_hash, hash_token(secret))
    display = await session.scalar(
        select(QueueDisplay).where(QueueDisplay.secret_hash == hash_token(secret))
    )
    if display is None:
        raise LinkNotFound("This display link is not valid. Ask the clinic for a new one.")
    await scope_to_tenant(session, display.organization_id)
    return DisplayAccess(
        display_id=display.id,
        organization_id=display.organization_id,
        location_id=display.location_id,
        show_initials=display.show_initials,
    )


async def resolve_visit(session: AsyncSession, secret: str) -> VisitAccess:
    """The visit behind a patient's status link, until the end of its day."""
    if not _plausible(secret):
        raise LinkNotFound("This link is not valid. Ask at the front desk.")
    await scope_by_lookup(session, Visit.status_link_hash, hash_token(secret))
    visit = await session.scalar(select(Visit).where(Visit.status_link_hash == hash_token(secret)))
    expires = visit.status_link_expires_at if visit is not None else None
    if visit is None or expires is None or expires <= utcnow():
        raise LinkNotFound("This link has expired or is not valid. Ask at the front desk.")
    await scope_to_tenant(session, visit.organization_id)
    return VisitAccess(
        visit_id=visit.id,
        organization_id=visit.organization_id,
        location_id=visit.location_id,
        patient_id=visit.patient_id,
    )


# --- managing displays --------------------------------------------------------------------


async def list_displays(session: AsyncSession) -> list[QueueDisplay]:
    rows = await session.scalars(select(QueueDisplay).order_by(QueueDisplay.name))
    return list(rows.all())


async def _get_display(session: AsyncSession, display_id: uuid.UUID) -> QueueDisplay:
    display = await session.get(QueueDisplay, display_id)
    if display is None:
        raise DisplayNotFound("No display with this id.")
    return display


async def create_display(
    session: AsyncSession, *, actor: Actor, data: DisplayWrite
) -> tuple[QueueDisplay, str]:
    """A new display and its link's secret (shown once)."""
    await identity.get_location(session, data.location_id)
    secret, secret_hash = new_token()
    display = QueueDisplay(
        location_id=data.location_id,
        name=data.name,
        show_initials=data.show_initials,
        secret_hash=secret_hash,
    )
    session.add(display)
    await session.flush()
    await audit.record(
        session,
        action="display.created",
        actor=actor,
        resource_type="queue_display",
        resource_id=display.id,
        changes=audit.changes(None, audit.snapshot(display)),
    )
    return display, secret


async def renew_display(
    session: AsyncSession, *, actor: Actor, display_id: uuid.UUID
) -> tuple[QueueDisplay, str]:
    """A new link for the display; the old one stops working (open screens go dark)."""
    display = await _get_display(session, display_id)
    before = audit.snapshot(display)
    secret, display.secret_hash = new_token()
    await session.flush()
    await audit.record(
        session,
        action="display.renewed",
        actor=actor,
        resource_type="queue_display",
        resource_id=display.id,
        changes=audit.changes(before, audit.snapshot(display)),
    )
    return display, secret


async def revoke_display(
    session: AsyncSession, *, actor: Actor, display_id: uuid.UUID
) -> QueueDisplay:
    display = await _get_display(session, display_id)
    if display.secret_hash is None:
        return display
    before = audit.snapshot(display)
    display.secret_hash = None
    await session.flush()
    await audit.record(
        session,
        action="display.revoked",
        actor=actor,
        resource_type="queue_display",
        resource_id=display.id,
        changes=audit.changes(before, audit.snapshot(display)),
    )
    return display


async def delete_display(session: AsyncSession, *, actor: Actor, display_id: uuid.UUID) -> None:
    display = await _get_display(session, display_id)
    before = audit.snapshot(display)
    await session.delete(display)
    await session.flush()
    await audit.record(
        session,
        action="display.deleted",
        actor=actor,
        resource_type="queue_display",
        resource_id=display_id,
        changes=audit.changes(before, {}),
    )


async def ask_for_text_when_near(session: AsyncSession, secret: str) -> Visit:
    """The patient, from their status page, asks for a text when their turn is near
    (they wait outside). Their own act, audited; the link is their credential."""
    access = await resolve_visit(session, secret)
    visit = await session.get(Visit, access.visit_id)
    if visit is None or visit.status != VisitStatus.WAITING:
        raise LinkNotFound("Your visit is no longer waiting. Ask at the front desk.")
    if visit.text_when_near:
        return visit
    before = audit.snapshot(visit)
    visit.text_when_near = True
    await session.flush()
    await audit.record(
        session,
        action="visit.text_when_near",
        actor=Actor(
            kind=ActorKind.PATIENT,
            organization_id=visit.organization_id,
            patient_id=visit.patient_id,
        ),
        resource_type="visit",
        resource_id=visit.id,
        patient_id=visit.patient_id,
        changes=audit.changes(before, audit.snapshot(visit)),
    )
    # Perhaps two or fewer are ahead already: whose turn is near is worked out again.
    await queue_moved.send(session, QueueMoved(location_id=visit.location_id))
    return visit


async def someone_asked_for_a_text(session: AsyncSession, location_id: uuid.UUID) -> bool:
    """Whether anyone waiting at the location asked to be texted when their turn is near
    (so the work of finding out whose turn is near is done only when it can matter)."""
    found = await session.scalar(
        select(Visit.id)
        .where(
            Visit.location_id == location_id,
            Visit.status == VisitStatus.WAITING,
            Visit.text_when_near.is_(True),
        )
        .limit(1)
    )
    return found is not None
