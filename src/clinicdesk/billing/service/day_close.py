"""Day close: the day's expected money at one location (the "X report" the desk reads
before closing) and the close itself, with the amounts counted.

Rules:

* **Expected** is per method and per user who took the money: payments of the day
  (``business_date``) at the location minus refunds of the day there; voided payments
  count for nothing. Money taken with no location is a drawer of its own
  (``location_id`` left out).
* **Counted**: cash is counted in the drawer and card is the terminal's batch total, so
  both must be given whenever the day moved money by them; other methods count as the
  system says unless a count is given. ``difference = counted - expected``, and a
  difference that is not zero needs its reason.
* **One closing in force.** A closing's figures are written once and never changed;
  while it is in force the day refuses payments dated into it, refunds and voids
  touching it (``day_guard.check_day_open``). A business day still to come cannot be
  closed.
* **Reopen** (``reopen_day``): only who may both refund and run the clinic's settings
  (``can_reopen_day``: the admin), with a reason of at least ``MIN_REOPEN_REASON``
  characters. The closing stays as history, stamped with who reopened it, when and why;
  the day takes money again, and the next close sums the day afresh into a new closing.
* **Counted or refused, never lost**: the close and the reopen take the day's lock
  exclusively (``day_guard.lock_day``) before they read the closing, so a payment
  committing meanwhile is either in the sums or refused after the close, and a close
  racing a reopen waits for it.
* Audited in the same transaction (``day.closed`` with the figures, ``day.reopened``
  with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.day_close_models import NO_LOCATION, DayClosing, DayClosingLine
from clinicdesk.billing.errors import DayClosed, DayCloseRefused, DayNotClosed
from clinicdesk.billing.kernel.money import to_major
from clinicdesk.billing.payment_models import Payment, Refund
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.day_guard import closing_of, closings_of, lock_day
from clinicdesk.billing.vocabulary import PaymentMethod, PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import Forbidden, InvalidField
from clinicdesk.core.models import utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.core.permissions import Permission
from clinicdesk.identity import public as identity

# Counted by hand (the drawer, the terminal's batch): never taken from the system.
MUST_COUNT = (PaymentMethod.CASH, PaymentMethod.CARD)
# As long as a break-glass reason: reopening undoes a count, and the reason is what an
# auditor reads later.
MIN_REOPEN_REASON = 15


def can_reopen_day(actor: Actor) -> bool:
    """The owner's act: who gives money back and runs the clinic's settings (the admin)."""
    return actor.can(Permission.BILLING_REFUND) and actor.can(Permission.ADMIN_SETTINGS)


@dataclass(frozen=True, slots=True)
class Figures:
    """One method's money of the day (``user_id`` None), or one user's part of it."""

    method: str
    user_id: uuid.UUID | None
    user_name: str | None
    received: int
    refunded: int
    payments: int

    @property
    def expected(self) -> int:
        return self.received - self.refunded


@dataclass(frozen=True, slots=True)
class ClosingEntry:
    """One closing of the day, in force or reopened, with the names of who acted."""

    closing: DayClosing
    closed_by_name: str | None
    reopened_by_name: str | None


@dataclass(frozen=True, slots=True)
class DaySummary:
    business_date: date
    location_id: uuid.UUID | None
    location_name: str | None
    currency: str
    methods: Sequence[Figures]
    users: Sequence[Figures]
    closing: DayClosing | None = None
    lines: Sequence[DayClosingLine] = field(default_factory=list)
    closed_by_name: str | None = None
    history: Sequence[ClosingEntry] = field(default_factory=list)
    """Every closing of the day, oldest first (the reopened ones and the one in force)."""

    @property
    def expected_total(self) -> int:
        return sum(m.expected for m in self.methods)


@dataclass(frozen=True, slots=True)
class Count:
    """What the closer entered for one method."""

    counted: int | None
    reason: str | None = None


async def _sums(
    session: AsyncSession, business_date: date, location_id: uuid.UUID | None
) -> dict[tuple[str, uuid.UUID | None], list[int]]:
    """(method, user) -> [received, refunded, number of payments]."""
    found: dict[tuple[str, uuid.UUID | None], list[int]] = {}
    paid = select(
        Payment.method, Payment.taken_by_id, func.sum(Payment.amount), func.count()
    ).where(
        Payment.business_date == business_date,
        Payment.status != PaymentStatus.VOIDED,
        Payment.location_id == location_id
        if location_id is not None
        else Payment.location_id.is_(None),
    )
    for method, user_id, amount, number in await session.execute(
        paid.group_by(Payment.method, Payment.taken_by_id)
    ):
        found.setdefault((method, user_id), [0, 0, 0])
        found[(method, user_id)][0] += int(amount)
        found[(method, user_id)][2] += int(number)
    back = select(Refund.method, Refund.refunded_by_id, func.sum(Refund.amount)).where(
        Refund.business_date == business_date,
        Refund.location_id == location_id
        if location_id is not None
        else Refund.location_id.is_(None),
    )
    for method, user_id, amount in await session.execute(
        back.group_by(Refund.method, Refund.refunded_by_id)
    ):
        found.setdefault((method, user_id), [0, 0, 0])
        found[(method, user_id)][1] += int(amount)
    return found


def _method_order(method: str) -> int:
    methods = [m.value for m in PaymentMethod]
    return methods.index(method) if method in methods else len(methods)


async def _figures(
    session: AsyncSession, business_date: date, location_id: uuid.UUID | None
) -> tuple[list[Figures], list[Figures]]:
    sums = await _sums(session, business_date, location_id)
    names = await identity.names_of(session, {u for _, u in sums if u is not None})
    users = [
        Figures(method, user_id, names.get(user_id) if user_id else None, *values)
        for (method, user_id), values in sums.items()
    ]
    users.sort(key=lambda f: (_method_order(f.method), f.user_name or "", str(f.user_id)))
    methods: list[Figures] = []
    for method in sorted({f.method for f in users} | set(MUST_COUNT), key=_method_order):
        mine = [f for f in users if f.method == method]
        methods.append(
            Figures(
                method,
                None,
                None,
                sum(f.received for f in mine),
                sum(f.refunded for f in mine),
                sum(f.payments for f in mine),
            )
        )
    return methods, users


async def _location_name(session: AsyncSession, location_id: uuid.UUID | None) -> str | None:
    if location_id is None:
        return None
    return (await identity.get_location(session, location_id)).name


async def day_summary(
    session: AsyncSession, *, business_date: date, location_id: uuid.UUID | None
) -> DaySummary:
    """The day's expected money (live figures) and, once closed, its closing."""
    location_name = await _location_name(session, location_id)
    ledger_books = await books(session)
    methods, users = await _figures(session, business_date, location_id)
    closing = await closing_of(session, business_date=business_date, location_id=location_id)
    lines: list[DayClosingLine] = []
    closed_by_name = None
    if closing is not None:
        lines = list(
            await session.scalars(
                select(DayClosingLine)
                .where(DayClosingLine.closing_id == closing.id)
                .order_by(DayClosingLine.user_id.is_not(None), DayClosingLine.created_at)
            )
        )
    history = await _history(session, business_date, location_id)
    if closing is not None:
        closed_by_name = next(e.closed_by_name for e in history if e.closing.id == closing.id)
    return DaySummary(
        business_date=business_date,
        location_id=location_id,
        location_name=location_name,
        currency=ledger_books.currency,
        methods=methods,
        users=users,
        closing=closing,
        lines=lines,
        closed_by_name=closed_by_name,
        history=history,
    )


