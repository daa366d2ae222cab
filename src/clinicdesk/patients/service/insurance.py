"""Payers and patients' insurance policies.

Rules held here, whoever calls (JSON API, pages, demo):
* Among a patient's policies that are not ended, two of the same priority never cover
  the same day: the validity ranges (open ends allowed) of a primary policy and another
  primary policy do not overlap. A replacement may be added ahead of time with dates
  after the current one's end. The patient's row is locked while this is checked, so two
  desks adding a primary policy at once cannot both succeed (PostgreSQL; SQLite writes
  one at a time anyway).
* A policy is never deleted. Ending it closes its validity and keeps it; an ended policy
  cannot be changed (add a new one), so the history of what was on file stays as it was.
* The member number is stored normalised and encrypted, with a keyed lookup hash: the
  patient search finds a patient by any of their policies' member numbers.
* Every change is on the audit trail with its field-level diff (member numbers masked).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.errors import Forbidden, InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.permissions import Permission
from clinicdesk.patients.errors import (
    DuplicatePayer,
    PayerNotFound,
    PolicyEnded,
    PolicyNotFound,
    PolicyOverlap,
)
from clinicdesk.patients.models import InsurancePolicy, Patient, Payer
from clinicdesk.patients.schemas import PayerWrite, PolicyEnd, PolicyRead, PolicyWrite
from clinicdesk.patients.service.common import (
    get_patient,
    get_writable_patient,
    organization_locale,
)
from clinicdesk.patients.service.records import mask_identifier, normalize_identifier
from clinicdesk.patients.vocabulary import PolicyPriority


def may_change_policies(actor: Actor) -> bool:
    return actor.can(Permission.PATIENTS_INSURANCE)


def may_manage_payers(actor: Actor) -> bool:
    return actor.can(Permission.PAYERS_MANAGE)


async def organization_today(session: AsyncSession) -> date:
    """Today in the organization's time zone: a policy ended "today" ends on the
    clinic's calendar day, not the server's."""
    locale = await organization_locale(session)
    return datetime.now(ZoneInfo(locale.time_zone)).date()


# --- payers ------------------------------------------------------------------------------


async def list_payers(session: AsyncSession, *, include_inactive: bool = False) -> Sequence[Payer]:
    """The organization's payers by name (active ones only unless asked)."""
    statement = select(Payer)
    if not include_inactive:
        statement = statement.where(Payer.active.is_(True))
    return (await session.scalars(statement.order_by(func.lower(Payer.name), Payer.id))).all()


async def get_payer(session: AsyncSession, payer_id: uuid.UUID) -> Payer:
    payer = await session.get(Payer, payer_id)
    if payer is None:
        raise PayerNotFound("No payer with this id.")
    return payer


async def _refuse_duplicate_name(
    session: AsyncSession, name: str, own_id: uuid.UUID | None
) -> None:
    statement = select(Payer.id).where(func.lower(Payer.name) == name.lower())
    if own_id is not None:
        statement = statement.where(Payer.id != own_id)
    if (await session.scalar(statement.limit(1))) is not None:
        raise DuplicatePayer(f"A payer named {name} is already on the list; change that one.")


def _payer_values(data: PayerWrite) -> dict[str, object]:
    values = data.model_dump()
    values["name"] = " ".join(data.name.split())
    return values


async def add_payer(session: AsyncSession, *, actor: Actor, data: PayerWrite) -> Payer:
    if not may_manage_payers(actor):
        raise Forbidden("You may not change the payer list.")
    values = _payer_values(data)
    await _refuse_duplicate_name(session, str(values["name"]), None)
    payer = Payer(**values)
    session.add(payer)
    await session.flush()
    await audit.record(
        session,
        action="payer.added",
        actor=actor,
        resource_type="payer",
        resource_id=payer.id,
        changes=audit.changes(None, audit.snapshot(payer)),
    )
    return payer


async def update_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: uuid.UUID,
    data: PayerWrite,
    expected_version: int | None,
) -> Payer:
    """Replace a payer's details; ``active=False`` takes it off the pick lists (the
    policies that name it keep it)."""
    if not may_manage_payers(actor):
        raise Forbidden("You may not change the payer list.")
    payer = await get_payer(session, payer_id)
    check_version(payer, expected_version)
    values = _payer_values(data)
    await _refuse_duplicate_name(session, str(values["name"]), payer.id)
    before = audit.snapshot(payer)
    for field, value in values.items():
        setattr(payer, field, value)
    await session.flush()
    diff = audit.changes(before, audit.snapshot(payer))
    if diff:
        await audit.record(
            session,
            action="payer.updated",
            actor=actor,
            resource_type="payer",
            resource_id=payer.id,
            changes=diff,
        )
    return payer


