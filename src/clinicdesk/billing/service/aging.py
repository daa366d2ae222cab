"""Outstanding balances by age: the aging report, per patient.

Which invoices: every invoice past draft (issued, and whatever payment statuses follow)
with something still due (``amount_due > 0``), issued on or before ``as_of``, in the
organization's currency. What is due is the invoice's ``amount_due`` today (its total less
credit notes and payments); an ``as_of`` in the past ages the invoices of that day by
that day, but with what is still due now.

Buckets, in whole days from the issue date to ``as_of`` (the organization's calendar
days), bounds inclusive:

* ``0-30``: issued on ``as_of`` or up to 30 days before it;
* ``31-60``: 31 to 60 days before;
* ``61-90``: 61 to 90 days before;
* ``90+``: 91 days or more before.

Speed: one aggregate statement grouped per patient, with a CASE per bucket, reads only
the partial index ``ix_invoices_outstanding`` (the invoices with something due, keyed by
patient, carrying the issue date, amount and location), so its cost follows the unpaid
invoices, not all of them. Window sums over the grouped rows give the report's totals in
the same statement; the names of the page's patients are fetched after, one page only.
The partial index is used only when the statement repeats its condition word for word
(SQLite matches the terms, not their meaning): hence the literals below.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from clinicdesk.audit import public as audit
from clinicdesk.billing.balance_schemas import AgingSort
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.service.balance_seams import patient_credits
from clinicdesk.billing.service.common import books
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.patients import public as patients

# The partial index's condition, written as the statement must repeat it.
NOT_DRAFT: ColumnClause[str] = literal_column("'draft'")
NOTHING: ColumnClause[int] = literal_column("0")
OUTSTANDING_WHERE = "status <> 'draft' AND amount_due > 0"

BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
"""Name, first and last day of age (inclusive; None: no end)."""

# Far past any clinic's calendar: an extreme ``as_of`` is clamped, not an error.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 1, 1)


@dataclass(frozen=True, slots=True)
class Buckets:
    """Amounts due (minor units) per age."""

    days_0_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    over_90: int = 0

    @property
    def total(self) -> int:
        return self.days_0_30 + self.days_31_60 + self.days_61_90 + self.over_90

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.days_0_30, self.days_31_60, self.days_61_90, self.over_90)


@dataclass(frozen=True, slots=True)
class PatientBalance:
    patient_id: uuid.UUID
    patient: patients.Patient | None
    invoices: int
    oldest_issue_date: date
    buckets: Buckets
    credit: int
    """Unallocated payments (``balance_seams.patient_credits``); not in the buckets."""

    @property
    def balance(self) -> int:
        return self.buckets.total


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: date
    currency: str
    location_id: uuid.UUID | None
    min_balance: int
    sort: AgingSort
    patients: int
    """Patients over the filters, on every page."""
    invoices: int
    totals: Buckets
    rows: list[PatientBalance]
    next_cursor: str | None

    @property
    def balance(self) -> int:
        return self.totals.total


def _bucket_sums(as_of: date) -> list[Any]:
    """SUM(CASE ...) per bucket: an issue date on or after ``as_of - last`` and on or
    before ``as_of - first``."""
    due, issued = Invoice.amount_due, Invoice.issue_date
    sums = []
    for name, first, last in BUCKETS:
        conditions = [issued <= as_of - timedelta(days=first)]
        if last is not None:
            conditions.append(issued >= as_of - timedelta(days=last))
        sums.append(func.sum(case((and_(*conditions), due), else_=0)).label(name))
    return sums


def per_patient(
    session: AsyncSession,
    *,
    as_of: date,
    currency: str,
    location_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    min_balance: int = 0,
) -> Select[Any]:
    """One row per patient with something due: counts, oldest issue date, balance and
    the four buckets."""
    statement = (
        select(
            Invoice.patient_id.label("patient_id"),
            func.count().label("invoices"),
            func.min(Invoice.issue_date).label("oldest"),
            func.sum(Invoice.amount_due).label("balance"),
            *_bucket_sums(as_of),
        )
        .where(
            Invoice.organization_id == current_tenant(session),
            Invoice.status != NOT_DRAFT,
            Invoice.amount_due > NOTHING,
            Invoice.issue_date <= as_of,
            Invoice.currency == currency,
        )
        .group_by(Invoice.patient_id)
    )
    if location_id is not None:
        statement = statement.where(Invoice.location_id == location_id)
    if patient_id is not None:
        statement = statement.where(Invoice.patient_id == patient_id)
    if min_balance > 0:
        statement = statement.having(func.sum(Invoice.amount_due) >= min_balance)
    return statement


def _order(grouped: Any, sort: AgingSort) -> list[Any]:
    c = grouped.c
    if sort == AgingSort.BALANCE:
        return [c.balance.desc(), c.patient_id]
    if sort == AgingSort.OLDEST:
        return [c.oldest, c.balance.desc(), c.patient_id]
    return [c["90+"].desc(), c["61-90"].desc(), c["31-60"].desc(), c.balance.desc(), c.patient_id]


def _buckets(row: Any) -> Buckets:
    return Buckets(*(int(row[name] or 0) for name, _first, _last in BUCKETS))


def _report_rows(grouped: Any, sort: AgingSort) -> Select[Any]:
    """The grouped rows in order, each with the totals over every grouped row (window
    sums, computed before a page is cut: one pass over the index)."""
    everyone: dict[str, Any] = {
        "rows": func.count().over(),
        "n": func.sum(grouped.c.invoices).over(),
    }
    everyone |= {f"t{name}": func.sum(grouped.c[name]).over() for name, _f, _l in BUCKETS}
    return select(grouped, *(value.label(key) for key, value in everyone.items())).order_by(
        *_order(grouped, sort)
    )


async def _balances(
    session: AsyncSession, *, actor: Actor, rows: Sequence[Any]
) -> list[PatientBalance]:
    """The rows with their patients (names) and credit; recorded as a list read."""
    ids = [row["patient_id"] for row in rows]
    people = await patients.patients_by_id(session, set(ids))
    credits = await patient_credits(session, ids)
    await audit.record_list_read(session, actor=actor, patient_ids=ids, view="billing aging")
    return [
        PatientBalance(
            patient_id=row["patient_id"],
            patient=people.get(row["patient_id"]),
            invoices=int(row["invoices"]),
            oldest_issue_date=row["oldest"],
            buckets=_buckets(row),
            credit=credits.get(row["patient_id"], 0),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class _Query:
    as_of: date
    currency: str
    grouped: Any


async def _query(
    session: AsyncSession,
    *,
    as_of: date | None,
    location_id: uuid.UUID | None,
    min_balance: int,
) -> _Query:
    ledger = await books(session)
    day = min(max(as_of or ledger.today(), EARLIEST), LATEST)
    grouped = per_patient(
        session,
        as_of=day,
        currency=ledger.currency,
        location_id=location_id,
        min_balance=min_balance,
    ).subquery("owed")
    return _Query(day, ledger.currency, grouped)


async def aging_report(
    session: AsyncSession,
    *,
    actor: Actor,
    as_of: date | None = None,
    location_id: uuid.UUID | None = None,
    min_balance: int = 0,
    sort: AgingSort = AgingSort.OVERDUE,
    limit: int,
    cursor: str | None = None,
) -> AgingReport:
    """A page of patients with what they owe by age, and the totals of every page.
    ``as_of`` defaults to the organization's today; ``min_balance`` (minor units) leaves
    out patients who owe less. The page's patients are recorded as a list read."""
    offset = decode_cursor(cursor)
    query = await _query(session, as_of=as_of, location_id=location_id, min_balance=min_balance)
    page = _report_rows(query.grouped, sort).offset(offset).limit(limit + 1)
    rows = (await session.execute(page)).mappings().all()
    if rows:
        count, invoices, totals = _window_totals(rows[0])
    else:  # past the last page (or nobody owes): the totals alone
        count, invoices, totals = await _totals(session, query.grouped)
    return AgingReport(
        as_of=query.as_of,
        currency=query.currency,
        location_id=location_id,
        min_balance=min_balance,
        sort=sort,
        patients=count,
        invoices=invoices,
        totals=totals,
        rows=await _balances(session, actor=actor, rows=rows[:limit]),
        next_cursor=encode_cursor(offset + limit) if len(rows) > limit else None,
    )