async def _history(
    session: AsyncSession, business_date: date, location_id: uuid.UUID | None
) -> list[ClosingEntry]:
    closings = await closings_of(session, business_date=business_date, location_id=location_id)
    who = {c.closed_by_id for c in closings} | {c.reopened_by_id for c in closings}
    names = await identity.names_of(session, {u for u in who if u is not None})
    return [
        ClosingEntry(
            closing=c,
            closed_by_name=names.get(c.closed_by_id) if c.closed_by_id else None,
            reopened_by_name=names.get(c.reopened_by_id) if c.reopened_by_id else None,
        )
        for c in closings
    ]


def _counted_line(figures: Figures, count: Count | None, currency: str) -> tuple[int, str | None]:
    """The amount counted for a method and its reason, by the rules of the module."""
    counted = count.counted if count is not None else None
    reason = (count.reason or "").strip() or None if count is not None else None
    if counted is None:
        moved = figures.received or figures.refunded
        if figures.method in MUST_COUNT and moved:
            what = (
                "the cash counted in the drawer"
                if figures.method == "cash"
                else ("the card terminal's batch total")
            )
            raise InvalidField(
                f"counted.{figures.method}",
                f"Enter {what} for {figures.method} (the system expects "
                f"{to_major(figures.expected, currency)} {currency}).",
            )
        counted = figures.expected
    if counted != figures.expected and reason is None:
        raise InvalidField(
            f"counted.{figures.method}.reason",
            f"Counted {figures.method} differs from the expected amount by "
            f"{to_major(counted - figures.expected, currency)} {currency}: give the reason.",
        )
    return counted, reason


