"""The aging report as CSV, for a spreadsheet: one row per patient, then the totals.

Amounts are in the currency's major unit (``12.50``), written as numbers; every text cell
that a spreadsheet could take for a formula (``=``, ``+``, ``-``, ``@``, a tab or a
carriage return first) is written with a leading apostrophe, so a name typed as
``=HYPERLINK(...)`` is shown, never run (CSV injection).

Speed (41,629 rows at the benchmark's 50,000 patients, ``benchmarks/billing_aging.py``):
the grouped rows come from one statement (``aging.owed_rows``); the patients' names and
MRNs from the patients' narrow look-up (``labels_by_id``: five columns, no records
loaded), their credit and the list read on the audit trail ``BATCH`` patients at a
time, and each batch is written out as it comes. Amounts are formatted from the integer
minor units (``major_text``), the same text as ``str(to_major(...))`` without a
``Decimal`` per cell.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.balance_schemas import AgingSort
from clinicdesk.billing.kernel.money import minor_units
from clinicdesk.billing.service import aging
from clinicdesk.billing.service.aging import Buckets
from clinicdesk.billing.service.balance_seams import patient_credits
from clinicdesk.core.actor import Actor
from clinicdesk.patients import public as patients

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
BATCH = 1000
"""Patients per name look-up, credit query and list-read entry."""


def text_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def major_text(amount: int, digits: int) -> str:
    """Minor units as the major-unit text ``str(to_major(amount, currency))`` gives, for a
    currency of ``digits`` minor digits: 1250 -> "12.50", -5 -> "-0.05" (2 digits)."""
    if digits == 0:
        return str(amount)
    whole, part = divmod(abs(amount), 10**digits)
    return f"{'-' if amount < 0 else ''}{whole}.{part:0{digits}d}"


def _amounts(buckets: Buckets, digits: int) -> list[str]:
    return [major_text(amount, digits) for amount in (*buckets.as_tuple(), buckets.total)]


def csv_filename(as_of: date) -> str:
    return f"aging-{as_of.isoformat()}.csv"


@dataclass(frozen=True, slots=True)
class AgingCsv:
    filename: str
    text: str
    patients: int
    rows: int
    """Patient rows written (the totals row left out)."""


async def export_csv(
    session: AsyncSession,
    *,
    actor: Actor,
    as_of: date | None = None,
    location_id: uuid.UUID | None = None,
    min_balance: int = 0,
    sort: AgingSort = AgingSort.OVERDUE,
) -> AgingCsv:
    """The whole report with these filters as CSV (the columns of ``COLUMNS``, then the
    totals); every patient named is recorded as a list read ("billing aging")."""
    owed = await aging.owed_rows(
        session, as_of=as_of, location_id=location_id, min_balance=min_balance, sort=sort
    )
    currency = owed.currency
    digits = minor_units(currency)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for start in range(0, len(owed.rows), BATCH):
        rows = owed.rows[start : start + BATCH]
        ids = [row["patient_id"] for row in rows]
        labels = await patients.labels_by_id(session, set(ids))
        credits = await patient_credits(session, ids)
        await audit.record_list_read(session, actor=actor, patient_ids=ids, view="billing aging")
        for row in rows:
            patient_id = row["patient_id"]
            label = labels.get(patient_id)
            writer.writerow(
                [
                    text_cell(label.full_name) if label else "",
                    text_cell(label.mrn) if label else "",
                    str(patient_id),
                    int(row["invoices"]),
                    row["oldest"].isoformat(),
                    *_amounts(aging.buckets_of(row), digits),
                    major_text(credits.get(patient_id, 0), digits),
                    currency,
                ]
            )
    writer.writerow(
        [
            f"Total, {owed.patients} patients, as of {owed.as_of.isoformat()}",
            "",
            "",
            owed.invoices,
            "",
            *_amounts(owed.totals, digits),
            "",
            currency,
        ]
    )
    return AgingCsv(csv_filename(owed.as_of), buffer.getvalue(), owed.patients, len(owed.rows))
