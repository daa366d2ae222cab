"""JSON API of the staff's own alerts (``alerts:read``: every staff role): the list, the
unread count, and marking read. Each caller sees only their own; another
organization's alert, or another person's, is not found."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.alert_schemas import AlertPage, AlertRead, MarkedRead, UnreadCount
from clinicdesk.notifications.service import alerts
from clinicdesk.notifications.service.alerts import Alert

AlertsRead = Annotated[Actor, Depends(require(Permission.ALERTS_READ))]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


def _read(alert: Alert) -> AlertRead:
    return AlertRead.model_validate(alert)


@router.get("", response_model=AlertPage, summary="My alerts")
async def list_alerts(
    actor: AlertsRead,
    session: SessionDep,
    unread: bool = False,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AlertPage:
    """The caller's alerts, newest first; ``unread=true`` for the unread ones only."""
    found = await alerts.list_alerts(
        session, actor=actor, unread_only=unread, before=cursor, limit=limit
    )
    return AlertPage(
        items=[_read(a) for a in found.items], next_cursor=found.next_cursor, unread=found.unread
    )


@router.get("/unread-count", response_model=UnreadCount, summary="How many of my alerts are unread")
async def unread_count(actor: AlertsRead, session: SessionDep) -> UnreadCount:
    return UnreadCount(unread=await alerts.unread_count(session, actor=actor))


@router.post("/read-all", response_model=MarkedRead, summary="Mark all my alerts read")
async def read_all(actor: AlertsRead, session: SessionDep) -> MarkedRead:
    return MarkedRead(marked=await alerts.mark_all_read(session, actor=actor))


@router.post("/{alert_id}/read", response_model=AlertRead, summary="Mark one of my alerts read")
async def read_one(alert_id: uuid.UUID, actor: AlertsRead, session: SessionDep) -> AlertRead:
    return _read(await alerts.mark_read(session, actor=actor, alert_id=alert_id))
