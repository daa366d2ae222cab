"""The "Appointments" section of a patient's chart, loaded by the chart page (patients
sit below scheduling, so the chart asks scheduling for this fragment)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import FragmentOf, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.patients.public import get_patient
from clinicdesk.scheduling.access import SchedulingRead
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.service import patient_appointments as listing
from clinicdesk.scheduling.service import setup
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.views.common import STATUS_WORDS

router = APIRouter(include_in_schema=False)


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
    found = await listing.patient_appointments(
        session, actor=actor, patient_id=patient.id, now=utcnow()
    )
    upcoming, past = found.upcoming, found.past
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
        return {
            "a": a,
            "zone": zones[a.location_id].key,
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
            "past": [row(a) for a in past],
        },
        block="fragment",
    )
