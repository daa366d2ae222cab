"""The consultation's "Prescriptions" section: the drug picker as you type, the
structured fields with the sig previewed, the safety findings with their evidence before
saving (and the override reason they ask for), this consultation's prescriptions and the
patient's other active ones with discontinue and renew.

Every action answers htmx with the section again (``block="section"``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from clinicdesk.clinical.access import ClinicalRead, Prescribe
from clinicdesk.clinical.errors import SafetyCheckRequired
from clinicdesk.clinical.kernel.sig import DoseForm, Frequency, Route, sig_text
from clinicdesk.clinical.schemas.prescriptions import PrescriptionStop, PrescriptionWrite
from clinicdesk.clinical.service import drugs, encounters, prescriptions
from clinicdesk.clinical.views.sections import Desk, section
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import FragmentOf, all_or_nothing, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients import public as patients

router = APIRouter(include_in_schema=False)

TEMPLATE = "clinical/_prescriptions.html"
FIELDS = (
    "drug_id",
    "drug_name",
    "strength",
    "form",
    "dose",
    "route",
    "frequency",
    "as_needed_for",
    "duration_days",
    "quantity",
    "refills",
    "instructions",
    "override_reason",
)
LABELS = {
    "drug_name": "Drug",
    "dose": "Dose",
    "duration_days": "Days",
    "quantity": "Quantity",
    "refills": "Refills",
    "override_reason": "Reason to override",
}


async def _context(desk: Desk, **extra: Any) -> dict[str, Any]:
    here = await prescriptions.list_for_encounter_unaudited(desk.session, desk.encounter.id)
    here_ids = {p.id for p in here}
    active = [
        p
        for p in await prescriptions.active_for_patient(desk.session, desk.patient.id)
        if p.id not in here_ids
    ]
    rx: dict[str, Any] = {
        "here": here,
        "active": active,
        "forms": list(DoseForm),
        "routes": list(Route),
        "frequencies": list(Frequency),
        "entered": {},
        "findings": [],
        "error": None,
        "saved": None,
        "sig": None,
    }
    rx.update(extra)
    return {"rx": rx}


@section(
    "prescriptions",
    "Prescriptions",
    template=TEMPLATE,
    order=50,
    permission=Permission.CLINICAL_READ,
)
async def prescriptions_section(desk: Desk) -> dict[str, Any]:
    return await _context(desk)


async def _desk(request: Request, session: SessionDep, actor: Any, encounter_id: uuid.UUID) -> Desk:
    encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
    patient = await patients.get_patient(session, encounter.patient_id, actor=actor)
    return Desk(request, session, actor, encounter, patient)


async def _section(request: Request, desk: Desk, **extra: Any) -> HTMLResponse:
    context = {
        "encounter": desk.encounter,
        "writable": desk.writable,
        **(await _context(desk, **extra)),
    }
    return render(request, TEMPLATE, context, block="section")


def _values(form: Any) -> dict[str, str]:
    values = {name: str(form.get(name) or "").strip() for name in (*FIELDS, "drug_query")}
    if not values["drug_id"]:
        values["drug_name"] = values["drug_query"]
    return values


def _write(values: dict[str, str]) -> PrescriptionWrite:
    given = {k: values[k] for k in FIELDS}
    if given["drug_id"]:
        given["drug_name"] = ""
    return parse_form(PrescriptionWrite, given, labels=LABELS)


@router.get("/encounters/{encounter_id}/drug-options", response_class=HTMLResponse)
async def drug_options(
    encounter_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    fragment: Annotated[None, Depends(FragmentOf("/encounters/{encounter_id}"))],
    drug_query: str = "",
) -> HTMLResponse:
    """The picker's list as the prescriber types (names, synonyms, brands)."""
    found = await drugs.search_drugs(session, drug_query[:100])
    return render(
        request,
        TEMPLATE,
        {"options": found, "query": drug_query, "encounter_id": encounter_id},
        block="options",
    )


