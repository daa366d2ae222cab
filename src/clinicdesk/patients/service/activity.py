"""A chart's history and its viewers, both read from the audit trail, and portal
invitations. The trail is the record history: nothing here keeps a second copy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import IdentityConfig, User
from clinicdesk.patients.errors import PortalInviteRefused
from clinicdesk.patients.history_fields import ShownChange, shown_changes
from clinicdesk.patients.models import Patient
from clinicdesk.patients.service.common import get_patient, get_writable_patient, record_read

VIEW_ACTIONS = ("patient.viewed", "patient.identifier_revealed", "document.downloaded")
# A read of a list that named the patient (a day list, a search): not a change to the chart.
LISTED_ACTIONS = ("patient.listed",)
PAGE = 50


@dataclass(frozen=True, slots=True)
class ActivityItem:
    occurred_at: datetime
    action: str
    who: str
    roles: list[str]
    resource_type: str | None
    changes: dict[str, Any] | None
    details: dict[str, Any] | None

    @property
    def shown_changes(self) -> list[ShownChange]:
        """The changes a reader recognizes, in words (no ids, no bookkeeping columns)."""
        return shown_changes(self.resource_type, self.changes)


@dataclass(frozen=True, slots=True)
class ActivityPage:
    items: list[ActivityItem]
    next_cursor: str | None


async def _record_ids(session: AsyncSession, patient: Patient) -> list[uuid.UUID]:
    """The record and every record merged into it: their history is this chart's too."""
    merged = await session.scalars(select(Patient.id).where(Patient.merged_into_id == patient.id))
    return [patient.id, *merged]


async def _page(
    session: AsyncSession,
    patient: Patient,
    *,
    cursor: str | None,
    only: tuple[str, ...] | None,
    skip: tuple[str, ...],
) -> ActivityPage:
    offset = decode_cursor(cursor)
    events = await audit.patient_trail(
        session,
        patient_ids=await _record_ids(session, patient),
        only_actions=only,
        except_actions=skip,
        offset=offset,
        limit=PAGE + 1,
    )
    names = await identity.names_of(session, {e.actor_user_id for e in events if e.actor_user_id})
    items = [
        ActivityItem(
            occurred_at=e.occurred_at,
            action=e.action,
            who=names.get(e.actor_user_id, "Former user") if e.actor_user_id else "System",
            roles=list(e.actor_roles or []),
            resource_type=e.resource_type,
            changes=e.changes,
            details=e.details,
        )
        for e in events[:PAGE]
    ]
    more = len(events) > PAGE
    return ActivityPage(items=items, next_cursor=encode_cursor(offset + PAGE) if more else None)


async def chart_history(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, cursor: str | None = None
) -> ActivityPage:
    """Who changed what on this chart, and when (reads are left out: see ``viewers``).
    The history holds past values of the record, so reading it is a read of the chart."""
    patient = await get_patient(session, patient_id, actor=actor)
    await record_read(session, actor=actor, patient=patient, what="changes")
    return await _page(
        session, patient, cursor=cursor, only=None, skip=VIEW_ACTIONS + LISTED_ACTIONS
    )


async def viewers(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, cursor: str | None = None
) -> ActivityPage:
    """Who looked at this record: what the patient sees in the portal."""
    patient = await get_patient(session, patient_id, actor=actor)
    return await _page(session, patient, cursor=cursor, only=VIEW_ACTIONS, skip=())


async def portal_accounts(session: AsyncSession, *, patient_id: uuid.UUID) -> list[User]:
    return await identity.portal_accounts_of(session, patient_id=patient_id)


async def invite_to_portal(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    email: str | None,
    config: IdentityConfig,
) -> User:
    """A portal account bound to this record, with a sign-up link sent by e-mail."""
    patient = await get_writable_patient(session, patient_id, actor=actor)
    address = email or patient.email
    if not address:
        raise PortalInviteRefused(
            "This patient has no e-mail address. Add one to the record or type it here."
        )
    if await portal_accounts(session, patient_id=patient.id):
        raise PortalInviteRefused("This patient already has a portal account.")
    user = await identity.invite_user(
        session,
        actor=actor,
        email=address,
        full_name=patient.display_name,
        roles=[],
        config=config,
        patient_id=patient.id,
    )
    await audit.record(
        session,
        action="patient.portal_invited",
        actor=actor,
        resource_type="patient",
        resource_id=patient.id,
        patient_id=patient.id,
        details={"user_id": str(user.id)},
    )
    return user
