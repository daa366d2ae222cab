"""Patient-portal accounts: staff-side rules about the record an account is bound to."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import repoint
from clinicdesk.identity.models import User, UserKind


async def of_patient(session: AsyncSession, *, patient_id: uuid.UUID) -> list[User]:
    """The portal accounts bound to a patient's record (at most one is invited; a merge
    may bring a second)."""
    statement = select(User).where(User.patient_id == patient_id, User.kind == UserKind.PATIENT)
    return list((await session.scalars(statement)).all())


async def rebind_to_kept_patient(
    session: AsyncSession,
    *,
    actor: Actor,
    duplicate_id: uuid.UUID,
    kept_id: uuid.UUID,
    reason: str,
) -> dict[str, int]:
    """A patient merge: portal accounts of the duplicate record now see the kept one
    (the patient keeps signing in with the same account). Audited per account."""
    moved = await repoint(session, User.patient_id, old=duplicate_id, new=kept_id)
    await audit.record_moved_by_merge(
        session,
        actor=actor,
        resource_type="user",
        resource_ids=moved,
        kept_id=kept_id,
        duplicate_id=duplicate_id,
        reason=reason,
    )
    return {User.__tablename__: len(moved)}
