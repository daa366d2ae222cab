"""The aging report as CSV, for a spreadsheet: one row per patient, then the totals.

Amounts are in the currency's major unit (``12.50``), written as numbers; every text cell
that a spreadsheet could take for a formula (``=``, ``+``, ``-``, ``@``, a tab or a
carriage return first) is written with a leading apostrophe, so a name typed as
``=HYPERLINK(...)`` is shown, never run (CSV injection).
"""

from __future__ import annotations

import csv
import io

from clinicdesk.billing.kernel.money import to_major
from clinicdesk.billing.service.aging import AgingReport, Buckets

COLUMNS = (
    "patient",
    "mrn",
    "patient_id",
    "invoices",
    "oldest_issue_date",
    "days_0_30",
    "days_31_60",
    "days_61_90",
    "over_90",
    "balance",
    "credit",
    "currency",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _amounts(buckets: Buckets, currency: str) -> list[str]:
    return [str(to_major(amount, currency)) for amount in (*buckets.as_tuple(), buckets.total)]


def csv_filename(report: AgingReport) -> str:
    return f"aging-{report.as_of.isoformat()}.csv"


def aging_csv(report: AgingReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    currency = report.currency
    for row in report.rows:
        writer.writerow(
            [
                text_cell(row.patient.full_name if row.patient else None),
                text_cell(row.patient.mrn if row.patient else None),
                str(row.patient_id),
                row.invoices,
                row.oldest_issue_date.isoformat(),
                *_amounts(row.buckets, currency),
                str(to_major(row.credit, currency)),
                currency,
            ]
        )
    writer.writerow(
        [
            f"Total, {report.patients} patients, as of {report.as_of.isoformat()}",
            "",
            "",
            report.invoices,
            "",
            *_amounts(report.totals, currency),
            "",
            currency,
        ]
    )
    return buffer.getvalue()
