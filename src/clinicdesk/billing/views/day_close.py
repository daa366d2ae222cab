"""The "Day close" page: one location's business day, its expected money per method and
per user (the X report), and — for who may close (``billing:refund``: billing and the
admin) — the counted amounts with their reasons, the differences, and Close. A closed
day is shown read-only from its closing, with every closing of the day (reopened ones
too); the admin (``day_close.can_reopen_day``) reopens it there with a reason.

The same service as the JSON API; the form's amounts are typed in major units ("12.50").
"Show the differences" computes them on the server without closing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.access import BillingRead, BillingRefund, DayReopen
from clinicdesk.billing.service import day_close
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.day_close import Count, DaySummary
from clinicdesk.billing.views.common import amount_in, money, refusal
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.forms import form_text
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity

router = APIRouter(include_in_schema=False)

PAGE = "billing/day_close.html"
PATH = "/billing/day-close"
# Who sees the close form: the same permission as the API's close route.
CLOSE_PERMISSION = Permission.BILLING_REFUND
METHOD_NAMES = {
    "cash": "Cash",
    "card": "Card",
    "bank_transfer": "Bank transfer",
    "insurance": "Insurance",
    "other": "Other",
}
# The ``location`` of the money taken with no location.
NO_LOCATION = "none"
COUNT_HINTS = {
    "cash": "counted in the drawer",
    "card": "the terminal's batch total",
}


def _address(business_date: date, location_id: uuid.UUID | None) -> str:
    query = {
        "business_date": business_date.isoformat(),
        "location": str(location_id) if location_id else NO_LOCATION,
    }
    return f"{PATH}?{urlencode(query)}"


async def _show(
    request: Request,
    session: SessionDep,
    actor: Actor,
    business_date: date | None,
    location_id: uuid.UUID | str | None,
    *,
    typed: dict[str, str] | None = None,
    previews: dict[str, int] | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    locations = await identity.active_locations(session)
    if isinstance(location_id, str):
        location_id = _location_choice(location_id, locations)
    day = business_date or (await books(session)).today()
    summary = await day_close.day_summary(session, business_date=day, location_id=location_id)
    context: dict[str, Any] = {
        "s": summary,
        "locations": locations,
        "money": money,
        "no_location": NO_LOCATION,
        "method_names": METHOD_NAMES,
        "count_hints": COUNT_HINTS,
        "can_close": actor.can(CLOSE_PERMISSION) and summary.closing is None,
        "can_reopen": day_close.can_reopen_day(actor) and summary.closing is not None,
        "min_reopen_reason": day_close.MIN_REOPEN_REASON,
        "typed": typed or {},
        "previews": previews or {},
        "error": error,
        "errors": errors or {},
        "total_previewed": sum((previews or {}).values()) if previews else None,
    }
    return render(request, PAGE, context, status_code=status_code)


@router.get(PATH, response_class=HTMLResponse)
async def day_close_page(
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    business_date: date | None = None,
    location: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """Today at the first location unless the address names a day and a ``location``
    (its id, or ``none`` for the money taken with no location)."""
    return await _show(request, session, actor, business_date, location)


def _location_choice(text: str, locations: list[identity.Location]) -> uuid.UUID | None:
    if text == NO_LOCATION:
        return None
    if not text:
        return locations[0].id if locations else None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidField("location", "Pick a location from the list.") from None


def _counts(values: dict[str, str], summary: DaySummary) -> tuple[dict[str, Count], dict[str, int]]:
    """What was typed per method as counts, and each counted method's difference."""
    counts: dict[str, Count] = {}
    differences: dict[str, int] = {}
    expected = {m.method: m.expected for m in summary.methods}
    for method in PaymentMethod:
        text = values.get(f"counted-{method.value}", "")
        amount = amount_in(text, summary.currency, f"counted.{method.value}")
        reason = values.get(f"reason-{method.value}") or None
        if amount is None and reason is None:
            continue
        counts[method.value] = Count(amount, reason)
        if amount is not None:
            differences[method.value] = amount - expected.get(method.value, 0)
    return counts, differences


@router.post(PATH, response_class=HTMLResponse)
async def close_day(request: Request, session: SessionDep, actor: BillingRefund) -> Response:
    """``step=check`` shows the differences; ``step=close`` closes the day."""
    names = ["business_date", "location_id", "note", "step"]
    for method in PaymentMethod:
        names += [f"counted-{method.value}", f"reason-{method.value}"]
    values = form_text(await request.form(), names)
    try:
        business_date = date.fromisoformat(values["business_date"])
        location_id = uuid.UUID(values["location_id"]) if values["location_id"] else None
    except ValueError:
        raise InvalidField("business_date", "The form names no day or location.") from None
    summary = await day_close.day_summary(
        session, business_date=business_date, location_id=location_id
    )
    previews: dict[str, int] = {}
    try:
        counts, previews = _counts(values, summary)
        if values["step"] != "close":
            return await _show(
                request,
                session,
                actor,
                business_date,
                location_id,
                typed=values,
                previews=previews,
            )
        async with all_or_nothing(session):
            closed = await day_close.close_day(
                session,
                actor=actor,
                business_date=business_date,
                location_id=location_id,
                counts=counts,
                note=values["note"] or None,
            )
    except ClinicError as refused:
        if refused.status_code == 404:
            raise
        errors = dict(getattr(refused, "fields", {}))
        if isinstance(refused, InvalidField):
            errors[refused.field] = refused.message
        return await _show(
            request,
            session,
            actor,
            business_date,
            location_id,
            typed=values,
            previews=previews,
            error=refusal(refused),
            errors=errors,
            status_code=refused.status_code if refused.status_code != 422 else 400,
        )
    response = redirect(_address(business_date, location_id))
    difference = closed.closing.difference_total if closed.closing else 0
    flash(
        request,
        response,
        f"The day {business_date.isoformat()} is closed"
        + (
            f" with a difference of {money(difference, closed.currency)} {closed.currency}."
            if difference
            else "; the counts match."
        ),
    )
    return response


@router.post(f"{PATH}/reopen", response_class=HTMLResponse)
async def reopen_day(request: Request, session: SessionDep, actor: DayReopen) -> Response:
    """Reopen the closed day with the reason typed; a refusal shows the page again."""
    values = form_text(await request.form(), ["business_date", "location_id", "reason"])
    try:
        business_date = date.fromisoformat(values["business_date"])
        location_id = uuid.UUID(values["location_id"]) if values["location_id"] else None
    except ValueError:
        raise InvalidField("business_date", "The form names no day or location.") from None
    try:
        async with all_or_nothing(session):
            await day_close.reopen_day(
                session,
                actor=actor,
                business_date=business_date,
                location_id=location_id,
                reason=values["reason"],
            )
    except ClinicError as refused:
        if refused.status_code in (403, 404):
            raise
        errors = {"reopen": refused.detail} if isinstance(refused, InvalidField) else {}
        return await _show(
            request,
            session,
            actor,
            business_date,
            location_id,
            typed={"reopen-reason": values["reason"]},
            error=None if errors else refusal(refused),
            errors=errors,
            status_code=refused.status_code if refused.status_code != 422 else 400,
        )
    response = redirect(_address(business_date, location_id))
    flash(
        request,
        response,
        f"The day {business_date.isoformat()} is open again; its closing is kept below. "
        "Close it again when the money is in.",
    )
    return response
