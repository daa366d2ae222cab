"""Claims leaving the clinic: one claim as a FHIR R4 ``Claim`` resource, and a list of
claims as CSV for payers that take spreadsheets.

Both are reads of patient data (recorded on the audit trail). The member number is
written in clear only for a caller who may change insurance policies (the desk and
billing, who send claims); anyone else gets it masked, and a clear one is recorded as
revealed. Amounts leave in major units as exact decimals (``12.50``), never floats.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.claim_models import Claim, ClaimItem
from clinicdesk.billing.kernel.money import to_major
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.service.claims import ClaimDetail, ClaimFilters, filtered, get_claim
from clinicdesk.billing.vocabulary import ClaimStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

FHIR_MEDIA_TYPE = "application/fhir+json"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
# The clinic's own code systems: a line's billing code (CPT-like) and its fee code.
BILLING_CODES = "urn:clinicdesk:billing-code"
FEE_CODES = "urn:clinicdesk:fee-code"
MEMBER_NUMBER = "urn:clinicdesk:member-number"
PAYER_CODE = "urn:clinicdesk:payer-code"


def may_see_member_number(actor: Actor) -> bool:
    return actor.can(Permission.PATIENTS_INSURANCE)


async def member_number_shown(
    session: AsyncSession, *, actor: Actor, claim: Claim, coverage: Any, where: str
) -> bool:
    """Whether ``actor`` sees the claim's member number in clear (``patients:insurance``,
    and there is one); when they do, the reveal is recorded, naming ``where``."""
    if not may_see_member_number(actor) or coverage.member_number is None:
        return False
    await audit.record(
        session,
        action="patient.identifier_revealed",
        actor=actor,
        resource_type="insurance_policy",
        resource_id=coverage.policy_id,
        patient_id=claim.patient_id,
        details={"field": "member_number", "in": where},
    )
    return True


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"value": to_major(amount, currency), "currency": currency}


def _product(item: ClaimItem) -> dict[str, Any]:
    coding = []
    if item.billing_code:
        coding.append({"system": BILLING_CODES, "code": item.billing_code, "display": item.name})
    if item.code:
        coding.append({"system": FEE_CODES, "code": item.code, "display": item.name})
    return {"coding": coding, "text": item.name} if coding else {"text": item.name}


def _fhir_status(status: str) -> str:
    # FHIR's Claim.status is the resource's own (draft, active ...); the payer's answer
    # and the payments belong to ClaimResponse, which we do not send.
    return "draft" if status == ClaimStatus.DRAFT else "active"


async def fhir_claim(session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor) -> dict[str, Any]:
    """The claim as a FHIR R4 ``Claim`` (amounts as ``Decimal``; ``fhir_json`` writes
    them exactly)."""
    found: ClaimDetail = await get_claim(session, claim_id, actor=actor)
    claim = found.claim
    patient = await patients.get_patient(session, claim.patient_id, actor=actor, follow_merge=False)
    coverage = await patients.coverage_of(
        session, patient_id=claim.patient_id, policy_id=claim.policy_id
    )
    organization = await identity.get_organization(session)
    plan = " ".join(p for p in (coverage.payer_name, coverage.plan_name) if p)
    coverage_ref: dict[str, Any] = {"display": f"{plan} ({coverage.priority})"}
    if await member_number_shown(
        session, actor=actor, claim=claim, coverage=coverage, where="claim FHIR export"
    ):
        coverage_ref["identifier"] = {"system": MEMBER_NUMBER, "value": coverage.member_number}
    elif coverage.member_number_masked:
        coverage_ref["display"] += f", member {coverage.member_number_masked}"
    insurer: dict[str, Any] = {"display": coverage.payer_name}
    if coverage.payer_code:
        insurer["identifier"] = {"system": PAYER_CODE, "value": coverage.payer_code}
    day = claim.service_date.isoformat()
    items = [
        {
            "sequence": item.sequence,
            "productOrService": _product(item),
            "servicedDate": day,
            "quantity": {"value": item.quantity},
            "unitPrice": _money(item.unit_price, claim.currency),
            "net": _money(item.total, claim.currency),
        }
        for item in found.items
    ]
    resource: dict[str, Any] = {
        "resourceType": "Claim",
        "id": str(claim.id),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{claim.id}"}],
        "status": _fhir_status(claim.status),
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{claim.patient_id}", "display": patient.display_name},
        "billablePeriod": {"start": day, "end": day},
        "created": claim.created_at.isoformat(),
        "insurer": insurer,
        "provider": {
            "reference": f"Organization/{organization.id}",
            "display": organization.name,
        },
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": coverage_ref,
                **({"preAuthRef": [claim.payer_reference]} if claim.payer_reference else {}),
            }
        ],
        "item": items,
        "total": _money(sum(item.total for item in found.items), claim.currency),
    }
    return resource


_NUMBER = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def fhir_json(resource: dict[str, Any]) -> str:
    """JSON text with every ``Decimal`` written as the exact number it is (``12.50``
    stays ``12.50``: FHIR decimals keep their precision), never through a float."""

    def mark(value: object) -> str:
        if isinstance(value, Decimal):
            return f"\x00{value}\x00"  # no stored text holds a NUL: safe text refuses it
        raise TypeError(f"{type(value).__name__} is not JSON")

    return _NUMBER.sub(r"\1", json.dumps(resource, default=mark, ensure_ascii=True))


CSV_COLUMNS = (
    "claim_id",
    "status",
    "service_date",
    "invoice_number",
    "payer",
    "payer_code",
    "priority",
    "member_number",
    "group_number",
    "plan_name",
    "patient_mrn",
    "patient_name",
    "patient_birth_date",
    "item",
    "billing_code",
    "code",
    "description",
    "quantity",
    "unit_price",
    "item_total",
    "currency",
    "amount_claimed",
    "patient_share",
    "amount_approved",
    "amount_paid",
    "submitted_at",
)
MAX_EXPORT_CLAIMS = 10_000


async def export_csv(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: ClaimFilters,
    max_claims: int = MAX_EXPORT_CLAIMS,
) -> AsyncIterator[str]:
    """The filtered claims, newest first, one row per claimed item (the claim's columns
    repeated, as payers' sheets want them); every cell spreadsheet-safe. The export and
    the patients it names are recorded."""

    clear = may_see_member_number(actor)
    await audit.record(
        session,
        action="claims.exported",
        actor=actor,
        resource_type="claim",
        details={
            **{k: str(v) for k, v in vars_of(filters).items() if v is not None},
            "member_numbers": "clear" if clear else "masked",
        },
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    offset, batch = 0, 200
    while offset < max_claims:
        claims = (
            await session.scalars(filtered(filters).offset(offset).limit(min(batch, max_claims)))
        ).all()
        if not claims:
            break
        ids = [c.id for c in claims]
        items: dict[uuid.UUID, list[ClaimItem]] = {i: [] for i in ids}
        for item in await session.scalars(
            select(ClaimItem)
            .where(ClaimItem.claim_id.in_(ids))
            .order_by(ClaimItem.claim_id, ClaimItem.sequence)
        ):
            items[item.claim_id].append(item)
        numbers = {
            row.id: row.number
            for row in await session.execute(
                select(Invoice.id, Invoice.number).where(
                    Invoice.id.in_({c.invoice_id for c in claims})
                )
            )
        }
        people = await patients.patients_by_id(session, {c.patient_id for c in claims})
        policies = await patients.coverages_by_id(session, {c.policy_id for c in claims})
        await audit.record_list_read(
            session, actor=actor, patient_ids=list(people), view="claims export"
        )
        for claim in claims:
            person = people[claim.patient_id]
            policy = policies[claim.policy_id]
            currency = claim.currency

            def money(amount: int | None, currency: str = currency) -> str:
                return "" if amount is None else str(to_major(amount, currency))

            head = [
                claim.id,
                claim.status,
                claim.service_date.isoformat(),
                numbers.get(claim.invoice_id),
                policy.payer_name,
                policy.payer_code,
                policy.priority,
                policy.member_number if clear else policy.member_number_masked,
                policy.group_number,
                policy.plan_name,
                person.mrn,
                person.display_name,
                person.birth_date.isoformat(),
            ]
            tail = [
                claim.currency,
                money(claim.amount_claimed),
                money(claim.patient_share),
                money(claim.amount_approved),
                money(claim.amount_paid),
                claim.submitted_at,
            ]
            rows: list[ClaimItem | None] = list(items[claim.id]) or [None]
            for row in rows:
                middle: list[object] = (
                    [
                        row.sequence,
                        row.billing_code,
                        row.code,
                        row.name,
                        row.quantity,
                        money(row.unit_price),
                        money(row.total),
                    ]
                    if row is not None
                    else [""] * 7
                )
                writer.writerow([audit.csv_safe(cell) for cell in (*head, *middle, *tail)])
        yield _drain(buffer)
        if len(claims) < batch:
            break
        offset += batch


def vars_of(filters: ClaimFilters) -> dict[str, object]:
    return {name: getattr(filters, name) for name in ClaimFilters.__dataclass_fields__}


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
