"""The patient's own bookings in the portal, and the organization's rules for them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from clinicdesk.core.http import IfMatch, etag
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import AdminSettings, IdentityConfigDep, PatientPortal
from clinicdesk.scheduling import schemas
from clinicdesk.scheduling.access import SchedulingRead
from clinicdesk.scheduling.service import portal, setup

router = APIRouter(prefix="/api/v1", tags=["portal"])


@router.get("/booking-policy", response_model=schemas.BookingPolicyRead, tags=["scheduling"])
async def read_policy(
    response: Response, session: SessionDep, actor: SchedulingRead
) -> schemas.BookingPolicyRead:
    policy = await portal.get_policy(session)
    response.headers["ETag"] = etag(policy.version)
    return schemas.BookingPolicyRead.model_validate(policy)


@router.put("/booking-policy", response_model=schemas.BookingPolicyRead, tags=["scheduling"])
async def update_policy(
    response: Response,
    session: SessionDep,
    actor: AdminSettings,
    body: schemas.BookingPolicyWrite,
    if_match: IfMatch,
) -> schemas.BookingPolicyRead:
    policy = await portal.update_policy(session, actor=actor, data=body, expected_version=if_match)
    response.headers["ETag"] = etag(policy.version)
    return schemas.BookingPolicyRead.model_validate(policy)


@router.get("/portal/appointment-types", response_model=list[schemas.AppointmentTypeRead])
async def bookable_types(
    session: SessionDep, actor: PatientPortal
) -> list[schemas.AppointmentTypeRead]:
    types = await setup.list_types(session)
    return [schemas.AppointmentTypeRead.model_validate(t) for t in types if t.online_bookable]


@router.get("/portal/slots", response_model=list[schemas.Slot])
async def portal_slots(
    session: SessionDep, actor: PatientPortal, query: Annotated[schemas.SlotQuery, Query()]
) -> list[schemas.Slot]:
    return await portal.open_slots(session, actor=actor, query=query)


@router.get("/portal/appointments", response_model=list[schemas.AppointmentRead])
async def own_appointments(
    session: SessionDep, actor: PatientPortal
) -> list[schemas.AppointmentRead]:
    return [
        schemas.AppointmentRead.model_validate(a)
        for a in await portal.own_appointments(session, actor=actor)
    ]


@router.post(
    "/portal/appointments",
    response_model=schemas.AppointmentRead,
    status_code=status.HTTP_201_CREATED,
)
async def book_own(
    session: SessionDep,
    actor: PatientPortal,
    config: IdentityConfigDep,
    body: schemas.PortalBooking,
) -> schemas.AppointmentRead:
    appointment = await portal.book_own(session, actor=actor, data=body, limiter=config.limiter)
    return schemas.AppointmentRead.model_validate(appointment)


@router.post("/portal/appointments/{appointment_id}/cancel", response_model=schemas.AppointmentRead)
async def cancel_own(
    appointment_id: uuid.UUID,
    session: SessionDep,
    actor: PatientPortal,
    config: IdentityConfigDep,
    body: schemas.AppointmentCancel,
) -> schemas.AppointmentRead:
    appointment = await portal.cancel_own(
        session,
        actor=actor,
        appointment_id=appointment_id,
        reason=body.reason,
        limiter=config.limiter,
    )
    return schemas.AppointmentRead.model_validate(appointment)


@router.post(
    "/portal/appointments/{appointment_id}/reschedule", response_model=schemas.AppointmentRead
)
async def reschedule_own(
    appointment_id: uuid.UUID,
    session: SessionDep,
    actor: PatientPortal,
    config: IdentityConfigDep,
    body: schemas.PortalReschedule,
) -> schemas.AppointmentRead:
    appointment = await portal.reschedule_own(
        session,
        actor=actor,
        appointment_id=appointment_id,
        starts_at=body.starts_at,
        limiter=config.limiter,
    )
    return schemas.AppointmentRead.model_validate(appointment)
