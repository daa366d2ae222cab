"""Response shapes of outstanding balances: the aging report and a patient's statement.
Money is an integer of the currency's minor unit; every answer names its currency."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class AgingSort(StrEnum):
    OVERDUE = "overdue"
    """Most overdue first: the most over 90 days, then 61-90, then 31-60, then the
    balance."""
    BALANCE = "balance"
    """Largest balance first."""
    OLDEST = "oldest"
    """Oldest unpaid invoice first."""


class BucketsRead(BaseModel):
    """Amounts due by days since the issue date (bounds inclusive): 0-30, 31-60, 61-90,
    and over 90 (91 days or more)."""

    days_0_30: int
    days_31_60: int
    days_61_90: int
    over_90: int
    total: int


class AgingRow(BaseModel):
    patient_id: uuid.UUID
    patient_name: str | None
    mrn: str | None
    invoices: int = Field(description="Invoices with something due.")
    oldest_issue_date: date
    balance: int
    buckets: BucketsRead
    credit: int = Field(description="Payments not allocated to any invoice (not in balance).")


class AgingReportRead(BaseModel):
    as_of: date
    currency: str
    location_id: uuid.UUID | None
    min_balance: int
    sort: AgingSort
    patients: int = Field(description="Patients over the filters, on every page.")
    invoices: int
    totals: BucketsRead
    items: list[AgingRow]
    next_cursor: str | None


class StatementLineRead(BaseModel):
    date: date
    kind: Literal["invoice", "credit_note", "payment", "refund"]
    reference_id: uuid.UUID
    number: str
    description: str
    charge: int
    credit: int
    balance: int = Field(description="The running balance after this line.")


class StatementRead(BaseModel):
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    currency: str
    date_from: date | None
    as_of: date
    opening_balance: int
    charges: int
    credits: int
    closing_balance: int
    lines: list[StatementLineRead]
    aging: BucketsRead
    credit: int = Field(description="Payments not allocated to any invoice.")
