"""JSON API of the front-desk queue: check-in, the visit flow, boards, provider status,
waiting-room displays, and a patient's own status (by link or in the portal)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response, status

from clinicdesk.core.http import IfMatch, etag
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import PatientPortal
from clinicdesk.queue import schemas
from clinicdesk.queue.access import QueueDisplays, QueueRead, QueueWrite
from clinicdesk.queue.models import QueueDisplay, Visit
from clinicdesk.queue.service import board, checkin, flow, links, providers, reads
from clinicdesk.queue.service.board import Board, ProviderQueue
from clinicdesk.queue.vocabulary import ProviderState
from clinicdesk.scheduling import public as scheduling

router = APIRouter(prefix="/api/v1", tags=["queue"])
public = APIRouter(prefix="/api/v1", tags=["queue"])

SecretPath = Annotated[str, Path(max_length=100)]


def status_link(request: Request, secret: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/v/{secret}"


def display_link(request: Request, secret: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/display/{secret}"


async def _answer(
    response: Response, session: SessionDep, visit: Visit, link: str | None = None
) -> schemas.VisitRead:
    response.headers["ETag"] = etag(visit.version)
    return await reads.read_visit(session, visit.id, link, actor=None)  # a change: audited


def _queue_read(queue: ProviderQueue) -> schemas.QueueRead:
    lines = [line for line in [queue.current, *queue.called, *queue.waiting] if line is not None]
    provider = None
    if queue.provider is not None:
        provider = schemas.ProviderStatusRead(
            provider_id=queue.provider.id,
            display_name=queue.provider.display_name,
            state=ProviderState(queue.state),
            since=queue.since,
            eta_at=queue.eta_at,
            note=queue.note,
        )
    return schemas.QueueRead(
        provider=provider, visits=[reads.visit_read(line.visit, line) for line in lines]
    )


def board_read(found: Board) -> schemas.BoardRead:
    return schemas.BoardRead(
        location_id=found.location.id,
        service_date=found.day,
        queues=[_queue_read(q) for q in found.queues],
        done_today=found.done,
        left_today=found.left,
    )


# --- reading ------------------------------------------------------------------------------


@router.get("/queue/board", response_model=schemas.BoardRead)
async def queue_board(
    location_id: uuid.UUID, session: SessionDep, actor: QueueRead
) -> schemas.BoardRead:
    """Every provider's queue at the location today, with positions and estimated waits;
    the last queue (``provider`` null) holds the walk-ins nobody has taken yet."""
    return board_read(await board.read_board(session, actor=actor, location_id=location_id))


@router.get("/queue/visits", response_model=list[schemas.VisitRead])
async def list_visits(
    location_id: uuid.UUID, session: SessionDep, actor: QueueRead
) -> list[schemas.VisitRead]:
    """Everyone checked in at the location today, done and left included, by token."""
    return [
        reads.visit_read(v) for v in await reads.visits_of_day(session, location_id, actor=actor)
    ]


@router.get("/queue/visits/{visit_id}", response_model=schemas.VisitRead)
async def get_visit(
    visit_id: uuid.UUID, response: Response, session: SessionDep, actor: QueueRead
) -> schemas.VisitRead:
    read = await reads.read_visit(session, visit_id, actor=actor)
    response.headers["ETag"] = etag(read.version)
    return read


# --- check-in -----------------------------------------------------------------------------


@router.post(
    "/queue/check-ins", response_model=schemas.VisitRead, status_code=status.HTTP_201_CREATED
)
async def check_in(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.AppointmentCheckIn,
) -> schemas.VisitRead:
    """A booked patient arrived: the appointment becomes ``arrived`` and the patient
    joins the provider's queue with the day's next token. The answer carries the
    patient's private status link (shown once)."""
    visit, secret = await checkin.check_in_appointment(session, actor=actor, data=body)
    return await _answer(response, session, visit, status_link(request, secret))