# --- policies ----------------------------------------------------------------------------

_PRIORITY_ORDER = case(
    (InsurancePolicy.priority == PolicyPriority.PRIMARY, 0),
    (InsurancePolicy.priority == PolicyPriority.SECONDARY, 1),
    else_=2,
)


def to_read(policy: InsurancePolicy, payer_name: str) -> PolicyRead:
    return PolicyRead.model_validate(
        {
            **{
                key: getattr(policy, key) for key in PolicyRead.model_fields if hasattr(policy, key)
            },
            "payer_name": payer_name,
            "member_number_masked": mask_identifier(policy.member_number),
        }
    )


async def _reads(session: AsyncSession, policies: Sequence[InsurancePolicy]) -> list[PolicyRead]:
    ids = {p.payer_id for p in policies}
    names: dict[uuid.UUID, str] = {}
    if ids:
        rows = await session.execute(select(Payer.id, Payer.name).where(Payer.id.in_(ids)))
        names = {row.id: row.name for row in rows}
    return [to_read(p, names.get(p.payer_id, "")) for p in policies]


async def policies_of(session: AsyncSession, *, patient_id: uuid.UUID) -> list[PolicyRead]:
    """A patient's policies: those not ended first, primary before secondary before
    tertiary, the latest start first; then the ended ones, last ended first. The caller
    has found the patient (and recorded the read)."""
    statement = (
        select(InsurancePolicy)
        .where(InsurancePolicy.patient_id == patient_id)
        .order_by(
            InsurancePolicy.ended_at.is_not(None),
            _PRIORITY_ORDER,
            InsurancePolicy.ended_at.desc(),
            InsurancePolicy.valid_from.desc(),
            InsurancePolicy.created_at.desc(),
        )
    )
    return await _reads(session, (await session.scalars(statement)).all())


async def list_policies(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID
) -> list[PolicyRead]:
    """The patient's policies, the read recorded on the audit trail."""
    patient = await get_patient(session, patient_id, actor=actor)
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="insurance")
    return await policies_of(session, patient_id=patient.id)


