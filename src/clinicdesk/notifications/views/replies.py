"""The page behind an e-mail's confirm / cancel link: no sign-in, single use.

A GET only shows the appointment and asks (mail scanners and link previews open links;
they must not cancel anyone's visit); the POST answers. The page speaks the language the
e-mail was written in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from babel.dates import format_date, format_time
from fastapi import Form, Path, Request
from fastapi.responses import HTMLResponse

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.pages import all_or_nothing
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.identity.errors import CsrfRejected
from clinicdesk.identity.web import check_public_csrf, render_public_form
from clinicdesk.notifications.errors import ReplyLinkInvalid
from clinicdesk.notifications.service import inbound
from clinicdesk.scheduling import public as scheduling

public = APIRouter(include_in_schema=False)

TEMPLATE = "notifications/reply.html"
# The link's secret (32 URL-safe characters); anything much longer is not one.
Secret = Annotated[str, Path(max_length=100)]

WORDS = {
    "en": {
        "title": "Your appointment",
        "with": "with",
        "at": "at",
        "confirm": "Yes, I will come",
        "cancel": "Cancel my appointment",
        "confirmed": "Thank you: your appointment is confirmed.",
        "cancelled": "Your appointment is cancelled. Call us to book another time.",
        "ask": "Will you come?",
        "gone": "This link does not work any more",
    },
    "es": {
        "title": "Su cita",
        "with": "con",
        "at": "a las",
        "confirm": "Sí, iré",
        "cancel": "Cancelar mi cita",
        "confirmed": "Gracias: su cita está confirmada.",
        "cancelled": "Su cita está cancelada. Llámenos para pedir otra hora.",
        "ask": "¿Vendrá?",
        "gone": "Este enlace ya no funciona",
    },
}


async def _context(session: SessionDep, view: inbound.LinkView, language: str) -> dict[str, object]:
    appointment = view.appointment
    zone = await scheduling.location_zone(session, appointment.location_id)
    local = appointment.starts_at.astimezone(zone)
    location = await identity.get_location(session, appointment.location_id)
    provider = await scheduling.get_provider(session, appointment.provider_id)
    organization = await identity.get_organization(session)
    return {
        "words": WORDS[language],
        "language": language,
        "clinic": organization.name,
        "location": location,
        "provider": provider.display_name,
        "date": format_date(local.date(), format="full", locale=language),
        "time": format_time(local.time(), format="short", locale=language),
    }


def _gone(request: Request, error: ClinicError, language: str) -> HTMLResponse:
    return render_public_form(
        request,
        TEMPLATE,
        {"words": WORDS[language], "language": language, "gone": error.detail, "done": None},
        status_code=error.status_code,
    )


@public.get("/r/{secret}", response_class=HTMLResponse)
async def reply_page(
    request: Request,
    session: SessionDep,
    secret: Secret,
    do: Literal["confirm", "cancel"] | None = None,
) -> HTMLResponse:
    try:
        view = await inbound.open_reply_link(session, secret)
    except ReplyLinkInvalid as error:
        return _gone(request, error, "en")
    language = await inbound.link_language(session, view)
    context = await _context(session, view, language)
    return render_public_form(
        request, TEMPLATE, {**context, "secret": secret, "chosen": do, "done": None, "gone": None}
    )


@public.post("/r/{secret}", response_class=HTMLResponse)
async def reply(
    request: Request,
    session: SessionDep,
    secret: Secret,
    answer: Annotated[Literal["confirm", "cancel"], Form()],
) -> HTMLResponse:
    if not await check_public_csrf(request):
        raise CsrfRejected("The page expired. Open the link from your e-mail again.")
    try:
        async with all_or_nothing(session):
            view = await inbound.use_reply_link(session, secret, answer=answer)
    except ReplyLinkInvalid as error:
        return _gone(request, error, "en")
    except ClinicError as error:
        return _gone(request, error, "en")
    language = await inbound.link_language(session, view)
    context = await _context(session, view, language)
    return render_public_form(request, TEMPLATE, {**context, "done": answer, "gone": None})