def _window_totals(row: Any) -> tuple[int, int, Buckets]:
    totals = Buckets(*(int(row[f"t{name}"] or 0) for name, _f, _l in BUCKETS))
    return int(row["rows"]), int(row["n"]), totals


async def _totals(session: AsyncSession, grouped: Any) -> tuple[int, int, Buckets]:
    found = (
        (
            await session.execute(
                select(
                    func.count().label("rows"),
                    func.sum(grouped.c.invoices).label("n"),
                    *(func.sum(grouped.c[name]).label(name) for name, _f, _l in BUCKETS),
                )
            )
        )
        .mappings()
        .one()
    )
    return int(found["rows"]), int(found["n"] or 0), _buckets(found)


async def patient_aging(
    session: AsyncSession, *, patient_id: uuid.UUID, as_of: date, currency: str
) -> Buckets:
    """One patient's buckets (no read recorded: the caller records its own)."""
    statement = per_patient(session, as_of=as_of, currency=currency, patient_id=patient_id)
    found = (await session.execute(statement)).mappings().one_or_none()
    return _buckets(found) if found is not None else Buckets()


@dataclass(frozen=True, slots=True)
class OwedRows:
    """Every grouped row of the report (``patient_id``, ``invoices``, ``oldest`` and one
    column per bucket name), in order, with the totals; no names: an export adds them."""

    as_of: date
    currency: str
    patients: int
    invoices: int
    totals: Buckets
    rows: Sequence[Any]


async def owed_rows(
    session: AsyncSession,
    *,
    as_of: date | None = None,
    location_id: uuid.UUID | None = None,
    min_balance: int = 0,
    sort: AgingSort = AgingSort.OVERDUE,
) -> OwedRows:
    """The whole report for an export, in one statement (the caller records the reads)."""
    query = await _query(session, as_of=as_of, location_id=location_id, min_balance=min_balance)
    rows = (await session.execute(_report_rows(query.grouped, sort))).mappings().all()
    count, invoices, totals = _window_totals(rows[0]) if rows else (0, 0, Buckets())
    return OwedRows(query.as_of, query.currency, count, invoices, totals, rows)


def buckets_of(row: Any) -> Buckets:
    """One grouped row's buckets (``owed_rows``)."""
    return _buckets(row)
