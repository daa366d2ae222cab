"""The "Appointments" section of a patient's chart, loaded by the chart page (patients
sit below scheduling, so the chart asks scheduling for this fragment)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import FragmentOf, render
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.patients.public import get_patient
from clinicdesk.scheduling.access import SchedulingRead
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.service import calendar, setup
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.views.common import STATUS_WORDS, wall_clock

router = APIRouter(include_in_schema=False)

WINDOW = timedelta(days=62)  # the calendar service's longest range
PAST_SHOWN = 10
PAST_WINDOWS = 6  # about a year back
UPCOMING_WINDOWS = 3  # about six months ahead


@router.get("/scheduling/patients/{patient_id}/appointments", response_class=HTMLResponse)
async def patient_appointments(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: SchedulingRead,
    fragment: Annotated[None, Depends(FragmentOf("/patients/{patient_id}"))],
) -> HTMLResponse:
    """Upcoming appointments first (soonest first), then the last ten."""
    patient = await get_patient(session, patient_id, actor=actor)
    now = utcnow()
    upcoming: list[Appointment] = []
    for n in range(UPCOMING_WINDOWS):
        upcoming += await calendar.appointments_between(
            session,
            actor=actor,
            start=now + n * WINDOW,
            end=now + (n + 1) * WINDOW,
            patient_id=patient.id,
        )
    past: list[Appointment] = []
    for n in range(PAST_WINDOWS):
        found = await calendar.appointments_between(
            session,
            actor=actor,
            start=now - (n + 1) * WINDOW,
            end=now - n * WINDOW,
            patient_id=patient.id,
        )
        past += reversed(found)
        if len(past) >= PAST_SHOWN:
            break
    providers = {
        p.id: p.display_name for p in await setup.list_providers(session, active_only=False)
    }
    types = {t.id: t.name for t in await setup.list_types(session, active_only=False)}
    places = {loc.id: loc.name for loc in await identity.list_locations(session)}
    zones = {}
    for a in upcoming + past:
        if a.location_id not in zones:
            zones[a.location_id] = await location_zone(session, a.location_id)

    def row(a: Appointment) -> dict[str, object]:
        local = wall_clock(a.starts_at, zones[a.location_id])
        return {
            "a": a,
            "when": f"{local[:10]} {local[11:16]}",
            "provider": providers.get(a.provider_id, "—"),
            "type": types.get(a.type_id, "—"),
            "place": places.get(a.location_id, "—"),
            "status": STATUS_WORDS.get(a.status, a.status),
        }

    return render(
        request,
        "scheduling/_patient_appointments.html",
        {
            "patient": patient,
            "upcoming": [row(a) for a in upcoming],
            "past": [row(a) for a in past[:PAST_SHOWN]],
        },
        block="fragment",
    )
