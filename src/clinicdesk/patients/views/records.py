"""Patient pages: search, registration (with the duplicate check), the chart, editing
demographics with the stale-version check, identifier reveal and portal invitations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError, InvalidField, PreconditionFailed
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import IdentityConfigDep
from clinicdesk.patients.access import PatientsRead, PatientsWrite
from clinicdesk.patients.errors import RestrictedRecord
from clinicdesk.patients.schemas import PatientCreate, PatientUpdate
from clinicdesk.patients.service import activity, chart, duplicates, pages, records, search
from clinicdesk.patients.views.common import DEMOGRAPHIC_FIELDS, LABELS, form_values, me_of
from clinicdesk.patients.views.restricted import refusal_page
from clinicdesk.patients.vocabulary import HistoryKind, SexAtBirth

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MATCHED_ON = {
    "name": "name",
    "birth_date": "date of birth",
    "phone": "phone",
    "mrn": "MRN",
    "national_id": "national ID",
    "insurance_member_number": "member number",
}


# --- search -----------------------------------------------------------------------------

SEARCH_MAX = 200


@router.get("/patients", response_class=HTMLResponse)
async def patient_list(
    request: Request,
    session: SessionDep,
    actor: PatientsRead,
    # Longer than a search may be, so that a pasted or edited address gets the form
    # back with a message rather than an error page.
    q: Annotated[str, Query(max_length=4 * SEARCH_MAX)] = "",
    cursor: str | None = None,
) -> HTMLResponse:
    """One search box; htmx asks for the ``results`` block as the user types."""
    context: dict[str, Any] = {
        "q": q,
        "matched_on": MATCHED_ON,
        "search_max": SEARCH_MAX,
        "error": None,
    }
    if len(q) > SEARCH_MAX:
        context.update(
            hits=[],
            next_cursor=None,
            error=f"Search with at most {SEARCH_MAX} characters: a name, a phone number, "
            "a date of birth or a record number.",
        )
        return render(request, "patients/list.html", context, block="results", status_code=400)
    result = await search.search_patients(
        session, actor=actor, text=q, limit=PAGE_SIZE, cursor=cursor
    )
    context.update(hits=result.hits, next_cursor=result.next_cursor)
    return render(request, "patients/list.html", context, block="results")


# --- registration -----------------------------------------------------------------------


def _form_context(**extra: Any) -> dict[str, Any]:
    return {"sexes": list(SexAtBirth), "labels": LABELS, "errors": {}, "error": None, **extra}


@router.get("/patients/new", response_class=HTMLResponse)
async def new_patient(request: Request, actor: PatientsWrite) -> HTMLResponse:
    return render(request, "patients/new.html", _form_context(form={}, candidates=[]))


@router.post("/patients/new", response_class=HTMLResponse)
async def register_patient(request: Request, session: SessionDep, actor: PatientsWrite) -> Response:
    """Likely duplicates are shown first; "Register anyway" sends ``confirm_not_duplicate``."""
    form = await request.form()
    values = form_text(form, DEMOGRAPHIC_FIELDS)
    confirmed = form.get("confirm_not_duplicate") == "1"

    def again(status_code: int, **extra: Any) -> HTMLResponse:
        context = _form_context(form=values, **{"candidates": [], **extra})
        return render(request, "patients/new.html", context, status_code=status_code)

    try:
        data = parse_form(PatientCreate, values, labels=LABELS)
    except FormInvalid as error:
        return again(error.status_code, errors=error.fields, error=error.detail)
    try:
        async with all_or_nothing(session):
            if not confirmed:
                facts = await duplicates.facts_of_registration(session, data)
                found = await duplicates.find_duplicates(session, facts)
                if found:
                    return again(200, candidates=found)
            patient = await records.register_patient(session, actor=actor, data=data)
    except InvalidField as error:
        return again(422, errors={error.field: error.message}, error=error.message)
    except ClinicError as error:
        return again(error.status_code, error=error.detail)
    response = redirect(f"/patients/{patient.id}")
    flash(request, response, f"{patient.display_name} registered with MRN {patient.mrn}.")
    return response


# --- the chart --------------------------------------------------------------------------


@router.get("/patients/options", response_class=HTMLResponse)
async def patient_options(
    request: Request,
    session: SessionDep,
    actor: PatientsRead,
    fragment: Annotated[None, Depends(FragmentOf("/patients"))],
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Up to eight matching patients as radio choices: the patient picker of every form
    that needs one (booking, walk-in check-in)."""
    hits = (
        (await search.search_patients(session, actor=actor, text=q, limit=8)).hits
        if q.strip()
        else []
    )
    return render(
        request, "patients/_patient_options.html", {"hits": hits, "q": q}, block="options"
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
async def patient_chart(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: PatientsRead
) -> Response:
    """Everything at a glance. A merged record's old link lands on the kept chart. A
    restricted one answers with the refusal page (with emergency access for clinicians)."""
    try:
        page = await pages.chart_page(session, actor=actor, patient_id=patient_id)
    except RestrictedRecord as refused:
        return refusal_page(request, patient_id, refused)
    patient = page.patient
    if page.merged_away:
        response = redirect(f"/patients/{patient.id}")
        flash(
            request, response, f"That record was merged into MRN {patient.mrn}; this is it.", "info"
        )
        return response
    return render(
        request,
        "patients/chart.html",
        {
            "patient": patient,
            "masked": form_values(patient, me_of(request).country),
            "allergies": page.allergies,
            "lists": page.lists,
            "history": page.history,
            "documents": page.documents,
            "clinical": page.clinical,
            "changeable": {kind for kind in chart.CHART_LISTS if chart.may_change(actor, kind)},
            "merged_from": page.merged_from,
            "portal": page.portal,
            "policies": page.policies,
            "may_change_policies": page.may_change_policies,
            "payers": page.payers,
            "history_kinds": list(HistoryKind),
            "categories": page.categories,
            "labels": LABELS,
        },
    )


@router.post("/patients/{patient_id}/reveal", response_class=HTMLResponse)
async def reveal_identifier(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsRead,
    field: Annotated[str, Form(max_length=40)] = "national_id",
) -> HTMLResponse:
    """The identifier in clear, swapped in place by htmx; every reveal is audited."""
    value = await records.reveal_identifier(
        session, actor=actor, patient_id=patient_id, field=field
    )
    return render(request, "patients/_revealed.html", {"value": value})


# --- editing demographics ---------------------------------------------------------------


# The edit form's fields beyond registration's.
EDIT_ONLY_FIELDS = ("no_known_allergies", "deceased_on")


def _changed_by_others(loaded: dict[str, str], current: dict[str, str]) -> list[dict[str, str]]:
    fields = [*DEMOGRAPHIC_FIELDS, *EDIT_ONLY_FIELDS]
    return [
        {"field": f, "label": LABELS.get(f, f), "now": current.get(f, "") or "—"}
        for f in fields
        if f in loaded and loaded[f] != current.get(f, "")
    ]


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
async def edit_patient(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: PatientsWrite
) -> Response:
    patient = await records.read_patient(session, actor=actor, patient_id=patient_id, view="edit")
    if patient.id != patient_id:
        return redirect(f"/patients/{patient.id}/edit")
    values = form_values(patient, me_of(request).country)
    return render(
        request,
        "patients/edit.html",
        _form_context(
            patient=patient, form=values, loaded=values, version=patient.version, changed=[]
        ),
    )


@router.post("/patients/{patient_id}/edit", response_class=HTMLResponse)
async def update_patient(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    version: FormVersion,
) -> Response:
    """A stale ``version`` shows the form again (412) with what someone else changed,
    keeping what this user typed, so they can apply it on top of the new version."""
    patient = await records.read_patient(session, actor=actor, patient_id=patient_id, view="edit")
    country = me_of(request).country
    form = await request.form()
    fields = (*DEMOGRAPHIC_FIELDS, *EDIT_ONLY_FIELDS)
    values = form_text(form, fields)
    loaded = {f: v for f in fields if isinstance(v := form.get(f"loaded_{f}"), str)}

    masks = {k: v for k, v in form_values(patient, country).items() if k.endswith("_masked")}

    def again(status_code: int, **extra: Any) -> HTMLResponse:
        defaults: dict[str, Any] = {
            "form": {**values, **masks},
            "loaded": loaded,
            "version": version,
            "changed": [],
        }
        context = _form_context(patient=patient, **{**defaults, **extra})
        return render(request, "patients/edit.html", context, status_code=status_code)

    try:
        data = parse_form(
            PatientUpdate,
            {**values, "no_known_allergies": values["no_known_allergies"] == "1"},
            labels=LABELS,
        )
    except FormInvalid as error:
        return again(error.status_code, errors=error.fields, error=error.detail)
    try:
        async with all_or_nothing(session):
            await records.update_patient(
                session,
                actor=actor,
                patient_id=patient.id,
                data=data,
                expected_version=version,
                keep_identifiers=True,
            )
    except PreconditionFailed as error:
        await session.refresh(patient)
        current = form_values(patient, country)
        changed = _changed_by_others(loaded, current)
        return again(
            error.status_code,
            error="Someone else changed this record since you opened it. Their changes are "
            "listed below; yours are still in the form. Check them, then save again.",
            changed=changed,
            loaded=current,
            version=patient.version,
        )
    except InvalidField as error:
        return again(422, errors={error.field: error.message}, error=error.message)
    except ClinicError as error:
        return again(error.status_code, error=error.detail)
    response = redirect(f"/patients/{patient.id}")
    flash(request, response, "Demographics saved.")
    return response


# --- portal invitation ------------------------------------------------------------------


@router.post("/patients/{patient_id}/portal-invitation")
async def invite_to_portal(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    config: IdentityConfigDep,
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    response = redirect(f"/patients/{patient_id}")
    try:
        async with all_or_nothing(session):
            user = await activity.invite_to_portal(
                session, actor=actor, patient_id=patient_id, email=email or None, config=config
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, f"Portal invitation sent to {user.email}.")
    return response
