"""The consultation page: the patient banner, then every section of the consultation
(``sections``) on one page; open a consultation from the chart, reach the one a queue
visit opened, change the reason for the visit, finish or cancel it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.errors import EncounterNotFound
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.schemas.encounters import EncounterCancel, EncounterReason, EncounterStart
from clinicdesk.clinical.service import cancelling, closing, encounters, vitals
from clinicdesk.clinical.views.sections import SECTIONS, Desk, section, visible_sections
from clinicdesk.clinical.vocabulary import EncounterKind
from clinicdesk.core.errors import ClinicError, Forbidden
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients
from clinicdesk.scheduling import public as scheduling

router = APIRouter(include_in_schema=False)

PAGE = "clinical/consultation.html"


def page_url(encounter: Encounter | uuid.UUID) -> str:
    encounter_id = encounter if isinstance(encounter, uuid.UUID) else encounter.id
    return f"/encounters/{encounter_id}"


async def _desk(request: Request, session: SessionDep, actor: Any, encounter_id: uuid.UUID) -> Desk:
    encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
    patient = await patients.get_patient(session, encounter.patient_id, actor=actor)
    return Desk(request, session, actor, encounter, patient)


async def _shown(desk: Desk, name: str) -> dict[str, Any]:
    found = SECTIONS[name]
    return {"section": found, **(await found.load(desk))}


async def page_context(desk: Desk) -> dict[str, Any]:
    shown = [await _shown(desk, s.name) for s in visible_sections(desk.actor)]
    provider = await scheduling.get_provider(desk.session, desk.encounter.provider_id)
    allergies = patients.banner_allergies(
        await patients.active_allergies(desk.session, patient_id=desk.patient.id)
    )
    return {
        "encounter": desk.encounter,
        "patient": desk.patient,
        "provider": provider,
        "allergies": allergies,
        "sections": shown,
        "writable": desk.writable,
        "kinds": EncounterKind,
        "banner_facts": await vitals.banner_facts(
            desk.session, actor=desk.actor, patient_id=desk.patient.id
        ),
    }


@router.get("/encounters/{encounter_id}", response_class=HTMLResponse)
async def consultation_page(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalRead
) -> HTMLResponse:
    desk = await _desk(request, session, actor, encounter_id)
    return render(request, PAGE, await page_context(desk))


@router.get("/encounters/{encounter_id}/sections/{name}", response_class=HTMLResponse)
async def consultation_section(
    encounter_id: uuid.UUID,
    name: str,
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    fragment: Annotated[None, Depends(FragmentOf("/encounters/{encounter_id}"))],
) -> HTMLResponse:
    """One section again (htmx), after a change made in it."""
    found = SECTIONS.get(name)
    if found is None:
        raise EncounterNotFound("This consultation has no such section.")
    if not actor.can(found.permission):
        raise Forbidden("Your role does not see this part of the consultation.")
    desk = await _desk(request, session, actor, encounter_id)
    context = {"encounter": desk.encounter, "writable": desk.writable, **(await _shown(desk, name))}
    return render(request, found.template, context, block="section")


@router.get("/visits/{visit_id}/consultation", response_class=HTMLResponse)
async def consultation_of_visit(
    visit_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
) -> Response:
    """The queue's "Start" leads here: the consultation the visit opened."""
    encounter = await encounters.encounter_of_visit(session, visit_id)
    if encounter is None:
        raise EncounterNotFound(
            "This visit has no consultation yet: it opens when the consultation is started."
        )
    return redirect(page_url(encounter))


