"""Payers and insurance policies, on SQLite and PostgreSQL: the one-per-priority rule,
valid dates, ending keeps the policy and its history, member numbers encrypted at rest
and found by the search, errors as problem+json, permissions, reads on the audit trail,
and merges that leave one primary policy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.models import InsurancePolicy
from clinicdesk.patients.schemas import PayerWrite, PolicyWrite
from clinicdesk.patients.service import insurance, merge
from clinicdesk.patients.vocabulary import PolicyPriority
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_over_http, register_patient

PROBLEM = "application/problem+json"


async def _payer(client: httpx.AsyncClient, name: str = "Aetna") -> str:
    created = await client.post("/api/v1/payers", json={"name": name, "code": "60054"})
    assert created.status_code == 201, created.text
    payer_id: str = created.json()["id"]
    return payer_id


def _policy(payer_id: str, **overrides: Any) -> dict[str, Any]:
    return {"payer_id": payer_id, "member_number": "W123-456-789", **overrides}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body, with ``code`` the last part of its ``type``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return {**body, "code": body["type"].rsplit(":", 1)[-1]}


async def test_one_open_policy_per_priority_for_any_day(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    payer = await _payer(billing)
    patient = (await register_over_http(desk))["id"]
    url = f"/api/v1/patients/{patient}/insurance-policies"

    first = await desk.post(url, json=_policy(payer, valid_from="2026-01-01"))
    assert first.status_code == 201, first.text
    assert first.json()["priority"] == "primary"
    clash = await desk.post(url, json=_policy(payer, member_number="Z9"))
    assert _problem(clash, 409)["code"] == "insurance-policy-overlap"
    # Another priority, or a primary that starts after the first one ends, is fine.
    second = await desk.post(url, json=_policy(payer, priority="secondary", member_number="S1"))
    assert second.status_code == 201, second.text
    ends = await desk.put(
        f"{url}/{first.json()['id']}",
        json=_policy(payer, valid_from="2026-01-01", valid_to="2026-12-31"),
        headers={"If-Match": first.headers["etag"]},
    )
    assert ends.status_code == 200, ends.text
    assert ends.json()["member_number_masked"].endswith("6789")  # kept: none was sent
    later = await desk.post(url, json=_policy(payer, valid_from="2027-01-01", member_number="N2"))
    assert later.status_code == 201, later.text
    overlapping = await desk.post(url, json=_policy(payer, valid_to="2026-06-30"))
    assert _problem(overlapping, 409)["code"] == "insurance-policy-overlap"

    listed = (await desk.get(url)).json()
    assert [p["priority"] for p in listed] == ["primary", "primary", "secondary"]
    assert listed[0]["valid_from"] == "2027-01-01"  # the latest start first


async def test_dates_and_bodies_are_checked_as_problems_never_500(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    payer = await _payer(billing)
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    patient = (await register_over_http(desk))["id"]
    url = f"/api/v1/patients/{patient}/insurance-policies"
    cases: dict[str, tuple[dict[str, Any], int]] = {
        "ends before it starts": (
            _policy(payer, valid_from="2026-05-01", valid_to="2026-04-30"),
            422,
        ),
        "impossible date": (_policy(payer, valid_from="2026-02-30"), 422),
        "year 0": (_policy(payer, valid_to="0000-01-01"), 422),
        "unknown priority": (_policy(payer, priority="quaternary"), 422),
        "subscriber missing": (_policy(payer, relationship="spouse"), 422),
        "unknown payer": (_policy(str(uuid.uuid4())), 422),
        "not a uuid": (_policy("nope"), 422),
        "unknown field": (_policy(payer, organization="x", colour="red"), 422),
        "control character": (_policy(payer, member_number="W1\x07"), 422),
        "eligibility checked in the future": (
            _policy(payer, eligibility_checked_on="2999-01-01"),
            422,
        ),
    }
    for label, (body, status) in cases.items():
        response = await desk.post(url, json=body)
        _problem(response, status)
        assert response.status_code == status, label
    missing = await desk.post(
        f"/api/v1/patients/{uuid.uuid4()}/insurance-policies", json=_policy(payer)
    )
    assert _problem(missing, 404)["code"] == "patient-not-found"
    no_policy = await desk.post(
        f"{url}/{uuid.uuid4()}/end", json={"reason": "x"}, headers=ANY_VERSION
    )
    assert _problem(no_policy, 404)["code"] == "insurance-policy-not-found"
    duplicate = await billing.post("/api/v1/payers", json={"name": " aetna "})
    assert _problem(duplicate, 409)["code"] == "duplicate-payer"
    assert (await desk.get(url)).json() == []  # nothing of the refused bodies was stored


async def test_ending_keeps_the_policy_and_its_history(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    payer = await _payer(billing)
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    patient = (await register_over_http(desk))["id"]
    url = f"/api/v1/patients/{patient}/insurance-policies"
    added = await billing.post(url, json=_policy(payer, valid_from="2026-01-01", plan_name="PPO"))
    assert added.status_code == 201
    policy = added.json()["id"]
    changed = await billing.put(
        f"{url}/{policy}",
        json=_policy(payer, valid_from="2026-01-01", plan_name="HMO"),
        headers={"If-Match": added.headers["etag"]},
    )
    assert changed.status_code == 200
    stale = await billing.put(
        f"{url}/{policy}", json=_policy(payer), headers={"If-Match": added.headers["etag"]}
    )
    assert _problem(stale, 412)["code"] == "stale-version"
    too_early = await billing.post(
        f"{url}/{policy}/end",
        json={"ended_on": "2025-12-31", "reason": "x"},
        headers={"If-Match": changed.headers["etag"]},
    )
    _problem(too_early, 422)
    ended = await billing.post(
        f"{url}/{policy}/end",
        json={"ended_on": "2026-06-30", "reason": "New employer"},
        headers={"If-Match": changed.headers["etag"]},
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["valid_to"] == "2026-06-30" and ended.json()["ended_at"]
    again = await billing.put(
        f"{url}/{policy}", json=_policy(payer), headers={"If-Match": ended.headers["etag"]}
    )
    assert _problem(again, 409)["code"] == "insurance-policy-ended"
    # A new primary may now start; the ended one stays listed, last.
    new = await billing.post(url, json=_policy(payer, member_number="N1"))
    assert new.status_code == 201
    listed = (await billing.get(url)).json()
    assert [p["id"] for p in listed] == [new.json()["id"], policy]
    assert listed[1]["end_reason"] == "New employer" and listed[1]["plan_name"] == "HMO"

    actions = (
        await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.resource_id == policy)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    assert {"insurance_policy.added", "insurance_policy.updated", "insurance_policy.ended"} <= set(
        actions
    )
    updated = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == policy, AuditEvent.action == "insurance_policy.updated"
        )
    )
    assert updated is not None and updated.changes is not None
    assert updated.changes["plan_name"] == {"before": "PPO", "after": "HMO"}


async def test_member_numbers_are_encrypted_and_found_by_the_search(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    payer = await _payer(billing)
    patient = (await register_over_http(desk, national_id=None))["id"]
    other = (await register_over_http(desk, given_name="Mary", national_id=None))["id"]
    url = f"/api/v1/patients/{patient}/insurance-policies"
    primary = await desk.post(url, json=_policy(payer, member_number="xof 123-456-789"))
    assert primary.status_code == 201
    second = await desk.post(url, json=_policy(payer, priority="secondary", member_number="S-7788"))
    assert second.status_code == 201
    assert "123456789" not in primary.text and primary.json()["member_number_masked"]

    stored = (
        await session.execute(
            text("SELECT member_number, member_number_hash FROM insurance_policies")
        )
    ).all()
    assert len(stored) == 2
    for row in stored:
        assert "XOF123456789" not in row.member_number and "S7788" not in row.member_number
        assert row.member_number_hash

    for query in ("XOF123456789", "xof-123-456-789", "s7788"):
        found = (await desk.get("/api/v1/patients", params={"q": query})).json()["items"]
        assert [hit["id"] for hit in found] == [patient], query
        assert "insurance_member_number" in found[0]["matched_on"]
    # An ended policy's number still finds its patient (an old card at the desk).
    ended = await desk.post(
        f"{url}/{second.json()['id']}/end", json={"reason": "lapsed"}, headers=ANY_VERSION
    )
    assert ended.status_code == 200
    found = (await desk.get("/api/v1/patients", params={"q": "S7788"})).json()["items"]
    assert [hit["id"] for hit in found] == [patient]
    assert other not in {hit["id"] for hit in found}

    revealed = await desk.post(f"{url}/{primary.json()['id']}/member-number/reveal")
    assert revealed.json()["value"] == "XOF123456789"


async def test_who_may_read_and_change(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    nurse = await sign_in_api(await create_user(session, clinic, Role.NURSE))
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    payer = await _payer(admin, "Cigna")
    assert (await desk.post("/api/v1/payers", json={"name": "X"})).status_code == 403
    assert (await desk.get("/api/v1/payers")).json()[0]["name"] == "Cigna"
    patient = (await register_over_http(desk))["id"]
    url = f"/api/v1/patients/{patient}/insurance-policies"
    assert (await nurse.post(url, json=_policy(payer))).status_code == 403
    assert (await admin.post(url, json=_policy(payer))).status_code == 403
    assert (await billing.post(url, json=_policy(payer))).status_code == 201
    assert (await nurse.get(url)).status_code == 200  # reads with the demographics

    retired = await admin.put(
        f"/api/v1/payers/{payer}", json={"name": "Cigna", "active": False}, headers=ANY_VERSION
    )
    assert retired.status_code == 200 and not retired.json()["active"]
    assert (await desk.get("/api/v1/payers")).json() == []
    refused = await desk.post(url, json=_policy(payer, priority="secondary"))
    assert _problem(refused, 422)["errors"][0]["field"] == "payer_id"


async def test_reading_the_policies_is_on_the_audit_trail(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    patient = (await register_over_http(doctor))["id"]
    before = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "patient.viewed")
    )
    assert (await doctor.get(f"/api/v1/patients/{patient}/insurance-policies")).json() == []
    read = await session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "patient.viewed", AuditEvent.patient_id == uuid.UUID(patient))
        .order_by(AuditEvent.occurred_at.desc())
        .limit(1)
    )
    assert read is not None and read.details == {"view": "insurance"}
    after = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "patient.viewed")
    )
    assert after == (before or 0) + 1


async def test_a_merge_leaves_one_open_primary_policy(
    session: AsyncSession, clinic: Organization
) -> None:
    billing = actor_for(await create_user(session, clinic, Role.BILLING))
    desk = actor_for(await create_user(session, clinic, Role.RECEPTIONIST))
    payer = await insurance.add_payer(session, actor=billing, data=PayerWrite(name="Humana"))
    keep = await register_patient(session, actor=SYSTEM)
    duplicate = await register_patient(session, actor=SYSTEM)
    kept_policy = await insurance.add_policy(
        session, actor=desk, patient_id=keep.id, data=PolicyWrite(payer_id=payer.id)
    )
    moved_primary = await insurance.add_policy(
        session,
        actor=desk,
        patient_id=duplicate.id,
        data=PolicyWrite(payer_id=payer.id, member_number="H1"),
    )
    moved_secondary = await insurance.add_policy(
        session,
        actor=desk,
        patient_id=duplicate.id,
        data=PolicyWrite(payer_id=payer.id, priority=PolicyPriority.SECONDARY, member_number="H2"),
    )
    await merge.merge_patients(
        session, actor=desk, keep_id=keep.id, duplicate_id=duplicate.id, reason="same person"
    )
    policies = {p.id: p for p in await insurance.policies_of(session, patient_id=keep.id)}
    assert set(policies) == {kept_policy.id, moved_primary.id, moved_secondary.id}
    assert policies[kept_policy.id].ended_at is None
    assert policies[moved_secondary.id].ended_at is None
    assert policies[moved_primary.id].ended_at is not None
    assert "Merged record" in (policies[moved_primary.id].end_reason or "")
    rows = await session.scalar(
        select(func.count())
        .select_from(InsurancePolicy)
        .where(InsurancePolicy.patient_id == keep.id)
    )
    assert rows == 3  # nothing deleted
