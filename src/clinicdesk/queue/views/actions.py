"""The steps of a visit from a queue screen (call, start, finish, back to waiting, left,
transfer, priority, move) and a provider's status.

Each form says which screen it came from (``screen``: the front desk or the doctor's
own); htmx gets that screen's queue part back, refreshed, or the same part with the
reason a step was refused (under the error's status: 409 when someone at another desk
moved the visit on first). Without htmx the browser is sent back to the screen.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.queue.access import QueueWrite
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import (
    CallRequest,
    LeaveRequest,
    MoveRequest,
    PriorityRequest,
    ProviderStatusWrite,
    TransferRequest,
)
from clinicdesk.queue.service import flow, providers
from clinicdesk.queue.service.common import get_visit
from clinicdesk.queue.views import board, doctor
from clinicdesk.queue.views.common import screen_of, some_id, text, toast
from clinicdesk.queue.vocabulary import STATE_LABELS
from clinicdesk.scheduling import public as scheduling

router = APIRouter(include_in_schema=False)

# A step: does it, and says what happened (and, optionally, where to go next).
Step = Callable[[SessionDep, Actor, Visit, FormData], Awaitable[tuple[str, str | None]]]


async def screen(
    request: Request,
    session: SessionDep,
    actor: Actor,
    which: str,
    location_id: uuid.UUID | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The queue part of the screen a form came from."""
    if which == "mine":
        context = await doctor.mine_context(session, actor, location_id, error=error)
        return render(request, doctor.PAGE, context, block="mine", status_code=status_code)
    context = await board.desk_context(session, actor, location_id, arrivals_too=False, error=error)
    return render(request, board.PAGE, context, block="board", status_code=status_code)


async def answer(
    request: Request,
    session: SessionDep,
    actor: Actor,
    *,
    which: str,
    location_id: uuid.UUID | None,
    run: Callable[[], Awaitable[tuple[str, str | None]]],
) -> Response:
    """Run a step in a savepoint (a refusal undoes all it wrote) and answer: the
    screen's queue part with a toast, the next page (the chart), or the refusal."""
    try:
        async with all_or_nothing(session):
            message, go_to = await run()
    except ClinicError as error:
        if not is_htmx(request):
            raise
        return await screen(
            request,
            session,
            actor,
            which,
            location_id,
            error=error.detail,
            status_code=error.status_code,
        )
    back = go_to or f"/queue{'/mine' if which == 'mine' else ''}" + (
        f"?location_id={location_id}" if location_id else ""
    )
    if not is_htmx(request):
        response = redirect(back)
        flash(request, response, message)
        return response
    if go_to:
        return Response(status_code=200, headers={"HX-Redirect": go_to})
    page = await screen(request, session, actor, which, location_id)
    toast(page, message, changed=False)
    return page


async def _act(
    request: Request, session: SessionDep, actor: Actor, visit_id: uuid.UUID, step: Step
) -> Response:
    visit = await get_visit(session, visit_id)  # 404 before reading the form
    form = await request.form()
    location_id = visit.location_id

    async def run() -> tuple[str, str | None]:
        return await step(session, actor, visit, form)

    return await answer(
        request, session, actor, which=screen_of(form), location_id=location_id, run=run
    )


# --- the steps ----------------------------------------------------------------------------


