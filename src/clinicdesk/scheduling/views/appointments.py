"""Booking from a free slot, the appointment's details with its actions (cancel, no-show,
undo, reschedule), and the drag-and-drop move of the browser calendar.

Forms answer htmx with the dialog's content: on success a confirmation and the
``calendar:changed`` trigger (the calendar reloads its events); on a refusal the same
form with the reason, under the error's own status (409 taken / outside hours, 422).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion, required_version
from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.patients.public import get_patient
from clinicdesk.scheduling.access import SchedulingRead, SchedulingWrite
from clinicdesk.scheduling.errors import OutsideHours, SlotTaken, TimeInPast
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.policies import no_show_allowed
from clinicdesk.scheduling.schemas import AppointmentCreate, AppointmentReschedule
from clinicdesk.scheduling.service import booking, setup, slots
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.views.common import (
    ACTIVE,
    STATUS_WORDS,
    clinic_day,
    from_wall_clock,
    open_book,
    risk_note,
    wall_clock,
)

router = APIRouter(include_in_schema=False)

BOOK_FIELDS = (
    "location_id",
    "provider_id",
    "patient_id",
    "type_id",
    "starts_at",
    "reason",
    "record_past_visit",
    # An offered alternative: "<provider id> <wall-clock start>" in place of the two.
    "choice",
)
CHECK_BOOKING = "Check the provider, type and time, then book again."


def _changed(response: Response, message: str) -> None:
    response.headers["HX-Trigger"] = json.dumps(
        {"calendar:changed": True, "clinicdesk:toast": {"message": message}}
    )


# --- booking ---------------------------------------------------------------------------


async def _book_context(
    session: SessionDep,
    actor: Any,
    values: dict[str, str],
    error: str | None = None,
    refused: ClinicError | None = None,
) -> dict[str, Any]:
    """The form's choices; a patient already chosen stays chosen when it comes back. A
    time refused as taken or outside the hours comes back with free times to pick
    instead; one refused as past, with the choice to record a past visit."""
    location_id = uuid.UUID(values["location_id"]) if values.get("location_id") else None
    book = await open_book(session, location_id)
    chosen = None
    if values.get("patient_id"):
        try:
            chosen = await get_patient(session, uuid.UUID(values["patient_id"]), actor=actor)
        except (ValueError, ClinicError):
            chosen = None
    offers: list[dict[str, str]] = []
    if isinstance(refused, SlotTaken | OutsideHours):
        offers = await _offers(session, book, values)
    return {
        "book": book,
        "form": values,
        "error": error,
        "chosen": chosen,
        "offers": offers,
        "past_refused": isinstance(refused, TimeInPast),
    }


async def _offers(session: SessionDep, book: Any, values: dict[str, str]) -> list[dict[str, str]]:
    """The alternatives to a refused time, as the buttons that book them."""
    try:
        provider_id = uuid.UUID(values["provider_id"])
        type_id = uuid.UUID(values["type_id"])
        wanted = from_wall_clock(values["starts_at"], book.zone)
    except (KeyError, ValueError, InvalidField):
        return []
    found = await slots.alternatives(
        session,
        provider_id=provider_id,
        location_id=book.location.id,
        type_id=type_id,
        wanted=wanted,
    )
    names = {p.id: p.display_name for p in book.providers}
    offers = []
    for group, found_slots in (("same", found.same), ("other", found.others)):
        for slot in found_slots:
            local = slot.starts_at.astimezone(book.zone)
            offers.append(
                {
                    "group": group,
                    "provider": names.get(slot.provider_id, ""),
                    "label": f"{local:%a %d %b} {local:%H:%M}",
                    "value": f"{slot.provider_id} {wall_clock(slot.starts_at, book.zone)[:16]}",
                }
            )
    return offers


@router.get("/calendar/book", response_class=HTMLResponse)
async def booking_form(
    request: Request,
    session: SessionDep,
    actor: SchedulingWrite,
    location_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    start: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The form for a clicked slot (wall-clock ``start`` of the location)."""
    values = {
        "location_id": str(location_id or ""),
        "provider_id": str(provider_id or ""),
        "starts_at": start[:16],
    }
    context = await _book_context(session, actor, values)
    values["location_id"] = str(context["book"].location.id)
    return render(request, "scheduling/book.html", context, block="dialog")


