"""JSON API of recurring series (preview, book, cancel / move this, following or all) and
of the waitlist (add, list, remove, accept an offer)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Header, Query, Request, status
from fastapi.responses import JSONResponse

from clinicdesk.core.errors import ClinicError, problem_response
from clinicdesk.core.http import IfMatch
from clinicdesk.core.idempotency import run_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.scheduling import series_schemas as schemas
from clinicdesk.scheduling.access import SchedulingRead, SchedulingWrite
from clinicdesk.scheduling.schemas import AppointmentRead
from clinicdesk.scheduling.service import series, waitlist
from clinicdesk.scheduling.vocabulary import WaitlistStatus

router = APIRouter(prefix="/api/v1", tags=["scheduling"])


# --- recurring series -------------------------------------------------------------------


@router.post(
    "/appointment-series/preview",
    response_model=schemas.SeriesPreview,
    summary="Every appointment of a series and whether it can be booked",
)
async def preview_series(
    session: SessionDep, actor: SchedulingRead, body: schemas.SeriesCreate
) -> schemas.SeriesPreview:
    plan = await series.preview(session, actor=actor, data=body)
    return schemas.SeriesPreview(
        rrule=plan.rrule,
        description=plan.description,
        time_zone=plan.zone.key,
        occurrences=plan.checks,
    )


@router.post(
    "/appointment-series",
    response_model=schemas.SeriesBooked,
    status_code=status.HTTP_201_CREATED,
    summary="Book a recurring series (send Idempotency-Key to retry safely)",
)
async def book_series(
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.SeriesCreate,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """All or nothing: 409 with ``conflicts`` when an appointment cannot be booked, unless
    ``skip_conflicts`` (then those are listed in ``skipped``)."""

    async def use_case() -> tuple[int, Any]:
        booked = await series.book_series(session, actor=actor, data=body)
        read = schemas.SeriesBooked(
            id=booked.series.id,
            rrule=booked.series.rrule,
            description=booked.plan.description,
            time_zone=booked.series.time_zone,
            first_start=booked.series.first_start,
            booked=[AppointmentRead.model_validate(a) for a in booked.appointments],
            skipped=booked.plan.problems,
        )
        return status.HTTP_201_CREATED, read.model_dump(mode="json")

    outcome = await run_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/appointment-series",
        body=body.model_dump(mode="json"),
        use_case=use_case,
    )
    headers = {"Idempotency-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post(
    "/appointments/{appointment_id}/series-cancel",
    response_model=schemas.SeriesChanged,
)
async def cancel_in_series(
    appointment_id: uuid.UUID,
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.SeriesCancel,
    if_match: IfMatch,
) -> schemas.SeriesChanged:
    """Cancel this appointment, it and the following ones, or all upcoming ones."""
    found, cancelled = await series.cancel_in_series(
        session,
        actor=actor,
        appointment_id=appointment_id,
        scope=body.scope,
        reason=body.reason,
        expected_version=if_match,
    )
    return schemas.SeriesChanged(
        series_id=found.id,
        scope=body.scope,
        changed=[AppointmentRead.model_validate(a) for a in cancelled],
    )


@router.post(
    "/appointments/{appointment_id}/series-reschedule",
    response_model=schemas.SeriesChanged,
)
async def reschedule_in_series(
    appointment_id: uuid.UUID,
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.SeriesReschedule,
    if_match: IfMatch,
) -> schemas.SeriesChanged:
    """Move the appointments of the scope by one offset; all or nothing (409 with
    ``conflicts``)."""
    found, moved = await series.reschedule_in_series(
        session,
        actor=actor,
        appointment_id=appointment_id,
        data=body,
        expected_version=if_match,
    )
    return schemas.SeriesChanged(
        series_id=found.id,
        scope=body.scope,
        changed=[AppointmentRead.model_validate(a) for a in moved],
    )


# --- waitlist ---------------------------------------------------------------------------


@router.post("/waitlist", response_model=schemas.WaitlistRead, status_code=status.HTTP_201_CREATED)
async def add_to_waitlist(
    session: SessionDep, actor: SchedulingWrite, body: schemas.WaitlistWrite
) -> schemas.WaitlistRead:
    entry = await waitlist.add_entry(session, actor=actor, data=body)
    return schemas.WaitlistRead.model_validate(entry)


@router.get("/waitlist", response_model=list[schemas.WaitlistRead])
async def list_waitlist(
    session: SessionDep,
    actor: SchedulingRead,
    status: WaitlistStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=waitlist.MAX_LISTED)] = 100,
) -> list[schemas.WaitlistRead]:
    """Oldest first, the order offers are made in."""
    entries = await waitlist.list_entries(session, actor=actor, status=status, limit=limit)
    return [schemas.WaitlistRead.model_validate(e) for e in entries]


@router.post("/waitlist/{waitlist_entry_id}/remove", response_model=schemas.WaitlistRead)
async def remove_from_waitlist(
    waitlist_entry_id: uuid.UUID, session: SessionDep, actor: SchedulingWrite
) -> schemas.WaitlistRead:
    entry = await waitlist.remove_entry(session, actor=actor, entry_id=waitlist_entry_id)
    return schemas.WaitlistRead.model_validate(entry)


@router.post(
    "/waitlist/{waitlist_entry_id}/accept",
    response_model=schemas.WaitlistAccepted,
    status_code=status.HTTP_201_CREATED,
)
async def accept_offer(
    waitlist_entry_id: uuid.UUID, request: Request, session: SessionDep, actor: SchedulingWrite
) -> JSONResponse | schemas.WaitlistAccepted:
    """Book the offered slot. 409 when it was taken meanwhile; the entry then waits again
    (kept: the answer does not roll that back)."""
    accepted = await waitlist.accept_offer(session, actor=actor, entry_id=waitlist_entry_id)
    if isinstance(accepted.outcome, ClinicError):
        return problem_response(request, accepted.outcome)
    return schemas.WaitlistAccepted(
        entry=schemas.WaitlistRead.model_validate(accepted.entry),
        appointment=AppointmentRead.model_validate(accepted.outcome),
    )
