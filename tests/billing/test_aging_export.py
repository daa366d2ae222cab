"""The aging CSV export, on SQLite and PostgreSQL: the narrow export (names and MRNs
looked up alone, amounts formatted from minor units, written batch by batch) writes the
same text, byte for byte, as the report's rows with whole patient records did before,
formula-safe; and its amount text is ``to_major``'s for any amount (property test)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.balance_schemas import AgingSort
from clinicdesk.billing.kernel.money import minor_units, to_major
from clinicdesk.billing.service import aging, aging_export
from clinicdesk.billing.service.aging import AgingReport
from clinicdesk.billing.service.aging_export import COLUMNS, export_csv, major_text, text_cell
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.models import Patient
from tests.billing.test_aging import invoice_of
from tests.support.identity import create_user
from tests.support.queue import QueueClinic


def reference_csv(report: AgingReport) -> str:
    """The export as it was written before (from ``AgingReport`` rows holding whole
    patient records, amounts through ``to_major``): the text the export must keep."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    currency = report.currency

    def amounts(b: aging.Buckets) -> list[str]:
        return [str(to_major(a, currency)) for a in (*b.as_tuple(), b.total)]

    for row in report.rows:
        writer.writerow(
            [
                text_cell(row.patient.full_name if row.patient else None),
                text_cell(row.patient.mrn if row.patient else None),
                str(row.patient_id),
                row.invoices,
                row.oldest_issue_date.isoformat(),
                *amounts(row.buckets),
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
            *amounts(report.totals),
            "",
            currency,
        ]
    )
    return buffer.getvalue()


@given(amount=st.integers(min_value=-(10**15), max_value=10**15))
def test_amount_text_is_to_majors(amount: int) -> None:
    for currency in ("USD", "JPY", "KWD"):
        assert major_text(amount, minor_units(currency)) == str(to_major(amount, currency))


async def test_the_export_writes_what_it_wrote_before(
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ann, ben, cleo = qc.patient_ids[:3]
    for patient_id, amount in ((ann, 1250), (ann, 99), (ben, 100000), (cleo, 5)):
        await invoice_of(desk, patient_id, amount)
    credit = await desk.post(
        "/api/v1/payments",
        json={"patient_id": str(ben), "method": "cash", "amount": 777, "allocations": []},
    )
    assert credit.status_code == 201, credit.text
    await scope_to_tenant(session, qc.organization_id)
    # A name a spreadsheet would run, and a middle name (the full name carries it).
    await session.execute(
        update(Patient)
        .where(Patient.id == ann)
        .values(given_name='=HYPERLINK("x")', middle_name="Mae")
    )
    await session.execute(update(Patient).where(Patient.id == cleo).values(family_name="-Lee"))
    actor = actor_for(await create_user(session, clinic, Role.BILLING))
    monkeypatch.setattr(aging_export, "BATCH", 2)  # several batches from three patients

    for sort, min_balance in (
        (AgingSort.OVERDUE, 0),
        (AgingSort.BALANCE, 0),
        (AgingSort.OLDEST, 100),
    ):
        before = await aging.aging_report(
            session, actor=actor, sort=sort, min_balance=min_balance, limit=1000
        )
        made = await export_csv(session, actor=actor, sort=sort, min_balance=min_balance)
        assert made.text == reference_csv(before)
        assert made.patients == before.patients and made.rows == len(before.rows)

    made = await export_csv(session, actor=actor, sort=AgingSort.BALANCE)
    rows = list(csv.reader(io.StringIO(made.text)))
    by_id = {r[2]: r for r in rows[1:-1]}
    assert by_id[str(ann)][0].startswith("'=HYPERLINK") and "Mae" in by_id[str(ann)][0]
    assert by_id[str(cleo)][0].endswith("-Lee") and not by_id[str(cleo)][0].startswith("'")
    assert by_id[str(ben)][10] == "7.77"  # the credit
    assert made.filename == f"aging-{rows[-1][0].rsplit(' ', 1)[-1]}.csv"
