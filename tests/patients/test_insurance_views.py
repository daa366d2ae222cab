"""The chart's insurance section and the payers settings page, through the pages: the
front desk adds, changes and ends a policy from the chart; billing keeps the payers."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_over_http


def _policy_form_version(page: str, policy_id: str) -> str:
    found = re.search(
        rf'action="/patients/[^"]+/insurance/{policy_id}/end">\s*'
        r'<input[^>]*csrf_token[^>]*>\s*<input type="hidden" name="version" value="(\d+)"',
        page,
    )
    assert found, "the end form carries the policy's version"
    return found.group(1)


async def test_the_desk_keeps_the_policies_on_the_chart(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, sign_in_api: SignIn
) -> None:
    billing = await sign_in_web(await create_user(session, clinic, Role.BILLING))
    desk_user = await create_user(session, clinic, Role.RECEPTIONIST)
    desk = await sign_in_web(desk_user)
    api = await sign_in_api(desk_user)

    empty = await desk.get("/admin/settings/payers")
    assert empty.status_code == 403  # the desk files policies; billing keeps the payers
    page = await billing.get("/admin/settings/payers")
    assert page.status_code == 200 and "Add a payer" in page.text
    # No "Settings" link for billing: the index is the administrator's (403 for billing).
    assert 'href="/admin/settings"' not in page.text
    assert (await billing.get("/admin/settings")).status_code == 403
    added = await billing.post("/admin/settings/payers", data={"name": "Aetna", "code": "60054"})
    assert added.status_code == 303
    twice = await billing.post("/admin/settings/payers", data={"name": "AETNA"})
    assert twice.status_code == 409 and "already on the list" in twice.text
    payer_id = (await api.get("/api/v1/payers")).json()[0]["id"]

    patient = (await register_over_http(api))["id"]
    chart = await desk.get(f"/patients/{patient}")
    assert 'id="insurance"' in chart.text and "No insurance on file" in chart.text
    saved = await desk.post(
        f"/patients/{patient}/insurance",
        data={
            "payer_id": payer_id,
            "priority": "primary",
            "member_number": "W 555 1234",
            "plan_name": "Choice POS",
            "relationship": "self",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("#insurance")
    clash = await desk.post(
        f"/patients/{patient}/insurance",
        data={"payer_id": payer_id, "priority": "primary", "relationship": "self"},
    )
    assert clash.status_code == 303
    chart = await desk.get(f"/patients/{patient}")
    assert "already has a primary policy" in chart.text
    assert "Choice POS" in chart.text and "5551234" not in chart.text  # masked
    policy_id = (await api.get(f"/api/v1/patients/{patient}/insurance-policies")).json()[0]["id"]

    no_version = await desk.post(
        f"/patients/{patient}/insurance/{policy_id}/end", data={"reason": "Changed jobs"}
    )
    assert no_version.status_code == 428
    ended = await desk.post(
        f"/patients/{patient}/insurance/{policy_id}/end",
        data={"reason": "Changed jobs", "version": _policy_form_version(chart.text, policy_id)},
    )
    assert ended.status_code == 303
    chart = await desk.get(f"/patients/{patient}")
    assert "Ended policies (1)" in chart.text and "Changed jobs" in chart.text
    assert f"/patients/{patient}/insurance/{policy_id}/end" not in chart.text  # no more forms

    revealed = await desk.post(f"/patients/{patient}/insurance/{policy_id}/reveal")
    assert "W5551234" in revealed.text


async def test_clinicians_see_the_policies_without_the_forms(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, sign_in_api: SignIn
) -> None:
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    payer = (await billing.post("/api/v1/payers", json={"name": "Medicare"})).json()["id"]
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    patient = (await register_over_http(desk))["id"]
    await desk.post(
        f"/api/v1/patients/{patient}/insurance-policies",
        json={"payer_id": payer, "member_number": "1EG4-TE5-MK73"},
    )
    doctor = await sign_in_web(await create_user(session, clinic, Role.DOCTOR))
    chart = await doctor.get(f"/patients/{patient}")
    assert "Medicare" in chart.text and "MK73" in chart.text
    assert f'action="/patients/{patient}/insurance"' not in chart.text
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    assert 'href="/admin/settings/payers"' in (await admin.get("/admin/settings")).text
    assert 'href="/admin/settings"' in (await admin.get("/admin/settings/payers")).text
