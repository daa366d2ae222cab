"""The consultation's "Follow-up" section: plan a recall ("recall in 6 months for a
check-up", with a note for staff) and see or cancel the patient's open recalls.

Every form posts with htmx and gets the section back, with the refusal in words when
the service refused."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from clinicdesk.clinical.access import ClinicalWrite
from clinicdesk.clinical.errors import RecallNotFound
from clinicdesk.clinical.schemas.recalls import RecallCancel, RecallWrite
from clinicdesk.clinical.service import encounters, recalls
from clinicdesk.clinical.views.sections import Desk, attempt_in_section, section
from clinicdesk.clinical.vocabulary import RecallUnit
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.scheduling import public as scheduling

router = APIRouter(include_in_schema=False)

TEMPLATE = "clinical/_recalls.html"
LABELS = {
    "in_count": "In",
    "in_unit": "Weeks or months",
    "type_id": "For",
    "note": "Note",
    "reason": "Why",
}


@section("recalls", "Follow-up", template=TEMPLATE, order=90)
async def recalls_section(desk: Desk) -> dict[str, Any]:
    """The patient's open recalls (the page recorded the read of the consultation)."""
    rows = await recalls.recalls_of(desk.session, desk.patient.id, open_only=True)
    types = await scheduling.list_types(desk.session, active_only=False)
    return {
        "recalls": rows,
        "types": {t.id: t for t in types},
        "active_types": [t for t in types if t.is_active],
        "units": RecallUnit,
    }


def _text(form: Any, name: str) -> str | None:
    return str(form.get(name) or "").strip() or None


@router.post("/encounters/{encounter_id}/recalls", response_class=HTMLResponse)
async def add_recall(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> HTMLResponse:
    form = await request.form()

    async def step() -> object:
        encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
        data = parse_form(
            RecallWrite,
            {
                "encounter_id": str(encounter.id),
                "in_count": _text(form, "in_count"),
                "in_unit": _text(form, "in_unit"),
                "type_id": _text(form, "type_id"),
                "note": _text(form, "note"),
            },
            labels=LABELS,
        )
        return await recalls.add_recall(
            session, actor=actor, patient_id=encounter.patient_id, data=data
        )

    return await attempt_in_section(
        "recalls", request, session, actor, encounter_id, step, "Recall planned."
    )


@router.post("/encounters/{encounter_id}/recalls/{recall_id}/cancel", response_class=HTMLResponse)
async def cancel_recall(
    encounter_id: uuid.UUID,
    recall_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> HTMLResponse:
    """Cancelled from the consultation page it is shown on (the section comes back)."""
    form = await request.form()

    async def step() -> object:
        encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
        recall = await recalls.find_recall(session, recall_id)
        if recall is None or recall.patient_id != encounter.patient_id:
            raise RecallNotFound("This consultation's patient has no such recall.")
        data = parse_form(
            RecallCancel,
            {"reason": _text(form, "reason") or ""},
            labels=LABELS,
            hint="Say why (at least 3 characters).",
        )
        return await recalls.cancel_recall(
            session, actor=actor, recall_id=recall_id, data=data, expected_version=version
        )

    return await attempt_in_section(
        "recalls", request, session, actor, encounter_id, step, "Recall cancelled."
    )
