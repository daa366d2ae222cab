"""What billing reads of a patient's insurance to make and export a claim: the policy
(by id, or the primary one valid on a day) with its payer, and the member number in
clear or masked.

Billing never queries the policy tables itself (``patients.public`` is its way in); the
rules of who may see a member number in clear are the caller's (billing asks with the
actor's permission), and a clear reveal is recorded by the caller as part of its read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.errors import PolicyNotFound
from clinicdesk.patients.models import InsurancePolicy, Payer
from clinicdesk.patients.service.records import mask_identifier
from clinicdesk.patients.vocabulary import PolicyPriority


@dataclass(frozen=True, slots=True)
class Coverage:
    """A policy as a claim needs it (FHIR Coverage, flattened with its payer)."""

    policy_id: uuid.UUID
    patient_id: uuid.UUID
    payer_id: uuid.UUID
    payer_name: str
    payer_code: str | None
    priority: str
    member_number: str | None
    group_number: str | None
    plan_name: str | None
    relationship: str
    subscriber_name: str | None
    valid_from: date | None
    valid_to: date | None
    ended: bool
    eligibility_notes: str | None

    @property
    def member_number_masked(self) -> str | None:
        return mask_identifier(self.member_number)

    def valid_on(self, day: date) -> bool:
        """In force on ``day``: inside its validity (open ends allowed). An ended policy's
        ``valid_to`` was closed when it ended, so the dates alone decide."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def _coverage(policy: InsurancePolicy, payer: Payer) -> Coverage:
    return Coverage(
        policy_id=policy.id,
        patient_id=policy.patient_id,
        payer_id=payer.id,
        payer_name=payer.name,
        payer_code=payer.code,
        priority=policy.priority,
        member_number=policy.member_number,
        group_number=policy.group_number,
        plan_name=policy.plan_name,
        relationship=policy.relationship,
        subscriber_name=policy.subscriber_name,
        valid_from=policy.valid_from,
        valid_to=policy.valid_to,
        ended=policy.ended_at is not None,
        eligibility_notes=policy.eligibility_notes,
    )


async def coverage_of(
    session: AsyncSession, *, patient_id: uuid.UUID, policy_id: uuid.UUID
) -> Coverage:
    """The policy with this id on this patient's chart (404 for another patient's)."""
    row = (
        await session.execute(
            select(InsurancePolicy, Payer)
            .join(Payer, Payer.id == InsurancePolicy.payer_id)
            .where(InsurancePolicy.id == policy_id)
        )
    ).first()
    if row is None or row[0].patient_id != patient_id:
        raise PolicyNotFound("No insurance policy with this id on this patient's chart.")
    return _coverage(row[0], row[1])


async def primary_coverage(
    session: AsyncSession, *, patient_id: uuid.UUID, on: date
) -> Coverage | None:
    """The patient's primary policy in force on ``on`` (at most one: the overlap rule)."""
    rows = await session.execute(
        select(InsurancePolicy, Payer)
        .join(Payer, Payer.id == InsurancePolicy.payer_id)
        .where(
            InsurancePolicy.patient_id == patient_id,
            InsurancePolicy.priority == PolicyPriority.PRIMARY,
        )
        .order_by(InsurancePolicy.created_at.desc(), InsurancePolicy.id)
    )
    for policy, payer in rows:
        found = _coverage(policy, payer)
        if found.valid_on(on):
            return found
    return None


async def coverages_by_id(
    session: AsyncSession, policy_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Coverage]:
    """Several policies at once (an export's page of claims)."""
    ids = set(policy_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(InsurancePolicy, Payer)
        .join(Payer, Payer.id == InsurancePolicy.payer_id)
        .where(InsurancePolicy.id.in_(ids))
    )
    return {policy.id: _coverage(policy, payer) for policy, payer in rows}


_PRIORITY_RANK = {PolicyPriority.PRIMARY: 0, PolicyPriority.SECONDARY: 1}


async def coverages_of_patient(session: AsyncSession, *, patient_id: uuid.UUID) -> list[Coverage]:
    """All of a patient's policies with their payers (ended ones too: the caller picks
    by ``valid_on``), primary before secondary before tertiary. The caller has read the
    patient (and recorded the read)."""
    rows = await session.execute(
        select(InsurancePolicy, Payer)
        .join(Payer, Payer.id == InsurancePolicy.payer_id)
        .where(InsurancePolicy.patient_id == patient_id)
        .order_by(InsurancePolicy.created_at.desc(), InsurancePolicy.id)
    )
    found = [_coverage(policy, payer) for policy, payer in rows]
    return sorted(found, key=lambda c: _PRIORITY_RANK.get(PolicyPriority(c.priority), 2))


async def payer_names(session: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    """Every payer of the organization by name, inactive ones too (a list of claims
    filters by payer, and old claims name payers no longer offered)."""
    rows = await session.execute(select(Payer.id, Payer.name).order_by(Payer.name, Payer.id))
    return [(row.id, row.name) for row in rows]
