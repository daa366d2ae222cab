"""JSON API of outstanding balances: the aging report (and its CSV) and a patient's
statement. Reads of patient data: each answer is recorded on the audit trail."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from clinicdesk.billing.access import BillingRead
from clinicdesk.billing.balance_schemas import (
    AgingReportRead,
    AgingRow,
    AgingSort,
    BucketsRead,
    StatementLineRead,
    StatementRead,
)
from clinicdesk.billing.schemas import MAX_AMOUNT
from clinicdesk.billing.service import aging, statements
from clinicdesk.billing.service.aging import AgingReport, Buckets, PatientBalance
from clinicdesk.billing.service.aging_export import AgingCsv, export_csv
from clinicdesk.billing.service.statements import Statement
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])

AsOf = Annotated[date | None, Query(description="Age the invoices on this day (default: today).")]
LocationFilter = Annotated[uuid.UUID | None, Query(description="Only invoices of this location.")]
MinBalance = Annotated[
    int,
    Query(ge=0, le=MAX_AMOUNT, description="Only patients owing at least this (minor units)."),
]


def buckets_read(buckets: Buckets) -> BucketsRead:
    return BucketsRead(
        days_0_30=buckets.days_0_30,
        days_31_60=buckets.days_31_60,
        days_61_90=buckets.days_61_90,
        over_90=buckets.over_90,
        total=buckets.total,
    )


def row_read(row: PatientBalance) -> AgingRow:
    return AgingRow(
        patient_id=row.patient_id,
        patient_name=row.patient.display_name if row.patient else None,
        mrn=row.patient.mrn if row.patient else None,
        invoices=row.invoices,
        oldest_issue_date=row.oldest_issue_date,
        balance=row.balance,
        buckets=buckets_read(row.buckets),
        credit=row.credit,
    )


def report_read(report: AgingReport) -> AgingReportRead:
    return AgingReportRead(
        as_of=report.as_of,
        currency=report.currency,
        location_id=report.location_id,
        min_balance=report.min_balance,
        sort=report.sort,
        patients=report.patients,
        invoices=report.invoices,
        totals=buckets_read(report.totals),
        items=[row_read(row) for row in report.rows],
        next_cursor=report.next_cursor,
    )


def statement_read(statement: Statement) -> StatementRead:
    return StatementRead(
        patient_id=statement.patient.id,
        patient_name=statement.patient.display_name,
        mrn=statement.patient.mrn,
        currency=statement.currency,
        date_from=statement.date_from,
        as_of=statement.as_of,
        opening_balance=statement.opening_balance,
        charges=statement.charges,
        credits=statement.credits,
        closing_balance=statement.closing_balance,
        lines=[
            StatementLineRead(
                date=line.day,
                kind=line.kind,
                reference_id=line.reference_id,
                number=line.number,
                description=line.description,
                charge=line.charge,
                credit=line.credit,
                balance=line.balance,
            )
            for line in statement.lines
        ],
        aging=buckets_read(statement.aging),
        credit=statement.credit,
    )


def csv_download(made: AgingCsv) -> Response:
    return Response(
        made.text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


@router.get("/billing/aging", response_model=AgingReportRead)
async def aging_report(
    session: SessionDep,
    actor: BillingRead,
    as_of: AsOf = None,
    location_id: LocationFilter = None,
    min_balance: MinBalance = 0,
    sort: AgingSort = AgingSort.OVERDUE,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
) -> AgingReportRead:
    """Outstanding balances per patient by age (0-30, 31-60, 61-90, over 90 days since
    the issue date, bounds inclusive), with the totals of every page."""
    report = await aging.aging_report(
        session,
        actor=actor,
        as_of=as_of,
        location_id=location_id,
        min_balance=min_balance,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return report_read(report)


@router.get("/billing/aging.csv", response_class=Response)
async def aging_report_csv(
    session: SessionDep,
    actor: BillingRead,
    as_of: AsOf = None,
    location_id: LocationFilter = None,
    min_balance: MinBalance = 0,
    sort: AgingSort = AgingSort.OVERDUE,
) -> Response:
    """The whole report (every patient over the filters) as CSV."""
    made = await export_csv(
        session,
        actor=actor,
        as_of=as_of,
        location_id=location_id,
        min_balance=min_balance,
        sort=sort,
    )
    return csv_download(made)


@router.get("/billing/statements/{patient_id}", response_model=StatementRead)
async def patient_statement(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: BillingRead,
    date_from: Annotated[
        date | None, Query(description="Start of the period (default: the first invoice).")
    ] = None,
    as_of: AsOf = None,
) -> StatementRead:
    """The patient's invoices and credit notes (and, with payments, their payments and
    refunds) in date order with the running balance, and their balance by age."""
    statement = await statements.patient_statement(
        session, actor=actor, patient_id=patient_id, date_from=date_from, as_of=as_of
    )
    return statement_read(statement)
