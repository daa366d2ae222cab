"""The messages log (``/admin/messages``): what was sent to whom, when, through which
channel, where it stands (live: each status change refreshes the list), and one message
with its text and a Resend button. The front desk and the administrator read it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.events import broker
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.access import NotificationsRead
from clinicdesk.notifications.live import STATUS_EVENT
from clinicdesk.notifications.message_schemas import MessageFilters
from clinicdesk.notifications.service import messages
from clinicdesk.notifications.vocabulary import (
    CHANNEL_LABELS,
    PURPOSE_LABELS,
    STATUS_LABELS,
    MessageStatus,
)

router = APIRouter(include_in_schema=False)

LOG = "/admin/messages"
FILTERS = ("status", "channel", "purpose", "patient_id", "date_from", "date_to")


def live_stream() -> str:
    """The event stream from now on (a status changed between rendering the page and
    connecting to the stream is not missed)."""
    head = broker().head()
    return f"/api/v1/events?since={head}" if head else "/api/v1/events"


def words() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "purpose_labels": PURPOSE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "live": {"stream": live_stream(), "events": STATUS_EVENT},
    }


def status_tone(status: str) -> str:
    """The badge's colour (the word says it too)."""
    if status == MessageStatus.DELIVERED.value or status == MessageStatus.SENT.value:
        return "badge-ok"
    if status in (MessageStatus.FAILED.value, MessageStatus.BOUNCED.value):
        return "badge-error"
    if status in (MessageStatus.QUEUED.value, MessageStatus.SENDING.value):
        return "badge-warn"
    return ""


def _filters(raw: dict[str, str]) -> tuple[MessageFilters, str | None]:
    """The filters typed in the form; an invalid one is dropped with a sentence."""
    try:
        return parse_form(MessageFilters, raw), None
    except ClinicError as error:
        return MessageFilters(), error.detail


@router.get(LOG, response_class=HTMLResponse)
async def messages_page(
    request: Request,
    session: SessionDep,
    actor: NotificationsRead,
    status: Annotated[str, Query(max_length=20)] = "",
    channel: Annotated[str, Query(max_length=20)] = "",
    purpose: Annotated[str, Query(max_length=40)] = "",
    patient_id: Annotated[str, Query(max_length=40)] = "",
    date_from: Annotated[str, Query(max_length=20)] = "",
    date_to: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The log, newest first; htmx (a live refresh) gets the table only."""
    raw = {
        "status": status,
        "channel": channel,
        "purpose": purpose,
        "patient_id": patient_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    filters, problem = _filters(raw)
    page = await messages.list_messages(session, actor=actor, filters=filters, cursor=cursor)
    query = urlencode({k: v for k, v in raw.items() if v})
    context = {
        **words(),
        "page": page,
        "raw": raw,
        "query": query,
        "cursor": cursor,
        "problem": problem,
        "tone": status_tone,
    }
    return render(request, "notifications/messages.html", context, block="log")


async def _message_page(
    request: Request,
    session: SessionDep,
    actor: Any,
    message_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    message = await messages.read_message(session, actor=actor, message_id=message_id)
    original = await messages.get_message(session, message_id)
    context = {
        **words(),
        "m": message,
        "tone": status_tone,
        "refusal": messages.why_not_resend(original),
        "error": error,
        "can_manage": actor.can(Permission.NOTIFICATIONS_MANAGE),
    }
    return render(
        request, "notifications/message.html", context, status_code=status_code, block="status"
    )


@router.get(LOG + "/{message_id}", response_class=HTMLResponse)
async def message_page(
    message_id: uuid.UUID, request: Request, session: SessionDep, actor: NotificationsRead
) -> HTMLResponse:
    """One message: to whom, through what, its text, its status (live), Resend."""
    return await _message_page(request, session, actor, message_id)


@router.post(LOG + "/{message_id}/resend", response_class=HTMLResponse)
async def resend(
    message_id: uuid.UUID, request: Request, session: SessionDep, actor: NotificationsRead
) -> Response:
    try:
        async with all_or_nothing(session):
            copy = await messages.resend(session, actor=actor, message_id=message_id)
    except ClinicError as error:
        if error.status_code == 404:
            raise
        return await _message_page(
            request, session, actor, message_id, error=error.detail, status_code=error.status_code
        )
    response = redirect(f"{LOG}/{copy.id}")
    flash(request, response, "Sent again as a new message; it goes out in a moment.")
    return response


@router.get(LOG + "/{message_id}/status", response_class=HTMLResponse)
async def message_status(
    message_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: NotificationsRead,
    fragment: Annotated[None, Depends(FragmentOf(LOG + "/{message_id}"))],
) -> HTMLResponse:
    """A message's status line alone (a test send's result, kept live on its page)."""
    message = await messages.read_message(session, actor=actor, message_id=message_id)
    context = {**words(), "m": message, "tone": status_tone}
    return render(request, "notifications/_message_status.html", context)
