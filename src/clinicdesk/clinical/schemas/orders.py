"""Request and response shapes of the test catalogue, orders and results."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from clinicdesk.clinical.kernel.order_flow import OrderKind, OrderPriority, OrderStatus
from clinicdesk.clinical.kernel.result_flags import Flag, Limits
from clinicdesk.core.schemas import SafeText, Strict

# What the result columns hold exactly (Numeric(18, 6)): at most 12 digits before the
# point and 6 after. A value beyond is a typing slip, refused with the limits.
LabDecimal = Annotated[
    Decimal,
    Field(
        max_digits=18,
        decimal_places=6,
        gt=Decimal("-1000000000000"),
        lt=Decimal("1000000000000"),
        allow_inf_nan=False,
    ),
]


def _limits_problems(
    low: Decimal | None,
    high: Decimal | None,
    critical_low: Decimal | None = None,
    critical_high: Decimal | None = None,
) -> None:
    problems = Limits(low, high, critical_low, critical_high).problems()
    if problems:
        raise ValueError(" ".join(problems))


# --- the catalogue ----------------------------------------------------------------------


class RangeBandWrite(Strict):
    """One reference range of a test: for one sex at birth or everybody, for an age band
    in whole years (``age_from`` inclusive, ``age_to`` exclusive) or every age."""

    sex: Literal["female", "male"] | None = None
    age_from: int | None = Field(default=None, ge=0, le=150)
    age_to: int | None = Field(default=None, ge=1, le=151)
    low: LabDecimal | None = None
    high: LabDecimal | None = None
    critical_low: LabDecimal | None = None
    critical_high: LabDecimal | None = None

    @model_validator(mode="after")
    def _sound(self) -> RangeBandWrite:
        if self.age_from is not None and self.age_to is not None and self.age_from >= self.age_to:
            raise ValueError("The age band must end after it starts (years, end excluded).")
        if all(v is None for v in (self.low, self.high, self.critical_low, self.critical_high)):
            raise ValueError("A range needs at least a low or a high limit.")
        _limits_problems(self.low, self.high, self.critical_low, self.critical_high)
        return self


class CatalogueItemWrite(Strict):
    name: SafeText = Field(min_length=1, max_length=120)
    kind: OrderKind = OrderKind.LAB
    code: SafeText = Field(
        default=None,
        max_length=40,
        description="A LOINC code, or the laboratory's own code for the test.",
    )
    default_unit: SafeText = Field(default=None, max_length=40)
    ranges: list[RangeBandWrite] = Field(default_factory=list, max_length=12)
    reference_text: SafeText = Field(
        default=None, max_length=200, description='A range in words ("negative").'
    )
    notes: SafeText = Field(default=None, max_length=1000)
    is_active: bool = True


class RangeBandRead(BaseModel):
    sex: str | None = None
    age_from: int | None = None
    age_to: int | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None


class CatalogueItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: OrderKind
    code: str | None
    default_unit: str | None
    ranges: list[RangeBandRead]
    reference_text: str | None
    notes: str | None
    is_active: bool
    version: int


# --- orders -----------------------------------------------------------------------------


class OrderPlace(Strict):
    """A test from the catalogue (``catalogue_item_id``), or typed as free text
    (``name`` and ``kind``)."""

    catalogue_item_id: uuid.UUID | None = None
    name: SafeText = Field(default=None, max_length=200)
    kind: OrderKind | None = None
    code: SafeText = Field(default=None, max_length=40)
    priority: OrderPriority = OrderPriority.ROUTINE
    clinical_note: SafeText = Field(
        default=None, max_length=1000, description="What the laboratory should know."
    )

    @model_validator(mode="after")
    def _a_test(self) -> OrderPlace:
        if self.catalogue_item_id is None and not self.name:
            raise ValueError("Pick a test from the catalogue or type its name.")
        return self


class OrderCancel(Strict):
    reason: SafeText = Field(min_length=3, max_length=300)


class ResultEntry(Strict):
    """One analyte: a number (``value_numeric``) or words (``value_text``), not both.
    Without a reference range, the catalogue's range for the patient's sex and age is
    used when the analyte is the ordered test. ``abnormal`` marks a text result."""

    analyte: SafeText = Field(default=None, max_length=120)
    code: SafeText = Field(default=None, max_length=40)
    value_numeric: LabDecimal | None = None
    value_text: SafeText = Field(default=None, max_length=4000)
    unit: SafeText = Field(default=None, max_length=40)
    reference_low: LabDecimal | None = None
    reference_high: LabDecimal | None = None
    reference_text: SafeText = Field(default=None, max_length=200)
    abnormal: bool = False

    @model_validator(mode="after")
    def _one_value(self) -> ResultEntry:
        if (self.value_numeric is None) == (self.value_text is None):
            raise ValueError("Give the result as a number or as text (one of them).")
        _limits_problems(self.reference_low, self.reference_high)
        return self


class ResultsEntry(Strict):
    results: list[ResultEntry] = Field(min_length=1, max_length=50)
    resulted_at: AwareDatetime | None = Field(
        default=None, description="When the laboratory reported; now if left out."
    )


class ResultReview(Strict):
    comment: SafeText = Field(default=None, max_length=500)


class ResultRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID
    analyte: str
    code: str | None
    value_numeric: Decimal | None
    value_text: str | None
    unit: str | None
    reference_low: Decimal | None
    reference_high: Decimal | None
    reference_text: str | None
    flag: Flag | None = Field(
        description="L low, H high, LL critically low, HH critically high, A abnormal; "
        "empty when within range or when there is no range."
    )
    resulted_at: datetime
    entered_by_id: uuid.UUID | None
    reviewed_at: datetime | None
    reviewed_by_id: uuid.UUID | None
    review_comment: str | None
    version: int


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    kind: OrderKind
    catalogue_item_id: uuid.UUID | None
    name: str
    code: str | None
    priority: OrderPriority
    clinical_note: str | None
    status: OrderStatus
    ordered_by_id: uuid.UUID | None
    ordered_at: datetime
    collected_at: datetime | None
    resulted_at: datetime | None
    reviewed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    version: int


class OrderDetail(OrderRead):
    results: list[ResultRead] = Field(default_factory=list)


class OrderList(BaseModel):
    items: list[OrderDetail]


class InboxItem(BaseModel):
    result: ResultRead
    order_name: str
    patient_id: uuid.UUID
    patient_name: str


class Inbox(BaseModel):
    items: list[InboxItem]


class ResultSeries(BaseModel):
    items: list[ResultRead]
