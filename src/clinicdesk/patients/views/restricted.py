"""Restricted records in the web UI: the refusal page with its "Emergency access" form,
and the admins' report of every emergency access."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.audit.web import AuditRead
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients.access import ClinicalRead, PatientsConfigDep
from clinicdesk.patients.errors import RestrictedRecord
from clinicdesk.patients.service import records, restricted

router = APIRouter(include_in_schema=False)


def refusal_page(
    request: Request,
    patient_id: uuid.UUID,
    error: RestrictedRecord,
    *,
    message: str | None = None,
    reason: str = "",
) -> HTMLResponse:
    """What a staff member sees instead of a restricted chart (403)."""
    return render(
        request,
        "patients/restricted.html",
        {
            "patient_id": patient_id,
            "detail": error.detail,
            "emergency_access": bool(error.extensions.get("emergency_access")),
            "min_reason": restricted.MIN_REASON,
            "error": message,
            "reason": reason,
        },
        status_code=403,
    )


@router.post("/patients/{patient_id}/emergency-access", response_class=HTMLResponse)
async def emergency_access(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    config: PatientsConfigDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        async with all_or_nothing(session):
            grant = await records.open_in_emergency(
                session,
                actor=actor,
                patient_id=patient_id,
                reason=reason,
                minutes=config.break_glass_minutes,
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        refused = RestrictedRecord(error.detail, emergency_access=True)
        return refusal_page(request, patient_id, refused, message=error.detail, reason=reason)
    response = redirect(f"/patients/{grant.patient_id}")
    flash(
        request,
        response,
        f"Emergency access for {config.break_glass_minutes} minutes. It is on the audit "
        "trail and administrators review it.",
        "warning",
    )
    return response


@router.get("/admin/emergency-access", response_class=HTMLResponse)
async def emergency_access_report(
    request: Request, session: SessionDep, actor: AuditRead, cursor: str | None = None
) -> HTMLResponse:
    page = await restricted.break_glass_report(session, actor=actor, cursor=cursor)
    return render(request, "patients/emergency_access.html", {"page": page})