async def _writable(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    patient = await get_writable_patient(session, patient_id, actor=actor)
    if not may_change_policies(actor):
        raise Forbidden("You may not change insurance policies.")
    # Serialise policy changes of one patient: the overlap check reads the other policies.
    await session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
    return patient


async def _get_policy(
    session: AsyncSession, patient_id: uuid.UUID, policy_id: uuid.UUID
) -> InsurancePolicy:
    policy = await session.get(InsurancePolicy, policy_id)
    if policy is None or policy.patient_id != patient_id:
        raise PolicyNotFound("No insurance policy with this id on this chart.")
    return policy


def _overlaps(
    a_from: date | None, a_to: date | None, b_from: date | None, b_to: date | None
) -> bool:
    return (a_from is None or b_to is None or a_from <= b_to) and (
        b_from is None or a_to is None or b_from <= a_to
    )


async def _refuse_overlap(session: AsyncSession, policy: InsurancePolicy) -> None:
    others = await session.scalars(
        select(InsurancePolicy).where(
            InsurancePolicy.patient_id == policy.patient_id,
            InsurancePolicy.priority == policy.priority,
            InsurancePolicy.ended_at.is_(None),
            InsurancePolicy.id != policy.id,
        )
    )
    for other in others:
        if _overlaps(policy.valid_from, policy.valid_to, other.valid_from, other.valid_to):
            raise PolicyOverlap(
                f"The patient already has a {policy.priority} policy for these dates. End it "
                "first, give the new one dates after it, or choose another priority."
            )


async def _apply(
    session: AsyncSession, policy: InsurancePolicy, data: PolicyWrite, *, keep_member: bool
) -> None:
    payer = await session.get(Payer, data.payer_id)
    if payer is None:
        raise InvalidField("payer_id", "No payer with this id; pick one from the payer list.")
    if not payer.active and payer.id != policy.payer_id:
        raise InvalidField("payer_id", f"{payer.name} is no longer in use; pick another payer.")
    for field, value in data.model_dump(exclude={"member_number"}).items():
        setattr(policy, field, value)
    raw = data.member_number
    if raw or not keep_member:
        member = normalize_identifier(raw) if raw else None
        policy.member_number = member or None
        policy.member_number_hash = field_keyring().lookup_hash(member) if member else None


async def add_policy(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, data: PolicyWrite
) -> PolicyRead:
    patient = await _writable(session, actor, patient_id)
    policy = InsurancePolicy(patient_id=patient.id, recorded_by_id=actor.user_id)
    await _apply(session, policy, data, keep_member=False)
    session.add(policy)
    await session.flush()
    await _refuse_overlap(session, policy)
    await _audit_policy(session, actor, "insurance_policy.added", policy, None, patient.id)
    return (await _reads(session, [policy]))[0]


async def update_policy(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    data: PolicyWrite,
    expected_version: int | None,
) -> PolicyRead:
    """Replace a policy's details (an empty member number keeps the one on file)."""
    patient = await _writable(session, actor, patient_id)
    policy = await _get_policy(session, patient.id, policy_id)
    check_version(policy, expected_version)
    if policy.ended_at is not None:
        raise PolicyEnded("An ended policy is kept as it was; add a new policy instead.")
    before = audit.snapshot(policy)
    await _apply(session, policy, data, keep_member=True)
    await session.flush()
    await _refuse_overlap(session, policy)
    await _audit_policy(session, actor, "insurance_policy.updated", policy, before, patient.id)
    return (await _reads(session, [policy]))[0]


async def end_policy(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    data: PolicyEnd,
    expected_version: int | None,
) -> PolicyRead:
    """End a policy on ``data.ended_on`` (the clinic's today if not given): its validity
    closes there and it leaves the active list; the row and its history stay."""
    patient = await _writable(session, actor, patient_id)
    policy = await _get_policy(session, patient.id, policy_id)
    check_version(policy, expected_version)
    if policy.ended_at is not None:
        raise PolicyEnded("This policy has already ended.")
    last_day = data.ended_on or await organization_today(session)
    if policy.valid_from is not None and last_day < policy.valid_from:
        raise InvalidField(
            "ended_on", "The policy would end before it starts; give a date on or after it."
        )
    before = audit.snapshot(policy)
    if policy.valid_to is None or last_day < policy.valid_to:
        policy.valid_to = last_day
    policy.ended_at = utcnow()
    policy.ended_by_id = actor.user_id
    policy.end_reason = data.reason
    await session.flush()
    await _audit_policy(session, actor, "insurance_policy.ended", policy, before, patient.id)
    return (await _reads(session, [policy]))[0]


async def reveal_member_number(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, policy_id: uuid.UUID
) -> str | None:
    """The clear member number of a policy; every reveal is on the audit trail."""
    patient = await get_patient(session, patient_id, actor=actor)
    policy = await _get_policy(session, patient.id, policy_id)
    await audit.record(
        session,
        action="patient.identifier_revealed",
        actor=actor,
        resource_type="insurance_policy",
        resource_id=policy.id,
        patient_id=patient.id,
        details={"field": "member_number"},
    )
    return policy.member_number


async def open_policy_ids(session: AsyncSession, *, patient_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(InsurancePolicy.id).where(
            InsurancePolicy.patient_id == patient_id, InsurancePolicy.ended_at.is_(None)
        )
    )
    return set(rows)


async def end_clashes_after_merge(
    session: AsyncSession, *, actor: Actor, kept_id: uuid.UUID, moved_ids: set[uuid.UUID]
) -> int:
    """After a merge moved the duplicate's open policies (``moved_ids``) to the kept
    record: each one that overlaps a kept record's own open policy of the same priority
    is ended (the kept record's stay in force), so the one-per-priority rule holds. The
    ended policies stay on the chart, where the desk can add one back with other dates
    or another priority. Answers how many were ended."""
    if not moved_ids:
        return 0
    rows = (
        await session.scalars(
            select(InsurancePolicy).where(
                InsurancePolicy.patient_id == kept_id, InsurancePolicy.ended_at.is_(None)
            )
        )
    ).all()
    own = [p for p in rows if p.id not in moved_ids]
    ended = 0
    for policy in (p for p in rows if p.id in moved_ids):
        if not any(
            o.priority == policy.priority
            and _overlaps(policy.valid_from, policy.valid_to, o.valid_from, o.valid_to)
            for o in own
        ):
            continue
        before = audit.snapshot(policy)
        policy.ended_at = utcnow()
        policy.ended_by_id = actor.user_id
        policy.end_reason = "Merged record: the kept record has its own policy of this priority."
        await session.flush()
        await _audit_policy(session, actor, "insurance_policy.ended", policy, before, kept_id)
        ended += 1
    return ended


async def _audit_policy(
    session: AsyncSession,
    actor: Actor,
    action: str,
    policy: InsurancePolicy,
    before: dict[str, Any] | None,
    patient_id: uuid.UUID,
) -> None:
    """The audit entry of a change to a policy, with what changed (none if nothing did)."""
    changes = audit.changes(before, audit.snapshot(policy))
    if changes:
        await audit.record(
            session,
            action=action,
            actor=actor,
            resource_type="insurance_policy",
            resource_id=policy.id,
            patient_id=patient_id,
            changes=changes,
        )
