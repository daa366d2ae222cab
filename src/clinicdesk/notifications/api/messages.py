"""JSON API of the messages log: what was sent to whom, one message with its text, send
one again, and the organization's figures."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.access import NotificationsRead
from clinicdesk.notifications.message_schemas import (
    MessageDetail,
    MessageFigures,
    MessageFilters,
    MessagePage,
    MessageView,
)
from clinicdesk.notifications.service import messages
from clinicdesk.notifications.vocabulary import Channel, MessageStatus, Purpose

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("/messages", response_model=MessagePage)
async def list_messages(
    session: SessionDep,
    actor: NotificationsRead,
    status: MessageStatus | None = None,
    channel: Channel | None = None,
    purpose: Purpose | None = None,
    patient_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> MessagePage:
    """Patients' messages, newest first, each naming its patient; ``date_from`` and
    ``date_to`` are days in the organization's time zone (both included)."""
    filters = MessageFilters(
        status=status,
        channel=channel,
        purpose=purpose,
        patient_id=patient_id,
        date_from=date_from,
        date_to=date_to,
    )
    return await messages.list_messages(
        session, actor=actor, filters=filters, cursor=cursor, limit=limit
    )


@router.get("/messages/{message_id}", response_model=MessageDetail)
async def read_message(
    message_id: uuid.UUID, session: SessionDep, actor: NotificationsRead
) -> MessageDetail:
    """One message with its address and text (recorded as a read of its patient)."""
    return await messages.read_message(session, actor=actor, message_id=message_id)


@router.post(
    "/messages/{message_id}/resend",
    response_model=MessageView,
    status_code=201,
    summary="Send a message again, as a new message (send Idempotency-Key to retry safely)",
)
async def resend_message(
    message_id: uuid.UUID,
    session: SessionDep,
    actor: NotificationsRead,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new message copying this one's purpose, patient, appointment, channel and
    address, due now. 409 for a message that has not gone yet, or whose moment has
    passed (a waitlist offer, "your turn is near"), or that had no address."""

    async def create() -> MessageView:
        copy = await messages.resend(session, actor=actor, message_id=message_id)
        return MessageView.model_validate(copy)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/notifications/messages/{message_id}/resend",
        body=MessageFilters(),
        create=create,
    )


@router.get("/figures", response_model=MessageFigures)
async def message_figures(session: SessionDep, actor: NotificationsRead) -> MessageFigures:
    """The organization's messages waiting, failed in the last 24 hours, and the age of
    the oldest one that is due and not sent."""
    return await messages.figures(session)
