"""Restricted records and emergency ("break-glass") access.

Rules:
* A restricted record opens to staff only through a grant: its care team (no end) or a
  break-glass grant (until it expires). Portal users reach only their own record anyway.
  Lists (search, the day's appointments, the queue) still name the patient: the front
  desk must be able to check them in; the record itself stays closed.
* Only clinicians (``clinical:read``: doctors and nurses) may break the glass, with a
  reason. The grant covers that one patient for ``break_glass_minutes``; it is audited
  as ``patient.break_glass`` with the reason and the end, and every read under it is
  audited as usual. Admins see every use on one report (HIPAA 164.312(a)(2)(ii)).
* Marking a record restricted puts the clinician who does it on its care team.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.models import utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.patients.errors import BreakGlassRefused, RestrictedRecord
from clinicdesk.patients.models import AccessGrant, Patient
from clinicdesk.patients.policies import sees_clinical
from clinicdesk.patients.vocabulary import GrantKind

MIN_REASON = 15
BREAK_GLASS = "patient.break_glass"


async def active_grant(
    session: AsyncSession, *, user_id: uuid.UUID, patient_id: uuid.UUID
) -> AccessGrant | None:
    now = utcnow()
    return await session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.user_id == user_id,
            AccessGrant.patient_id == patient_id,
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now),
        )
        .limit(1)
    )


async def check_restricted(session: AsyncSession, *, actor: Actor, patient: Patient) -> None:
    """Refuse a restricted record to staff without a grant (``RestrictedRecord``, which
    tells the page whether this caller may break the glass)."""
    if not patient.restricted or actor.kind != ActorKind.STAFF or actor.user_id is None:
        return
    if await active_grant(session, user_id=actor.user_id, patient_id=patient.id):
        return
    raise RestrictedRecord(
        "This record is restricted to its care team."
        + (
            " In an emergency you can open it for a limited time: give the reason."
            if may_break_glass(actor)
            else " Ask a clinician on the care team."
        ),
        patient_id=str(patient.id),
        emergency_access=may_break_glass(actor),
    )


def may_break_glass(actor: Actor) -> bool:
    return actor.kind == ActorKind.STAFF and sees_clinical(actor)


async def set_restricted(
    session: AsyncSession, *, actor: Actor, patient: Patient, restricted: bool
) -> Patient:
    """Mark the record restricted (the actor joins its care team) or open it again."""
    if patient.restricted == restricted:
        return patient
    before = audit.snapshot(patient)
    patient.restricted = restricted
    if restricted and actor.user_id is not None:
        session.add(
            AccessGrant(
                patient_id=patient.id,
                user_id=actor.user_id,
                kind=GrantKind.CARE_TEAM,
                reason="Restricted the record",
                created_at=utcnow(),
            )
        )
    await session.flush()
    await audit.record(
        session,
        action="patient.restricted" if restricted else "patient.unrestricted",
        actor=actor,
        resource_type="patient",
        resource_id=patient.id,
        patient_id=patient.id,
        changes=audit.changes(before, audit.snapshot(patient)),
    )
    return patient


async def break_glass(
    session: AsyncSession, *, actor: Actor, patient: Patient, reason: str, minutes: int
) -> AccessGrant:
    """Emergency access to one restricted record for ``minutes``, for a clinician who
    states why. Audited as ``patient.break_glass`` (the flag the report filters on)."""
    if not may_break_glass(actor) or actor.user_id is None:
        raise BreakGlassRefused("Only doctors and nurses can open a restricted record.")
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise BreakGlassRefused(f"Say why you need the record (at least {MIN_REASON} characters).")
    now = utcnow()
    grant = AccessGrant(
        patient_id=patient.id,
        user_id=actor.user_id,
        kind=GrantKind.BREAK_GLASS,
        reason=reason,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(grant)
    await session.flush()
    await audit.record(
        session,
        action=BREAK_GLASS,
        actor=actor,
        resource_type="access_grant",
        resource_id=grant.id,
        patient_id=patient.id,
        details={"emergency": True, "reason": reason, "expires_at": grant.expires_at},
    )
    return grant


@dataclass(frozen=True, slots=True)
class BreakGlassUse:
    id: uuid.UUID
    at: datetime
    expires_at: datetime | None
    user_id: uuid.UUID
    user_name: str
    patient_id: uuid.UUID
    patient_mrn: str
    patient_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class BreakGlassPage:
    items: list[BreakGlassUse]
    next_cursor: str | None


async def break_glass_report(
    session: AsyncSession, *, actor: Actor, cursor: str | None = None, limit: int = 50
) -> BreakGlassPage:
    """Every break-glass use of the organization, newest first. It names patients, so
    viewing it is recorded like any list."""
    offset = decode_cursor(cursor)
    rows = (
        await session.execute(
            select(AccessGrant, Patient)
            .join(Patient, Patient.id == AccessGrant.patient_id)
            .where(AccessGrant.kind == GrantKind.BREAK_GLASS)
            .order_by(AccessGrant.created_at.desc(), AccessGrant.id.desc())
            .offset(offset)
            .limit(limit + 1)
        )
    ).all()
    shown = rows[:limit]
    names = await identity.names_of(session, {grant.user_id for grant, _ in shown})
    await audit.record_list_read(
        session, actor=actor, patient_ids=[p.id for _, p in shown], view="break_glass_report"
    )
    items = [
        BreakGlassUse(
            id=grant.id,
            at=grant.created_at,
            expires_at=grant.expires_at,
            user_id=grant.user_id,
            user_name=names.get(grant.user_id, "Former user"),
            patient_id=patient.id,
            patient_mrn=patient.mrn,
            patient_name=patient.display_name,
            reason=grant.reason,
        )
        for grant, patient in shown
    ]
    more = len(rows) > limit
    return BreakGlassPage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)


def closed_to(
    user_id: uuid.UUID | None,
    patient_id: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> ColumnElement[bool]:
    """A SQL condition, for another domain's query of rows that name a patient (the
    staff's alerts): true where that patient's record is restricted and ``user_id`` holds
    no live grant to it, so such rows can be left out in the same query (a count stays
    one query). The rule is ``check_restricted``'s."""
    now = utcnow()
    granted = select(AccessGrant.id).where(
        AccessGrant.patient_id == Patient.id,
        AccessGrant.user_id == user_id,
        or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now),
    )
    return exists(
        select(Patient.id).where(
            Patient.id == patient_id, Patient.restricted.is_(True), ~exists(granted)
        )
    )
