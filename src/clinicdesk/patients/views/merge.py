"""Finding a chart's duplicates and merging one into it, after a side-by-side check."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, parse_form
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients.access import PatientsRead, PatientsWrite
from clinicdesk.patients.schemas import MergeRequest
from clinicdesk.patients.service import duplicates, merge, records
from clinicdesk.patients.service.common import get_patient, get_writable_patient
from clinicdesk.patients.views.common import form_values, me_of

router = APIRouter(include_in_schema=False)

COMPARED = (
    ("MRN", "mrn"),
    ("Name", "full_name"),
    ("Preferred name", "preferred_name"),
    ("Date of birth", "birth_date"),
    ("Sex at birth", "sex_at_birth"),
    ("Phone", "phone"),
    ("E-mail", "email"),
    ("Address", "address_line1"),
    ("City", "city"),
    ("National ID", "national_id_masked"),
    ("Registered", "created_at"),
)


@router.get("/patients/{patient_id}/duplicates", response_class=HTMLResponse)
async def patient_duplicates(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: PatientsRead
) -> HTMLResponse:
    patient = await records.read_patient(
        session, actor=actor, patient_id=patient_id, view="duplicates"
    )
    found = await duplicates.find_duplicates(
        session, duplicates.facts_of_patient(patient), exclude=patient.id
    )
    return render(request, "patients/duplicates.html", {"patient": patient, "candidates": found})


@router.get("/patients/{patient_id}/merge", response_class=HTMLResponse)
async def confirm_merge(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    duplicate_id: uuid.UUID | None = None,
) -> Response:
    """Both records side by side before anything moves."""
    keep = await get_writable_patient(session, patient_id, actor=actor)
    if duplicate_id is None:
        return redirect(f"/patients/{keep.id}/duplicates")
    duplicate = await get_writable_patient(session, duplicate_id, actor=actor)
    return _confirm_page(request, keep, duplicate, error=None, reason="")


def _confirm_page(
    request: Request,
    keep: object,
    duplicate: object,
    *,
    error: str | None,
    reason: str,
    status_code: int = 200,
) -> HTMLResponse:
    country = me_of(request).country
    sides = [
        {"patient": p, "masked": form_values(p, country)}  # type: ignore[arg-type]
        for p in (keep, duplicate)
    ]
    return render(
        request,
        "patients/merge.html",
        {
            "keep": keep,
            "duplicate": duplicate,
            "sides": sides,
            "compared": COMPARED,
            "error": error,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.post("/patients/{patient_id}/merge", response_class=HTMLResponse)
async def merge_patients(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    duplicate_id: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    keep = await get_patient(session, patient_id, actor=actor, follow_merge=False)
    try:
        body = parse_form(MergeRequest, {"duplicate_id": duplicate_id, "reason": reason})
    except FormInvalid:
        duplicate = (
            await get_patient(session, uuid.UUID(duplicate_id), actor=actor)
            if _is_uuid(duplicate_id)
            else None
        )
        if duplicate is None:
            return redirect(f"/patients/{keep.id}/duplicates")
        message = "Say why these records are the same person (at least 3 characters)."
        return _confirm_page(
            request, keep, duplicate, error=message, reason=reason, status_code=422
        )
    try:
        async with all_or_nothing(session):
            merged = await merge.merge_patients(
                session,
                actor=actor,
                keep_id=keep.id,
                duplicate_id=body.duplicate_id,
                reason=body.reason,
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        response = redirect(f"/patients/{keep.id}/duplicates")
        flash(request, response, error.detail, "error")
        return response
    response = redirect(f"/patients/{merged.kept.id}")
    flash(
        request, response, f"Records merged; MRN {merged.kept.mrn} is kept and has everything now."
    )
    return response


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
