"""Finding a chart's duplicates and merging one into it, after a side-by-side check."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.dates import format_local_date
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, parse_form
from clinicdesk.core.labels import label
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import Me
from clinicdesk.patients.access import PatientsRead, PatientsWrite
from clinicdesk.patients.models import Patient
from clinicdesk.patients.schemas import MergeRequest
from clinicdesk.patients.service import duplicates, merge, records
from clinicdesk.patients.service.common import get_patient, get_writable_patient
from clinicdesk.patients.views.common import form_values, me_of, phone_text

router = APIRouter(include_in_schema=False)

CHOICE_LABELS = {
    "name": "Name",
    "preferred_name": "Preferred name",
    "birth_date": "Date of birth",
    "sex_at_birth": "Sex at birth",
    "gender_identity": "Gender identity",
    "phone": "Phone",
    "phone_alt": "Other phone",
    "email": "E-mail",
    "address": "Address",
    "preferred_language": "Preferred language",
    "emergency_contact": "Emergency contact",
    "national_id": "National ID",
    "front_desk_notes": "Front-desk notes",
}
SURVIVOR_AS_GIVEN = "given"  # ?keep=given: keep the record of the URL, not the default


def _shown(patient: Patient, key: str, me: Me) -> str:
    """One choice's value as the page shows it (identifiers masked)."""
    masked = form_values(patient, me.country)
    if key == "birth_date":
        return format_local_date(patient.birth_date, me.date_format)
    if key == "sex_at_birth":
        return label(patient.sex_at_birth, "sex_at_birth")
    if key in ("phone", "phone_alt"):
        return masked[key]
    if key == "national_id":
        return masked["national_id_masked"]
    if key == "emergency_contact":
        phone = phone_text(patient.emergency_contact_phone, me.country)
        who = patient.emergency_contact_name or ""
        relation = patient.emergency_contact_relationship
        return " · ".join(v for v in (f"{who} ({relation})" if relation else who, phone) if v)
    values = (str(getattr(patient, f) or "") for f in merge.MERGE_CHOICES[key])
    return (
        ", ".join(v for v in values if v) if key == "address" else " ".join(v for v in values if v)
    )


def _rows(keep: Patient, duplicate: Patient, me: Me, chosen: set[str]) -> list[dict[str, object]]:
    ask = set(merge.differing_choices(keep, duplicate))
    rows: list[dict[str, object]] = []
    for key in merge.MERGE_CHOICES:
        left, right = _shown(keep, key, me), _shown(duplicate, key, me)
        if not left and not right:
            continue
        rows.append(
            {
                "key": key,
                "label": CHOICE_LABELS[key],
                "left": left,
                "right": right,
                "ask": key in ask,
                "take_right": key in chosen,
                "filled": not left and bool(right),  # the kept record takes it anyway
            }
        )
    return rows


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
    keep_choice: Annotated[str, Query(alias="keep", max_length=10)] = "",
) -> Response:
    """Both records side by side before anything moves. The more complete record is kept
    unless ``keep=given`` (the "keep the other one" link) says to keep this one."""
    given = await get_writable_patient(session, patient_id, actor=actor)
    if duplicate_id is None:
        return redirect(f"/patients/{given.id}/duplicates")
    other = await get_writable_patient(session, duplicate_id, actor=actor)
    keep, duplicate = (
        (given, other)
        if keep_choice == SURVIVOR_AS_GIVEN
        else merge.more_complete_first(given, other)
    )
    return _confirm_page(request, keep, duplicate, error=None, reason="", chosen=set())


def _confirm_page(
    request: Request,
    keep: Patient,
    duplicate: Patient,
    *,
    error: str | None,
    reason: str,
    chosen: set[str],
    status_code: int = 200,
) -> HTMLResponse:
    me = me_of(request)
    return render(
        request,
        "patients/merge.html",
        {
            "keep": keep,
            "duplicate": duplicate,
            "rows": _rows(keep, duplicate, me, chosen),
            "completeness": {p.id: merge.completeness(p) for p in (keep, duplicate)},
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
    form = await request.form()
    # One radio per asked field: "duplicate" takes the merged record's value.
    chosen = {key for key in merge.MERGE_CHOICES if form.get(f"choice_{key}") == "duplicate"}
    try:
        body = parse_form(
            MergeRequest,
            {"duplicate_id": duplicate_id, "reason": reason, "take_from_duplicate": sorted(chosen)},
        )
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
            request, keep, duplicate, error=message, reason=reason, chosen=chosen, status_code=422
        )
    try:
        async with all_or_nothing(session):
            merged = await merge.merge_patients(
                session,
                actor=actor,
                keep_id=keep.id,
                duplicate_id=body.duplicate_id,
                reason=body.reason,
                take_from_duplicate=body.take_from_duplicate,
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