@router.post("/calendar/book", response_class=HTMLResponse)
async def book_appointment(
    request: Request, session: SessionDep, actor: SchedulingWrite
) -> Response:
    form = await request.form()
    values = form_text(form, BOOK_FIELDS)
    provider_choice, _, start_choice = values.pop("choice", "").partition(" ")
    if start_choice:
        values["provider_id"], values["starts_at"] = provider_choice, start_choice

    async def again(
        status_code: int, error: str, refused: ClinicError | None = None
    ) -> HTMLResponse:
        context = await _book_context(session, actor, values, error, refused)
        return render(
            request, "scheduling/book.html", context, status_code=status_code, block="dialog"
        )

    if not values["patient_id"]:
        return await again(422, "Choose the patient: search by name, phone or date of birth.")
    if not values["location_id"]:
        return await again(422, "Choose a location.")
    try:
        zone = await location_zone(session, uuid.UUID(values["location_id"]))
        data = parse_form(
            AppointmentCreate,
            {
                **values,
                "starts_at": from_wall_clock(values["starts_at"], zone),
                "record_past_visit": values["record_past_visit"] == "1",
            },
            hint=CHECK_BOOKING,
        )
        async with all_or_nothing(session):
            appointment = await booking.book(session, actor=actor, data=data)
    except ValueError:  # not an id
        return await again(422, CHECK_BOOKING)
    except InvalidField as error:
        return await again(422, error.message)
    except ClinicError as error:
        return await again(error.status_code, error.detail, error)
    patient = await get_patient(session, appointment.patient_id, actor=actor)
    local = wall_clock(appointment.starts_at, zone)
    day = await clinic_day(session, appointment.starts_at.astimezone(zone).date())
    message = f"Booked {patient.display_name} at {local[11:16]} on {day}."
    if not is_htmx(request):
        response = redirect(f"/calendar?location_id={appointment.location_id}&date={local[:10]}")
        flash(request, response, message)
        return response
    page = render(request, "scheduling/book.html", {"done": message}, block="done")
    _changed(page, message)
    return page


# --- one appointment ---------------------------------------------------------------------


