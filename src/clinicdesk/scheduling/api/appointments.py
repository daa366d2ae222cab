"""JSON API of the scheduling domain: providers and their hours, appointment types,
appointments (book, reschedule, cancel, no-show, undo), free slots."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Header, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.dates import Moment
from clinicdesk.core.http import IfMatch, etag, with_etag
from clinicdesk.core.idempotency import run_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.schemas import Created
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.scheduling import schemas
from clinicdesk.scheduling.access import SchedulingRead, SchedulingWrite
from clinicdesk.scheduling.models import Appointment, Provider
from clinicdesk.scheduling.service import booking, calendar, setup, slots

router = APIRouter(prefix="/api/v1", tags=["scheduling"])


async def _provider_reads(
    session: AsyncSession, providers: Sequence[Provider]
) -> list[schemas.ProviderRead]:
    locations = await setup.provider_locations(session, [p.id for p in providers])
    reads = [schemas.ProviderRead.model_validate(p) for p in providers]
    for read in reads:
        read.location_ids = locations[read.id]
    return reads


# --- providers, hours, types ----------------------------------------------------------


def _answer(response: Response, appointment: Appointment) -> schemas.AppointmentRead:
    """The appointment as the API shows it, with its version as the ETag."""
    with_etag(response, appointment.version)
    return schemas.AppointmentRead.model_validate(appointment)


@router.get("/providers", response_model=list[schemas.ProviderRead])
async def list_providers(session: SessionDep, actor: SchedulingRead) -> list[schemas.ProviderRead]:
    return await _provider_reads(session, await setup.list_providers(session))


@router.post("/providers", response_model=schemas.ProviderRead, status_code=status.HTTP_201_CREATED)
async def create_provider(
    response: Response, session: SessionDep, actor: AdminSettings, body: schemas.ProviderWrite
) -> schemas.ProviderRead:
    provider = await setup.create_provider(session, actor=actor, data=body)
    with_etag(response, provider.version)
    return (await _provider_reads(session, [provider]))[0]


@router.put("/providers/{provider_id}", response_model=schemas.ProviderRead)
async def update_provider(
    provider_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: AdminSettings,
    body: schemas.ProviderWrite,
    if_match: IfMatch,
) -> schemas.ProviderRead:
    provider = await setup.update_provider(
        session,
        actor=actor,
        provider_id=provider_id,
        data=body,
        expected_version=if_match,
    )
    with_etag(response, provider.version)
    return (await _provider_reads(session, [provider]))[0]


@router.get("/providers/{provider_id}/hours", response_model=schemas.WeeklyHoursWrite)
async def provider_hours(
    provider_id: uuid.UUID, response: Response, session: SessionDep, actor: SchedulingRead
) -> schemas.WeeklyHoursWrite:
    """The provider's regular week; the ETag is the provider's version, which every
    change of the week moves on."""
    provider = await setup.get_provider(session, provider_id)
    with_etag(response, provider.version)
    rows = await setup.weekly_hours(session, provider_id)
    return schemas.WeeklyHoursWrite(
        blocks=[
            schemas.HoursBlock(
                location_id=r.location_id,
                weekday=r.weekday,
                start_time=r.start_time,
                end_time=r.end_time,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
            )
            for r in rows
        ]
    )


@router.put("/providers/{provider_id}/hours", response_model=schemas.WeeklyHoursWrite)
async def set_provider_hours(
    provider_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: AdminSettings,
    body: schemas.WeeklyHoursWrite,
    if_match: IfMatch,
) -> schemas.WeeklyHoursWrite:
    """Replace the provider's regular week (local times of each location). ``If-Match``
    is the ETag of the hours (the provider's version) you read."""
    provider = await setup.set_weekly_hours(
        session, actor=actor, provider_id=provider_id, data=body, expected_version=if_match
    )
    with_etag(response, provider.version)
    return body


@router.post("/hours-exceptions", status_code=status.HTTP_201_CREATED)
async def add_hours_exception(
    session: SessionDep, actor: SchedulingWrite, body: schemas.HoursExceptionWrite
) -> Created:
    """Time off or extra hours of a provider, or a holiday of a location."""
    row = await setup.add_exception(session, actor=actor, data=body)
    return Created(id=row.id)


@router.get("/appointment-types", response_model=list[schemas.AppointmentTypeRead])
async def list_types(
    session: SessionDep, actor: SchedulingRead
) -> list[schemas.AppointmentTypeRead]:
    return [schemas.AppointmentTypeRead.model_validate(t) for t in await setup.list_types(session)]


@router.post(
    "/appointment-types",
    response_model=schemas.AppointmentTypeRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_type(
    session: SessionDep, actor: AdminSettings, body: schemas.AppointmentTypeWrite
) -> schemas.AppointmentTypeRead:
    return schemas.AppointmentTypeRead.model_validate(
        await setup.create_type(session, actor=actor, data=body)
    )


# --- appointments -----------------------------------------------------------------------


@router.get("/appointments", response_model=schemas.AppointmentPage)
async def list_appointments(
    session: SessionDep,
    actor: SchedulingRead,
    start: Moment,
    end: Moment,
    provider_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> schemas.AppointmentPage:
    """Appointments starting in ``[start, end)`` (at most 62 days), oldest first."""
    found = await calendar.appointments_between(
        session,
        actor=actor,
        start=start,
        end=end,
        provider_id=provider_id,
        location_id=location_id,
        patient_id=patient_id,
    )
    return schemas.AppointmentPage(items=[schemas.AppointmentRead.model_validate(a) for a in found])


@router.post(
    "/appointments",
    response_model=schemas.AppointmentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Book an appointment (send Idempotency-Key to retry safely)",
)
async def book_appointment(
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.AppointmentCreate,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """409 when the time overlaps another appointment of the provider or lies outside
    their hours (unless ``overbook`` by a user allowed to)."""

    async def use_case() -> tuple[int, Any]:
        appointment = await booking.book(session, actor=actor, data=body)
        read = schemas.AppointmentRead.model_validate(appointment)
        return status.HTTP_201_CREATED, read.model_dump(mode="json")

    outcome = await run_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/appointments",
        body=body.model_dump(mode="json"),
        use_case=use_case,
    )
    headers = {"ETag": etag(int(outcome.body["version"]))}
    if outcome.replayed:
        headers["Idempotency-Replayed"] = "true"
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("/appointments/{appointment_id}", response_model=schemas.AppointmentRead)
async def read_appointment(
    appointment_id: uuid.UUID, response: Response, session: SessionDep, actor: SchedulingRead
) -> schemas.AppointmentRead:
    appointment = await booking.read_appointment(
        session, actor=actor, appointment_id=appointment_id
    )
    return _answer(response, appointment)


@router.post("/appointments/{appointment_id}/reschedule", response_model=schemas.AppointmentRead)
async def reschedule_appointment(
    appointment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.AppointmentReschedule,
    if_match: IfMatch,
) -> schemas.AppointmentRead:
    appointment = await booking.reschedule(
        session,
        actor=actor,
        appointment_id=appointment_id,
        data=body,
        expected_version=if_match,
    )
    return _answer(response, appointment)


@router.post("/appointments/{appointment_id}/cancel", response_model=schemas.AppointmentRead)
async def cancel_appointment(
    appointment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: SchedulingWrite,
    body: schemas.AppointmentCancel,
    if_match: IfMatch,
) -> schemas.AppointmentRead:
    appointment = await booking.cancel(
        session,
        actor=actor,
        appointment_id=appointment_id,
        reason=body.reason,
        expected_version=if_match,
    )
    return _answer(response, appointment)


@router.post("/appointments/{appointment_id}/no-show", response_model=schemas.AppointmentRead)
async def mark_no_show(
    appointment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: SchedulingWrite,
    if_match: IfMatch,
) -> schemas.AppointmentRead:
    appointment = await booking.mark_no_show(
        session,
        actor=actor,
        appointment_id=appointment_id,
        expected_version=if_match,
    )
    return _answer(response, appointment)


@router.post("/appointments/{appointment_id}/undo", response_model=schemas.AppointmentRead)
async def undo_status(
    appointment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: SchedulingWrite,
    if_match: IfMatch,
) -> schemas.AppointmentRead:
    """Take back today's cancellation or no-show, if the time is still free."""
    appointment = await booking.undo(
        session,
        actor=actor,
        appointment_id=appointment_id,
        expected_version=if_match,
    )
    return _answer(response, appointment)


@router.get("/slots", response_model=list[schemas.Slot], summary="Next free slots")
async def free_slots(
    session: SessionDep,
    actor: SchedulingRead,
    query: Annotated[schemas.SlotQuery, Query()],
) -> list[schemas.Slot]:
    return await slots.find_slots(session, query=query)
