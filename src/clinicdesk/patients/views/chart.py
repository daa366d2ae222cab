"""The chart lists on the chart page: add, change and remove allergies (doctors and
nurses), medications, problems and history lines (doctors), and the ICD-10 picker."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients.access import ClinicalRead, actor_needing
from clinicdesk.patients.service import chart, icd10
from clinicdesk.patients.service.common import get_writable_patient

router = APIRouter(include_in_schema=False)

CHECKBOXES = {"is_intolerance"}
SECTIONS = {
    "allergies": "allergies",
    "medications": "medications",
    "problems": "problems",
    "history": "history",
}


@router.get("/patients/icd10-codes", response_class=HTMLResponse)
async def icd10_options(
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    fragment: Annotated[None, Depends(FragmentOf("/patients"))],
    q: Annotated[str, Query(max_length=100)] = "",
    icd10_code: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """``<option>``s for the problem form's datalist, as the user types (the code input
    sends its own name, ``icd10_code``)."""
    text = (q or icd10_code).strip()
    found = await icd10.search(session, text, limit=10) if text else []
    return render(request, "patients/_icd10_options.html", {"codes": found})


async def _form_data(request: Request, kind: str) -> dict[str, Any]:
    fields = chart.CHART_LISTS[kind].schema.model_fields
    data: dict[str, Any] = form_text(await request.form(), fields)
    for name in CHECKBOXES & set(fields):
        data[name] = data[name] == "1"
    return data


async def _change(
    request: Request,
    session: SessionDep,
    actor: Actor,
    patient_id: uuid.UUID,
    kind: str,
    entry_id: uuid.UUID | None,
    version: int | None,
    *,
    remove: bool = False,
) -> Response:
    """Add (no entry, no version), change or remove an entry; changing and removing
    carry the version the form was built from (``FormVersion``)."""
    patient = await get_writable_patient(session, patient_id, actor=actor)
    response = redirect(f"/patients/{patient.id}#{SECTIONS[kind]}")
    data = await _form_data(request, kind)
    noun = chart.CHART_LISTS[kind].noun
    done = ""
    try:
        body = None if remove else parse_form(chart.CHART_LISTS[kind].schema, data)
    except FormInvalid as error:
        flash(request, response, f"The {noun} was not saved. {error.first}", "error")
        return response
    try:
        async with all_or_nothing(session):
            if remove and entry_id is not None:
                await chart.remove_entry(
                    session,
                    actor=actor,
                    patient_id=patient.id,
                    kind=kind,
                    entry_id=entry_id,
                    expected_version=version,
                )
                done = f"The {noun} entry was removed (the change history keeps it)."
            elif entry_id is not None and body is not None:
                await chart.update_entry(
                    session,
                    actor=actor,
                    patient_id=patient.id,
                    kind=kind,
                    entry_id=entry_id,
                    data=body,
                    expected_version=version,
                )
                done = f"The {noun} entry was saved."
            elif body is not None:
                await chart.add_entry(
                    session, actor=actor, patient_id=patient.id, kind=kind, data=body
                )
                done = f"The {noun} entry was added."
    except ClinicError as error:
        if error.status_code == 404:
            raise
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, done)
    return response


def _chart_list_routes(kind: str) -> None:
    """Add, change and remove routes of one list, each requiring that list's permission
    (a nurse may change the allergies, not the problems)."""

    async def add_entry(
        patient_id: uuid.UUID,
        request: Request,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
    ) -> Response:
        return await _change(request, session, actor, patient_id, kind, None, None)

    async def update_entry(
        patient_id: uuid.UUID,
        entry_id: uuid.UUID,
        request: Request,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
        version: FormVersion,
    ) -> Response:
        return await _change(request, session, actor, patient_id, kind, entry_id, version)

    async def remove_entry(
        patient_id: uuid.UUID,
        entry_id: uuid.UUID,
        request: Request,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
        version: FormVersion,
    ) -> Response:
        return await _change(
            request, session, actor, patient_id, kind, entry_id, version, remove=True
        )

    writer = actor_needing(chart.CHART_LISTS[kind].write_permission)
    for change in (add_entry, update_entry, remove_entry):
        change.__annotations__["actor"] = writer
    path = f"/patients/{{patient_id}}/chart/{kind}"
    router.post(path, name=f"chart_add_{kind}")(add_entry)
    router.post(f"{path}/{{entry_id}}", name=f"chart_update_{kind}")(update_entry)
    router.post(f"{path}/{{entry_id}}/remove", name=f"chart_remove_{kind}")(remove_entry)


for _kind in chart.CHART_LISTS:
    _chart_list_routes(_kind)
