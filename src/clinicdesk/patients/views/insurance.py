"""Insurance on the pages: the chart's policy forms (add, change, end, reveal a member
number) and the payers settings page. Thin over ``service.insurance``, which holds the
rules and the audit trail the JSON API uses too."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused, SettingsSection
from clinicdesk.patients.access import PatientsRead
from clinicdesk.patients.schemas import PayerWrite, PolicyEnd, PolicyWrite
from clinicdesk.patients.service import insurance
from clinicdesk.patients.service.common import get_writable_patient

router = APIRouter(include_in_schema=False)

PoliciesWrite = Annotated[Actor, Depends(require(Permission.PATIENTS_INSURANCE))]
PayersManage = Annotated[Actor, Depends(require(Permission.PAYERS_MANAGE))]

PAYERS = "/admin/settings/payers"
SETTINGS = (
    SettingsSection(
        "Payers",
        PAYERS,
        "Insurers and other payers the clinic bills; patients' policies name one of them.",
        Permission.PAYERS_MANAGE,
    ),
)
POLICY_FIELDS = tuple(PolicyWrite.model_fields)
PAYER_FIELDS = tuple(PayerWrite.model_fields)
POLICY_LABELS = {
    "payer_id": "payer",
    "member_number": "member number",
    "group_number": "group number",
    "plan_name": "plan",
    "subscriber_name": "subscriber",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "eligibility_notes": "eligibility notes",
    "eligibility_checked_on": "eligibility checked on",
    "ended_on": "last day",
}


# --- the chart's policies -------------------------------------------------------------


async def _policy_change(
    request: Request,
    session: SessionDep,
    actor: Actor,
    patient_id: uuid.UUID,
    policy_id: uuid.UUID | None,
    version: int | None,
    *,
    end: bool = False,
) -> Response:
    """Add (no policy, no version), change or end a policy, then back to the chart's
    insurance section with a message; a refused form says why there."""
    patient = await get_writable_patient(session, patient_id, actor=actor)
    response = redirect(f"/patients/{patient.id}#insurance")
    form = await request.form()
    try:
        if end:
            body: PolicyWrite | PolicyEnd = parse_form(
                PolicyEnd, form_text(form, ("ended_on", "reason")), labels=POLICY_LABELS
            )
        else:
            body = parse_form(PolicyWrite, form_text(form, POLICY_FIELDS), labels=POLICY_LABELS)
    except FormInvalid as error:
        flash(request, response, f"The policy was not saved. {error.detail}", "error")
        return response
    try:
        async with all_or_nothing(session):
            if isinstance(body, PolicyEnd) and policy_id is not None:
                await insurance.end_policy(
                    session,
                    actor=actor,
                    patient_id=patient.id,
                    policy_id=policy_id,
                    data=body,
                    expected_version=version,
                )
                done = "The policy was ended (it stays on the chart, under ended policies)."
            elif isinstance(body, PolicyWrite) and policy_id is not None:
                await insurance.update_policy(
                    session,
                    actor=actor,
                    patient_id=patient.id,
                    policy_id=policy_id,
                    data=body,
                    expected_version=version,
                )
                done = "The policy was saved."
            else:
                assert isinstance(body, PolicyWrite)  # noqa: S101 - add takes a policy form
                await insurance.add_policy(session, actor=actor, patient_id=patient.id, data=body)
                done = "The policy was added."
    except ClinicError as error:
        if error.status_code == 404:
            raise
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, done)
    return response


@router.post("/patients/{patient_id}/insurance")
async def add_policy(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: PoliciesWrite
) -> Response:
    return await _policy_change(request, session, actor, patient_id, None, None)


@router.post("/patients/{patient_id}/insurance/{policy_id}")
async def update_policy(
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PoliciesWrite,
    version: FormVersion,
) -> Response:
    return await _policy_change(request, session, actor, patient_id, policy_id, version)


@router.post("/patients/{patient_id}/insurance/{policy_id}/end")
async def end_policy(
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PoliciesWrite,
    version: FormVersion,
) -> Response:
    return await _policy_change(request, session, actor, patient_id, policy_id, version, end=True)


@router.post("/patients/{patient_id}/insurance/{policy_id}/reveal", response_class=HTMLResponse)
async def reveal_member_number(
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsRead,
) -> HTMLResponse:
    """The member number in clear, swapped in place by htmx; every reveal is audited."""
    value = await insurance.reveal_member_number(
        session, actor=actor, patient_id=patient_id, policy_id=policy_id
    )
    return render(request, "patients/_revealed.html", {"value": value})


# --- the payers settings page -----------------------------------------------------------


async def _payers_page(
    request: Request, session: SessionDep, *, failed: Refused | None = None, status_code: int = 200
) -> HTMLResponse:
    context: dict[str, Any] = {
        "payers": await insurance.list_payers(session, include_inactive=True),
        "failed": failed,
    }
    return render(request, "patients/settings_payers.html", context, status_code=status_code)


@router.get(PAYERS, response_class=HTMLResponse)
async def payers_page(request: Request, session: SessionDep, actor: PayersManage) -> HTMLResponse:
    return await _payers_page(request, session)


def _payer_values(raw: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = dict(raw)
    values["active"] = raw.get("active") == "true"
    return values


@router.post(PAYERS, response_class=HTMLResponse)
async def add_payer(request: Request, session: SessionDep, actor: PayersManage) -> Response:
    raw = form_text(await request.form(), PAYER_FIELDS)
    raw["active"] = "true"
    try:
        data = parse_form(PayerWrite, _payer_values(raw))
        async with all_or_nothing(session):
            payer = await insurance.add_payer(session, actor=actor, data=data)
    except ClinicError as error:
        refused = Refused.of("new-payer", error, raw)
        return await _payers_page(request, session, failed=refused, status_code=error.status_code)
    response = redirect(PAYERS)
    flash(request, response, f"{payer.name} was added.")
    return response


@router.post(PAYERS + "/{payer_id}", response_class=HTMLResponse)
async def update_payer(
    payer_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PayersManage,
    version: FormVersion,
) -> Response:
    payer = await insurance.get_payer(session, payer_id)  # 404 before the form
    raw = form_text(await request.form(), PAYER_FIELDS)
    try:
        data = parse_form(PayerWrite, _payer_values(raw))
        async with all_or_nothing(session):
            payer = await insurance.update_payer(
                session, actor=actor, payer_id=payer.id, data=data, expected_version=version
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        refused = Refused.of(f"payer-{payer_id}", error, raw)
        return await _payers_page(request, session, failed=refused, status_code=error.status_code)
    response = redirect(PAYERS)
    flash(request, response, f"{payer.name} was saved.")
    return response