async def _call(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(
        CallRequest, {"room": text(form, "room", 40)}, hint="Give the room (up to 40)."
    )
    called = await flow.call(
        session,
        actor=actor,
        visit_id=visit.id,
        room=data.room,
        provider_id=some_id(form, "provider_id"),
    )
    return f"{called.token} called" + (f" to {called.room}." if called.room else "."), None


async def _start(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    started = await flow.start(session, actor=actor, visit_id=visit.id)
    # The doctor goes on to the consultation the start opened (served by clinical, which
    # follows the visit through ``visit_started``); the front desk stays on its board.
    consultation = None
    if screen_of(form) == "mine" and actor.can(Permission.CLINICAL_WRITE):
        consultation = f"/visits/{started.id}/consultation"
    return f"{started.token}: consultation started.", consultation


async def _finish(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    done = await flow.finish(session, actor=actor, visit_id=visit.id)
    chart = f"/patients/{done.patient_id}" if screen_of(form) == "mine" else None
    return f"{done.token}: consultation finished.", chart


async def _return(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(LeaveRequest, {"reason": text(form, "reason")}, hint="Shorten the reason.")
    back = await flow.return_to_waiting(session, actor=actor, visit_id=visit.id, reason=data.reason)
    return f"{back.token} is waiting again (same place in the queue).", None


async def _leave(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(LeaveRequest, {"reason": text(form, "reason")}, hint="Shorten the reason.")
    left = await flow.mark_left(session, actor=actor, visit_id=visit.id, reason=data.reason)
    return f"{left.token} marked as left without being seen.", None


async def _transfer(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(
        TransferRequest,
        {"provider_id": some_id(form, "provider_id"), "reason": text(form, "reason")},
        hint="Choose who sees the patient next.",
        keep_empty=("provider_id",),
    )
    moved = await flow.transfer(session, actor=actor, visit_id=visit.id, data=data)
    return f"{moved.token} transferred.", None


async def _priority(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(
        PriorityRequest,
        {"priority": text(form, "priority", 2) or "0", "reason": text(form, "reason", 200)},
        hint="Choose the priority.",
    )
    changed = await flow.set_priority(session, actor=actor, visit_id=visit.id, data=data)
    return f"{changed.token}: priority changed.", None


async def _move(
    session: SessionDep, actor: Actor, visit: Visit, form: FormData
) -> tuple[str, str | None]:
    data = parse_form(MoveRequest, {"direction": text(form, "direction", 5)}, hint="Up or down?")
    moved = await flow.move(session, actor=actor, visit_id=visit.id, up=data.direction == "up")
    return f"{moved.token} moved {data.direction}.", None


@router.post("/queue/visits/{visit_id}/call", response_class=HTMLResponse)
async def call_visit(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Call the patient to a room (again, if they did not come); an unassigned
    walk-in is taken by the provider chosen."""
    return await _act(request, session, actor, visit_id, _call)


@router.post("/queue/visits/{visit_id}/start", response_class=HTMLResponse)
async def start_consultation(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Start the consultation."""
    return await _act(request, session, actor, visit_id, _start)


@router.post("/queue/visits/{visit_id}/finish", response_class=HTMLResponse)
async def finish_consultation(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Finish the consultation; from the doctor's screen, on to the patient's chart."""
    return await _act(request, session, actor, visit_id, _finish)


@router.post("/queue/visits/{visit_id}/return", response_class=HTMLResponse)
async def return_to_waiting(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Back to waiting, keeping the place in the queue."""
    return await _act(request, session, actor, visit_id, _return)


@router.post("/queue/visits/{visit_id}/leave", response_class=HTMLResponse)
async def mark_left(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Left without being seen (a booked appointment becomes a no-show)."""
    return await _act(request, session, actor, visit_id, _leave)


@router.post("/queue/visits/{visit_id}/transfer", response_class=HTMLResponse)
async def transfer(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """To another provider's queue, or to the unassigned one."""
    return await _act(request, session, actor, visit_id, _transfer)


@router.post("/queue/visits/{visit_id}/priority", response_class=HTMLResponse)
async def set_priority(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Normal, priority or urgent, with the reason."""
    return await _act(request, session, actor, visit_id, _priority)


@router.post("/queue/visits/{visit_id}/move", response_class=HTMLResponse)
async def move(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """One place up or down among patients of the same priority."""
    return await _act(request, session, actor, visit_id, _move)


# --- provider status ----------------------------------------------------------------------


@router.post("/queue/providers/{provider_id}/status", response_class=HTMLResponse)
async def provider_status(
    provider_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """Available, on break, away or in transit, with when they are due back."""
    provider = await scheduling.get_provider(session, provider_id)  # 404 before the form
    form = await request.form()
    location_id = some_id(form, "location_id")

    async def run() -> tuple[str, str | None]:
        data = parse_form(
            ProviderStatusWrite,
            {
                "state": text(form, "state", 20),
                "eta_minutes": text(form, "eta_minutes", 5),
                "note": text(form, "note", 200),
            },
            hint="Choose the status; the time back is in minutes (0 to 1440).",
        )
        row = await providers.set_status(session, actor=actor, provider_id=provider.id, data=data)
        return f"{provider.display_name}: {STATE_LABELS.get(row.state, row.state)}.", None

    return await answer(
        request, session, actor, which=screen_of(form), location_id=location_id, run=run
    )
