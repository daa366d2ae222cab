"""The staff's own alerts as pages: the bell in every staff page's header (a fragment
htmx loads, and reloads when the live stream says an alert came or was read), the list
(``/alerts``), opening one (marked read, then its link), and "mark all read"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.pages import FragmentOf, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.service import alerts

AlertsRead = Annotated[Actor, Depends(require(Permission.ALERTS_READ))]

router = APIRouter(include_in_schema=False)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    actor: AlertsRead,
    session: SessionDep,
    unread: bool = False,
    before: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    found = await alerts.list_alerts(session, actor=actor, unread_only=unread, before=before)
    context = {"alerts": found.items, "next_cursor": found.next_cursor, "unread_only": unread}
    return render(request, "notifications/alerts.html", {**context, "unread": found.unread})


# Before ``/alerts/{alert_id}``: "bell" is not an id.
@router.get("/alerts/bell", response_class=HTMLResponse)
async def bell(
    request: Request,
    actor: AlertsRead,
    session: SessionDep,
    fragment: Annotated[None, Depends(FragmentOf("/alerts"))],
) -> HTMLResponse:
    """The header's bell with the unread count (one indexed query)."""
    count = await alerts.unread_count(session, actor=actor)
    return render(request, "notifications/_bell.html", {"unread": count})


@router.get("/alerts/{alert_id}")
async def open_alert(
    alert_id: uuid.UUID, actor: AlertsRead, session: SessionDep
) -> RedirectResponse:
    """Opening an alert marks it read and goes where it points (the list when nowhere)."""
    alert = await alerts.mark_read(session, actor=actor, alert_id=alert_id)
    return redirect(alert.link or "/alerts")


@router.post("/alerts/read-all")
async def read_all(request: Request, actor: AlertsRead, session: SessionDep) -> RedirectResponse:
    marked = await alerts.mark_all_read(session, actor=actor)
    response = redirect("/alerts")
    message = (
        f"{marked} alert{'' if marked == 1 else 's'} marked read."
        if marked
        else "Nothing was unread."
    )
    flash(request, response, message, "info")
    return response