@router.post("/encounters/{encounter_id}/prescriptions/preview", response_class=HTMLResponse)
async def preview(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: Prescribe
) -> HTMLResponse:
    """The sig and the safety findings for the form as it stands, before saving."""
    values = _values(await request.form())
    desk = await _desk(request, session, actor, encounter_id)
    sig, findings, error = None, [], None
    try:
        data = _write(values | {"override_reason": ""})
        sig = sig_text(prescriptions.directions(data))
        drug = await drugs.get_drug(session, data.drug_id) if data.drug_id else None
        outcome = await prescriptions.run_checks(
            session,
            actor=actor,
            encounter=desk.encounter,
            drug=drug,
            drug_name=data.drug_name or "",
        )
        findings = [f.as_dict() for f in outcome.findings]
    except ClinicError as refused:
        error = refused.detail
    return render(
        request,
        TEMPLATE,
        {"rx": {"sig": sig, "findings": findings, "error": error, "entered": values}},
        block="preview",
    )


@router.post("/encounters/{encounter_id}/prescriptions", response_class=HTMLResponse)
async def prescribe(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: Prescribe
) -> HTMLResponse:
    values = _values(await request.form())
    try:
        async with all_or_nothing(session):
            rx = await prescriptions.prescribe(
                session, actor=actor, encounter_id=encounter_id, data=_write(values)
            )
            saved = f"Prescribed {rx.drug_name}."
    except SafetyCheckRequired as refused:
        desk = await _desk(request, session, actor, encounter_id)
        return await _section(
            request,
            desk,
            entered=values,
            findings=refused.extensions["findings"],
            error="Read the findings below. To go ahead, give a reason to override.",
        )
    except ClinicError as refused:
        desk = await _desk(request, session, actor, encounter_id)
        return await _section(request, desk, entered=values, error=refused.detail)
    desk = await _desk(request, session, actor, encounter_id)
    return await _section(request, desk, saved=saved)


@router.post(
    "/encounters/{encounter_id}/prescriptions/{prescription_id}/discontinue",
    response_class=HTMLResponse,
)
async def discontinue(
    encounter_id: uuid.UUID,
    prescription_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: Prescribe,
    version: FormVersion,
) -> HTMLResponse:
    form = await request.form()
    message: dict[str, Any] = {}
    try:
        async with all_or_nothing(session):
            await encounters.get_encounter(session, encounter_id, actor=actor)
            data = parse_form(
                PrescriptionStop,
                {"reason": str(form.get("reason") or "").strip()},
                hint="Say why it is stopped (at least 3 characters).",
            )
            rx = await prescriptions.discontinue(
                session,
                actor=actor,
                prescription_id=prescription_id,
                data=data,
                expected_version=version,
            )
            message["saved"] = f"Discontinued {rx.drug_name}."
    except ClinicError as refused:
        message["error"] = refused.detail
    desk = await _desk(request, session, actor, encounter_id)
    return await _section(request, desk, **message)


@router.post(
    "/encounters/{encounter_id}/prescriptions/{prescription_id}/renew",
    response_class=HTMLResponse,
)
async def renew(
    encounter_id: uuid.UUID,
    prescription_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: Prescribe,
    version: FormVersion,
) -> HTMLResponse:
    form = await request.form()
    override = str(form.get("override_reason") or "").strip() or None
    message: dict[str, Any] = {}
    try:
        async with all_or_nothing(session):
            rx = await prescriptions.renew(
                session,
                actor=actor,
                prescription_id=prescription_id,
                encounter_id=encounter_id,
                override_reason=override,
                expected_version=version,
            )
            message["saved"] = f"Renewed {rx.drug_name}."
    except SafetyCheckRequired as refused:
        message["error"] = "Renewing needs a reason to override these findings."
        message["findings"] = refused.extensions["findings"]
        message["renewing"] = prescription_id
    except ClinicError as refused:
        message["error"] = refused.detail
    desk = await _desk(request, session, actor, encounter_id)
    return await _section(request, desk, **message)