async def close_day(
    session: AsyncSession,
    *,
    actor: Actor,
    business_date: date,
    location_id: uuid.UUID | None,
    counts: Mapping[str, Count],
    note: str | None = None,
) -> DaySummary:
    """Close the day with the amounts counted (see the module's rules). A close of a day
    whose closing is in force is refused (``DayClosed``); a reopened day closes again
    into a new closing, its figures summed afresh."""
    location_name = await _location_name(session, location_id)
    ledger_books = await books(session)
    if business_date > ledger_books.today():
        raise DayCloseRefused(
            f"{business_date.isoformat()} has not come yet; a day is closed at its end."
        )
    await lock_day(session, business_date=business_date, location_id=location_id, exclusive=True)
    if await closing_of(session, business_date=business_date, location_id=location_id):
        raise DayClosed(
            f"The business day {business_date.isoformat()} is already closed here; "
            "its closing is shown with the day. An admin may reopen it with a reason."
        )
    methods, users = await _figures(session, business_date, location_id)
    known = {m.method for m in methods}
    # A count for a method the day did not see (money found in the drawer) is a line too.
    methods += [
        Figures(method, None, None, 0, 0, 0)
        for method in sorted(set(counts) - known, key=_method_order)
    ]
    counted_lines = [
        (m, *_counted_line(m, counts.get(m.method), ledger_books.currency)) for m in methods
    ]
    expected_total = sum(m.expected for m in methods)
    counted_total = sum(c for _, c, _ in counted_lines)
    closing = DayClosing(
        business_date=business_date,
        location_id=location_id,
        location_key=location_id or NO_LOCATION,
        currency=ledger_books.currency,
        closed_at=utcnow(),
        closed_by_id=actor.user_id,
        expected_total=expected_total,
        counted_total=counted_total,
        difference_total=counted_total - expected_total,
        note=(note or "").strip() or None,
    )
    session.add(closing)
    await session.flush()
    lines = [
        DayClosingLine(
            closing_id=closing.id,
            method=m.method,
            received=m.received,
            refunded=m.refunded,
            expected=m.expected,
            counted=counted,
            difference=counted - m.expected,
            reason=reason,
        )
        for m, counted, reason in counted_lines
    ] + [
        DayClosingLine(
            closing_id=closing.id,
            method=u.method,
            user_id=u.user_id,
            received=u.received,
            refunded=u.refunded,
            expected=u.expected,
        )
        for u in users
    ]
    session.add_all(lines)
    await session.flush()
    await audit.record(
        session,
        action="day.closed",
        actor=actor,
        resource_type="day_closing",
        resource_id=closing.id,
        changes=audit.changes(None, audit.snapshot(closing)),
        details={
            "lines": [
                {
                    "method": line.method,
                    "user_id": str(line.user_id) if line.user_id else None,
                    "expected": line.expected,
                    "counted": line.counted,
                    "difference": line.difference,
                    "reason": line.reason,
                }
                for line in lines
            ]
        },
    )
    return DaySummary(
        business_date=business_date,
        location_id=location_id,
        location_name=location_name,
        currency=ledger_books.currency,
        methods=methods,
        users=users,
        closing=closing,
        lines=lines,
        closed_by_name=(await identity.names_of(session, {actor.user_id})).get(actor.user_id)
        if actor.user_id
        else None,
        history=await _history(session, business_date, location_id),
    )


async def reopen_day(
    session: AsyncSession,
    *,
    actor: Actor,
    business_date: date,
    location_id: uuid.UUID | None,
    reason: str,
) -> DaySummary:
    """Reopen a closed day (see the module's rules): the closing in force is stamped
    reopened, never deleted; the day takes back-dated payments, refunds and voids again
    until it is closed anew. 403 unless ``can_reopen_day``; 422 for a short reason; 409
    (``DayNotClosed``) when the day has no closing in force."""
    if not can_reopen_day(actor):
        raise Forbidden(
            "Only an administrator may reopen a closed day.",
            permission=Permission.ADMIN_SETTINGS.value,
        )
    why = reason.strip()
    if len(why) < MIN_REOPEN_REASON:
        raise InvalidField(
            "reason",
            f"Say why the day is reopened (at least {MIN_REOPEN_REASON} characters): "
            "the reason stays with the day's closings.",
        )
    await _location_name(session, location_id)  # another organization's: not found
    await lock_day(session, business_date=business_date, location_id=location_id, exclusive=True)
    closing = await closing_of(session, business_date=business_date, location_id=location_id)
    if closing is None:
        raise DayNotClosed(
            f"The business day {business_date.isoformat()} is not closed here; "
            "there is nothing to reopen."
        )
    before = audit.snapshot(closing)
    closing.reopened_at = utcnow()
    closing.reopened_by_id = actor.user_id
    closing.reopen_reason = why
    await session.flush()
    await audit.record(
        session,
        action="day.reopened",
        actor=actor,
        resource_type="day_closing",
        resource_id=closing.id,
        changes=audit.changes(before, audit.snapshot(closing)),
        details={
            "business_date": business_date.isoformat(),
            "location_id": str(location_id) if location_id else None,
            "reason": why,
            "expected_total": closing.expected_total,
            "counted_total": closing.counted_total,
        },
    )
    return await day_summary(session, business_date=business_date, location_id=location_id)


async def list_closings(
    session: AsyncSession,
    *,
    location_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[DayClosing], str | None]:
    """Closings, newest business date first (a reopened day shows each of its closings,
    the reopened ones with ``reopened_at``)."""
    offset = decode_cursor(cursor)
    statement = select(DayClosing).order_by(
        DayClosing.business_date.desc(), DayClosing.closed_at.desc(), DayClosing.id
    )
    if location_id is not None:
        statement = statement.where(DayClosing.location_id == location_id)
    if date_from is not None:
        statement = statement.where(DayClosing.business_date >= date_from)
    if date_to is not None:
        statement = statement.where(DayClosing.business_date <= date_to)
    found = list((await session.scalars(statement.offset(offset).limit(limit + 1))).all())
    more = len(found) > limit
    return found[:limit], encode_cursor(offset + limit) if more else None