async def _details(
    request: Request,
    session: SessionDep,
    actor: Any,
    appointment: Appointment,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    zone = await location_zone(session, appointment.location_id)
    starts_local = appointment.starts_at.astimezone(zone)
    patient = await get_patient(session, appointment.patient_id, actor=actor)
    provider = await setup.get_provider(session, appointment.provider_id)
    kind = await setup.get_type(session, appointment.type_id)
    book = await open_book(session, appointment.location_id)
    context = {
        "a": appointment,
        "patient": patient,
        "provider": provider,
        "kind": kind,
        "book": book,
        "starts": wall_clock(appointment.starts_at, zone),
        "ends": wall_clock(appointment.ends_at, zone),
        "status_word": STATUS_WORDS.get(appointment.status, appointment.status),
        "active": appointment.status in ACTIVE,
        "can_no_show": no_show_allowed(appointment, now=utcnow()),
        "risk_note": risk_note(appointment),
        "can_check_in": appointment.status in ACTIVE
        and actor.can(Permission.QUEUE_WRITE)
        and starts_local.date() == utcnow().astimezone(zone).date(),
        "message": message,
        "error": error,
    }
    page = render(
        request, "scheduling/details.html", context, status_code=status_code, block="details"
    )
    if message:
        _changed(page, message)
    return page


@router.get("/calendar/appointments/{appointment_id}", response_class=HTMLResponse)
async def appointment_details(
    appointment_id: uuid.UUID, request: Request, session: SessionDep, actor: SchedulingRead
) -> HTMLResponse:
    appointment = await booking.read_appointment(
        session, actor=actor, appointment_id=appointment_id
    )
    return await _details(request, session, actor, appointment)


async def _act(
    request: Request,
    session: SessionDep,
    actor: Any,
    appointment_id: uuid.UUID,
    action: str,
    version: int,
) -> HTMLResponse:
    """Run one action from the details form; the answer is the refreshed details."""
    appointment = await booking.get_appointment(session, appointment_id)  # 404 first
    form = await request.form()
    try:
        async with all_or_nothing(session):
            if action == "cancel":
                reason = str(form.get("reason") or "").strip()
                if len(reason) < 2:
                    raise InvalidField("reason", "Give the reason for cancelling.")
                await booking.cancel(
                    session,
                    actor=actor,
                    appointment_id=appointment.id,
                    reason=reason[:300],
                    expected_version=version,
                )
                message = "Appointment cancelled."
            elif action == "no-show":
                await booking.mark_no_show(
                    session, actor=actor, appointment_id=appointment.id, expected_version=version
                )
                message = "Marked as a no-show."
            elif action == "undo":
                await booking.undo(
                    session, actor=actor, appointment_id=appointment.id, expected_version=version
                )
                message = "Restored: the appointment is booked again."
            else:
                zone = await location_zone(session, appointment.location_id)
                provider = str(form.get("provider_id") or "") or None
                data = parse_form(
                    AppointmentReschedule,
                    {
                        "starts_at": from_wall_clock(str(form.get("starts_at") or ""), zone),
                        "provider_id": provider,
                    },
                    hint="Check the time.",
                )
                await booking.reschedule(
                    session,
                    actor=actor,
                    appointment_id=appointment.id,
                    data=data,
                    expected_version=version,
                )
                message = "Moved to the new time."
    except InvalidField as error:
        await session.refresh(appointment)
        return await _details(
            request, session, actor, appointment, error=error.message, status_code=422
        )
    except ClinicError as error:
        await session.refresh(appointment)
        return await _details(
            request, session, actor, appointment, error=error.detail, status_code=error.status_code
        )
    return await _details(request, session, actor, appointment, message=message)


@router.post("/calendar/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
async def cancel(
    appointment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: SchedulingWrite,
    version: FormVersion,
) -> HTMLResponse:
    return await _act(request, session, actor, appointment_id, "cancel", version)


@router.post("/calendar/appointments/{appointment_id}/no-show", response_class=HTMLResponse)
async def no_show(
    appointment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: SchedulingWrite,
    version: FormVersion,
) -> HTMLResponse:
    return await _act(request, session, actor, appointment_id, "no-show", version)


@router.post("/calendar/appointments/{appointment_id}/undo", response_class=HTMLResponse)
async def undo(
    appointment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: SchedulingWrite,
    version: FormVersion,
) -> HTMLResponse:
    return await _act(request, session, actor, appointment_id, "undo", version)


@router.post("/calendar/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
async def reschedule(
    appointment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: SchedulingWrite,
    version: FormVersion,
) -> HTMLResponse:
    return await _act(request, session, actor, appointment_id, "reschedule", version)


@router.post("/calendar/appointments/{appointment_id}/move")
async def move(
    appointment_id: uuid.UUID, request: Request, session: SessionDep, actor: SchedulingWrite
) -> JSONResponse:
    """The drag and drop of the calendar: JSON ``{starts_at (wall clock), provider_id?,
    version}``. A refusal is a problem document; the calendar puts the event back."""
    appointment = await booking.get_appointment(session, appointment_id)  # 404 first
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("starts_at"), str):
        raise InvalidField("starts_at", "Send the new start time.")
    zone = await location_zone(session, appointment.location_id)
    data = parse_form(
        AppointmentReschedule,
        {
            "starts_at": from_wall_clock(body["starts_at"], zone),
            "provider_id": body.get("provider_id"),
        },
        hint="Drop the appointment on a provider's column.",
    )
    moved = await booking.reschedule(
        session,
        actor=actor,
        appointment_id=appointment.id,
        data=data,
        expected_version=required_version(body.get("version")),
    )
    local = wall_clock(moved.starts_at, zone)
    day = await clinic_day(session, moved.starts_at.astimezone(zone).date())
    return JSONResponse(
        {
            "version": moved.version,
            "starts_at": local,
            "message": f"Moved to {local[11:16]} on {day}.",
        }
    )