@router.post(
    "/queue/walk-ins", response_model=schemas.VisitRead, status_code=status.HTTP_201_CREATED
)
async def walk_in(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.WalkInCheckIn,
) -> schemas.VisitRead:
    """A patient without an appointment; without ``provider_id`` they wait in the
    location's unassigned queue until a provider calls them."""
    visit, secret = await checkin.check_in_walk_in(session, actor=actor, data=body)
    return await _answer(response, session, visit, status_link(request, secret))


@router.post("/queue/visits/{visit_id}/status-link", response_model=schemas.VisitRead)
async def renew_status_link(
    visit_id: uuid.UUID,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
) -> schemas.VisitRead:
    """A new private status link for the patient; the previous one stops working."""
    visit, secret = await checkin.renew_status_link(session, actor=actor, visit_id=visit_id)
    return await _answer(response, session, visit, status_link(request, secret))


# --- the visit flow -----------------------------------------------------------------------


@router.post("/queue/call-next", response_model=schemas.VisitRead)
async def call_next(
    response: Response, session: SessionDep, actor: QueueWrite, body: schemas.CallNextRequest
) -> schemas.VisitRead:
    """Call the first patient of the provider's queue (default: your own), or of the
    location's unassigned walk-ins when it is empty. 409 when nobody is waiting."""
    visit = await flow.call_next(session, actor=actor, data=body)
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/call", response_model=schemas.VisitRead)
async def call_visit(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.CallRequest,
    if_match: IfMatch,
    provider_id: uuid.UUID | None = None,
) -> schemas.VisitRead:
    visit = await flow.call(
        session,
        actor=actor,
        visit_id=visit_id,
        room=body.room,
        provider_id=provider_id,
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/start", response_model=schemas.VisitRead)
async def start_consultation(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    if_match: IfMatch,
) -> schemas.VisitRead:
    visit = await flow.start(session, actor=actor, visit_id=visit_id, expected_version=if_match)
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/finish", response_model=schemas.VisitRead)
async def finish_consultation(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    if_match: IfMatch,
) -> schemas.VisitRead:
    visit = await flow.finish(session, actor=actor, visit_id=visit_id, expected_version=if_match)
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/leave", response_model=schemas.VisitRead)
async def mark_left(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.LeaveRequest,
    if_match: IfMatch,
) -> schemas.VisitRead:
    """Left without being seen; a booked appointment becomes a no-show."""
    visit = await flow.mark_left(
        session,
        actor=actor,
        visit_id=visit_id,
        reason=body.reason,
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/return", response_model=schemas.VisitRead)
async def return_to_waiting(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.LeaveRequest,
    if_match: IfMatch,
) -> schemas.VisitRead:
    """Back to waiting, keeping the place in the queue."""
    visit = await flow.return_to_waiting(
        session,
        actor=actor,
        visit_id=visit_id,
        reason=body.reason,
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/transfer", response_model=schemas.VisitRead)
async def transfer(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.TransferRequest,
    if_match: IfMatch,
) -> schemas.VisitRead:
    visit = await flow.transfer(
        session,
        actor=actor,
        visit_id=visit_id,
        data=body,
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/priority", response_model=schemas.VisitRead)
async def set_priority(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.PriorityRequest,
    if_match: IfMatch,
) -> schemas.VisitRead:
    visit = await flow.set_priority(
        session,
        actor=actor,
        visit_id=visit_id,
        data=body,
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


@router.post("/queue/visits/{visit_id}/move", response_model=schemas.VisitRead)
async def move(
    visit_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.MoveRequest,
    if_match: IfMatch,
) -> schemas.VisitRead:
    """One place up or down among patients of the same priority."""
    visit = await flow.move(
        session,
        actor=actor,
        visit_id=visit_id,
        up=body.direction == "up",
        expected_version=if_match,
    )
    return await _answer(response, session, visit)


# --- provider status ----------------------------------------------------------------------


@router.put("/providers/{provider_id}/status", response_model=schemas.ProviderStatusRead)
async def set_provider_status(
    provider_id: uuid.UUID,
    session: SessionDep,
    actor: QueueWrite,
    body: schemas.ProviderStatusWrite,
    response: Response,
    if_match: IfMatch,
) -> schemas.ProviderStatusRead:
    """Available, on break, away or in transit (``eta_minutes``: back in N minutes).
    Starting and finishing consultations set "in consultation" / "available" on their own.
    ``If-Match``: the ETag of the status you read (``W/"0"`` before the first change), or
    ``*`` for a plain "this is my status now"."""
    row = await providers.set_status(
        session, actor=actor, provider_id=provider_id, data=body, expected_version=if_match
    )
    response.headers["ETag"] = etag(row.version)
    provider = await scheduling.get_provider(session, provider_id)
    return schemas.ProviderStatusRead(
        provider_id=provider_id,
        display_name=provider.display_name,
        state=ProviderState(row.state),
        since=row.since,
        eta_at=row.eta_at,
        note=row.note,
    )


# --- displays -----------------------------------------------------------------------------


def _display_read(display: QueueDisplay, link: str | None = None) -> schemas.DisplayRead:
    return schemas.DisplayRead(
        id=display.id,
        location_id=display.location_id,
        name=display.name,
        show_initials=display.show_initials,
        active=display.secret_hash is not None,
        link=link,
    )


@router.get("/queue/displays", response_model=list[schemas.DisplayRead])
async def list_displays(session: SessionDep, actor: QueueDisplays) -> list[schemas.DisplayRead]:
    return [_display_read(d) for d in await links.list_displays(session)]


@router.post(
    "/queue/displays", response_model=schemas.DisplayRead, status_code=status.HTTP_201_CREATED
)
async def create_display(
    request: Request, session: SessionDep, actor: QueueDisplays, body: schemas.DisplayWrite
) -> schemas.DisplayRead:
    """A waiting-room screen for a location; the answer carries its link (shown once).
    Open the link full-screen on the TV's browser: it needs no sign-in."""
    display, secret = await links.create_display(session, actor=actor, data=body)
    return _display_read(display, display_link(request, secret))


@router.post("/queue/displays/{display_id}/renew", response_model=schemas.DisplayRead)
async def renew_display(
    display_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueDisplays
) -> schemas.DisplayRead:
    """A new link; the old one stops working."""
    display, secret = await links.renew_display(session, actor=actor, display_id=display_id)
    return _display_read(display, display_link(request, secret))


@router.post("/queue/displays/{display_id}/revoke", response_model=schemas.DisplayRead)
async def revoke_display(
    display_id: uuid.UUID, session: SessionDep, actor: QueueDisplays
) -> schemas.DisplayRead:
    return _display_read(await links.revoke_display(session, actor=actor, display_id=display_id))


@router.delete("/queue/displays/{display_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_display(display_id: uuid.UUID, session: SessionDep, actor: QueueDisplays) -> None:
    await links.delete_display(session, actor=actor, display_id=display_id)


# --- the patient's own status ---------------------------------------------------------------


@public.get("/queue/status/{secret}", response_model=schemas.PatientStatusRead)
async def status_by_link(secret: SecretPath, session: SessionDep) -> schemas.PatientStatusRead:
    """What the patient's private link shows: their token, place and estimated wait.
    No sign-in: the link's secret is the key; it expires at the end of the day."""
    access = await links.resolve_visit(session, secret)
    return await reads.patient_status(session, access.visit_id)


@router.get("/portal/visit", response_model=schemas.PatientStatusRead | None)
async def portal_visit(
    session: SessionDep, actor: PatientPortal
) -> schemas.PatientStatusRead | None:
    """The signed-in patient's visit today (null when they are not checked in)."""
    return await reads.portal_visit(session, actor=actor)