@router.post("/patients/{patient_id}/encounters", response_class=HTMLResponse)
async def start_from_chart(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """Open a consultation ad hoc (phone, video, home visit, or in person without a
    queue visit) from the chart."""
    form = await request.form()
    try:
        async with all_or_nothing(session):
            data = parse_form(
                EncounterStart,
                {
                    "patient_id": str(patient_id),
                    "kind": str(form.get("kind") or EncounterKind.IN_PERSON),
                    "reason": str(form.get("reason") or "").strip() or None,
                    "location_id": str(form.get("location_id") or "") or None,
                },
                labels={"kind": "How", "reason": "Reason", "location_id": "Location"},
            )
            encounter = await encounters.start_encounter(session, actor=actor, data=data)
    except ClinicError as error:
        response = redirect(f"/patients/{patient_id}#consultations")
        flash(request, response, error.detail, "error")
        return response
    return redirect(page_url(encounter))


@section("reason", "Reason for visit", template="clinical/_reason.html", order=10)
async def reason_section(desk: Desk) -> dict[str, Any]:
    return {}


@router.post("/encounters/{encounter_id}/reason", response_class=HTMLResponse)
async def change_reason(
    encounter_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    """Saved as the doctor types (htmx, on pause and on leaving the field)."""
    form = await request.form()
    error = None
    try:
        async with all_or_nothing(session):
            data = parse_form(
                EncounterReason,
                {"reason": str(form.get("reason") or "").strip() or None},
                labels={"reason": "Reason"},
            )
            await encounters.change_reason(
                session,
                actor=actor,
                encounter_id=encounter_id,
                reason=data.reason,
                expected_version=version,
            )
    except ClinicError as refused:
        error = refused.detail
    desk = await _desk(request, session, actor, encounter_id)
    context = {
        "encounter": desk.encounter,
        "writable": desk.writable,
        "error": error,
        "saved": error is None,
        **(await _shown(desk, "reason")),
    }
    return render(request, "clinical/_reason.html", context, block="section")


async def _step(
    request: Request,
    session: SessionDep,
    encounter_id: uuid.UUID,
    done: str,
    run: Callable[[], Awaitable[str | None]],
) -> Response:
    """A step of the consultation from its page: on to where ``run`` says (None: the
    page again) with what happened, or back to the page with why it was refused (and
    nothing of it kept)."""
    try:
        async with all_or_nothing(session):
            go_to = await run()
    except ClinicError as error:
        response = redirect(page_url(encounter_id))
        flash(request, response, error.detail, "error")
        return response
    response = redirect(go_to or page_url(encounter_id))
    flash(request, response, done)
    return response


@router.post("/encounters/{encounter_id}/finish", response_class=HTMLResponse)
async def finish(
    encounter_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    async def run() -> str | None:
        encounter = await closing.finish_encounter(
            session, actor=actor, encounter_id=encounter_id, expected_version=version
        )
        # From the queue's visit: back to the queue, for the next patient.
        if encounter.visit_id is not None and encounter.location_id is not None:
            return f"/queue/mine?location_id={encounter.location_id}"
        return None

    return await _step(request, session, encounter_id, "Consultation finished.", run)


@router.post("/encounters/{encounter_id}/cancel", response_class=HTMLResponse)
async def cancel(
    encounter_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    form = await request.form()

    async def run() -> str | None:
        data = parse_form(
            EncounterCancel,
            {
                "reason": str(form.get("reason") or "").strip(),
                "entered_in_error": form.get("entered_in_error") == "1",
            },
            labels={"reason": "Reason"},
            hint="Say why (at least 3 characters).",
        )
        await cancelling.cancel_consultation(
            session, actor=actor, encounter_id=encounter_id, data=data, expected_version=version
        )
        return None

    return await _step(request, session, encounter_id, "Consultation cancelled.", run)


@router.get("/patients/{patient_id}/consultations", response_class=HTMLResponse)
async def chart_consultations(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    fragment: Annotated[None, Depends(FragmentOf("/patients/{patient_id}"))],
    cursor: str | None = None,
) -> HTMLResponse:
    """The chart's list of consultations (loaded into the chart by htmx), 20 a page."""
    page = await encounters.list_for_patient(
        session, actor=actor, patient_id=patient_id, cursor=cursor
    )
    providers = {p.id: p for p in await scheduling.list_providers(session, active_only=False)}
    locations = await identity.active_locations(session)
    return render(
        request,
        "clinical/_chart_consultations.html",
        {
            "patient_id": patient_id,
            "page": page,
            "providers": providers,
            "locations": locations,
            "kinds": EncounterKind,
            "cursor": cursor,
        },
    )
