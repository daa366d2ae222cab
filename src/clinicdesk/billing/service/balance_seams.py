"""The two places where payments join outstanding balances. Both answer "nothing" until
payments are wired in; the aging report and the statement already show what they return.

* ``patient_credits``: each patient's credit, money paid and not allocated to any
  invoice (an overpayment kept for the next invoice). The aging report shows it beside
  the invoices' balance; it never changes the buckets, which age invoices only.
* ``statement_movements``: a patient's payments (a credit on the statement) and refunds
  (a charge), each on the day it was taken or given, for the statement's running balance.

With both wired, a statement's closing balance equals the patient's aging balance less
their credit: invoices minus credit notes minus payments plus refunds (issue 16's
invariant).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Movement:
    """A payment or refund on a statement: ``amount`` in minor units, positive."""

    kind: Literal["payment", "refund"]
    day: date
    reference_id: uuid.UUID
    number: str
    description: str
    amount: int


async def patient_credits(
    session: AsyncSession, patient_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Unallocated credit per patient (minor units, only patients who have some).

    Seam: no payments yet, so no credit; payments answer here."""
    del session, patient_ids
    return {}


async def statement_movements(
    session: AsyncSession, *, patient_id: uuid.UUID, until: date
) -> list[Movement]:
    """The patient's payments and refunds taken on or before ``until``.

    Seam: no payments yet; payments answer here."""
    del session, patient_id, until
    return []
