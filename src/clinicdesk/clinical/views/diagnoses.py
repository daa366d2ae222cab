"""The consultation's "Diagnoses" section: the ICD-10-CM picker (the chart's
``/patients/icd10-codes`` options as the doctor types), primary/secondary, the "add to
problem list" offer of a chronic diagnosis, and removal (entered in error, with why).

Every form posts with htmx and gets the section back, with the refusal in words when
the service refused."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.access import ClinicalWrite
from clinicdesk.clinical.schemas.diagnoses import DiagnosisChange, DiagnosisError, DiagnosisWrite
from clinicdesk.clinical.service import diagnoses
from clinicdesk.clinical.views.sections import Desk, attempt_in_section, section
from clinicdesk.clinical.vocabulary import DiagnosisRank
from clinicdesk.core.actor import Actor
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(include_in_schema=False)

TEMPLATE = "clinical/_diagnoses.html"
LABELS = {
    "icd10_code": "ICD-10-CM code",
    "description": "Description",
    "rank": "Rank",
    "note": "Note",
    "reason": "Why",
}


@section("diagnoses", "Diagnoses", template=TEMPLATE, order=40)
async def diagnoses_section(desk: Desk) -> dict[str, Any]:
    views = await diagnoses.diagnoses_of(desk.session, actor=desk.actor, encounter=desk.encounter)
    return {"diagnoses": views, "ranks": DiagnosisRank}


def _text(form: Any, name: str) -> str | None:
    return str(form.get(name) or "").strip() or None


@router.post("/encounters/{encounter_id}/diagnoses", response_class=HTMLResponse)
async def add_diagnosis(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> HTMLResponse:
    form = await request.form()
    # The picker's option reads "E11.9 — Type 2 diabetes ..."; the code is its first word.
    typed_code = (_text(form, "icd10_code") or "").split(" ")[0] or None

    async def step() -> object:
        data = parse_form(
            DiagnosisWrite,
            {
                "icd10_code": typed_code,
                "description": _text(form, "description"),
                "rank": _text(form, "rank"),
                "note": _text(form, "note"),
            },
            labels=LABELS,
        )
        return await diagnoses.add_diagnosis(
            session, actor=actor, encounter_id=encounter_id, data=data
        )

    return await attempt_in_section(
        "diagnoses", request, session, actor, encounter_id, step, "Diagnosis added."
    )


async def _encounter_of(session: AsyncSession, actor: Actor, diagnosis_id: uuid.UUID) -> uuid.UUID:
    return (await diagnoses.get_diagnosis(session, diagnosis_id, actor=actor)).encounter_id


@router.post("/diagnoses/{diagnosis_id}/rank", response_class=HTMLResponse)
async def rank_diagnosis(
    diagnosis_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> HTMLResponse:
    encounter_id = await _encounter_of(session, actor, diagnosis_id)
    form = await request.form()

    async def step() -> object:
        data = parse_form(DiagnosisChange, {"rank": _text(form, "rank")}, labels=LABELS)
        return await diagnoses.change_diagnosis(
            session, actor=actor, diagnosis_id=diagnosis_id, data=data, expected_version=version
        )

    return await attempt_in_section(
        "diagnoses", request, session, actor, encounter_id, step, "Rank changed."
    )


@router.post("/diagnoses/{diagnosis_id}/entered-in-error", response_class=HTMLResponse)
async def remove_diagnosis(
    diagnosis_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> HTMLResponse:
    encounter_id = await _encounter_of(session, actor, diagnosis_id)
    form = await request.form()

    async def step() -> object:
        data = parse_form(
            DiagnosisError,
            {"reason": _text(form, "reason") or ""},
            labels=LABELS,
            hint="Say why (at least 3 characters).",
        )
        return await diagnoses.mark_entered_in_error(
            session, actor=actor, diagnosis_id=diagnosis_id, data=data, expected_version=version
        )

    return await attempt_in_section(
        "diagnoses",
        request,
        session,
        actor,
        encounter_id,
        step,
        "Diagnosis marked entered in error.",
    )


@router.post("/diagnoses/{diagnosis_id}/problem", response_class=HTMLResponse)
async def add_to_problem_list(
    diagnosis_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> HTMLResponse:
    encounter_id = await _encounter_of(session, actor, diagnosis_id)

    async def step() -> object:
        return await diagnoses.add_to_problem_list(session, actor=actor, diagnosis_id=diagnosis_id)

    return await attempt_in_section(
        "diagnoses", request, session, actor, encounter_id, step, "Added to the problem list."
    )
