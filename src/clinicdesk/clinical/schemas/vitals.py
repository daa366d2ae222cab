"""Request and response shapes of vital signs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from clinicdesk.core.schemas import SafeText, Strict

UnitSystemName = Literal["metric", "imperial"]
Measured = Annotated[Decimal | None, Field(max_digits=12, allow_inf_nan=False)]


class VitalsRecord(Strict):
    """A set of vital signs measured together; any of them may be left out (at least one
    is given). Lengths, weight and temperature are in ``units`` (cm, kg, °C or in, lb,
    °F); the others have one unit. BMI is computed from the height and weight."""

    units: UnitSystemName | None = Field(
        default=None, description="The units typed; empty: the organization's setting."
    )
    effective_at: AwareDatetime | None = Field(
        default=None, description="When they were measured; empty: now."
    )
    height: Measured = Field(default=None, description="cm, or in")
    weight: Measured = Field(default=None, description="kg, or lb")
    temperature: Measured = Field(default=None, description="°C, or °F")
    heart_rate: Measured = Field(default=None, description="beats /min")
    respiratory_rate: Measured = Field(default=None, description="breaths /min")
    systolic: Measured = Field(default=None, description="mmHg (with the diastolic)")
    diastolic: Measured = Field(default=None, description="mmHg (with the systolic)")
    spo2: Measured = Field(default=None, description="%")
    pain: Measured = Field(default=None, description="0-10")
    head_circumference: Measured = Field(default=None, description="cm, or in (infants)")

    def typed(self) -> dict[str, Decimal]:
        """The measurements given, by kind."""
        skip = {"units", "effective_at"}
        return {
            key: value for key, value in self.model_dump(exclude=skip).items() if value is not None
        }


class EnteredInError(Strict):
    reason: SafeText = Field(min_length=3, max_length=300)


class ObservationRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    set_id: uuid.UUID
    code: str = Field(description="LOINC code")
    kind: str = Field(description="The kind's name in VitalsRecord (height, systolic...).")
    value: Decimal = Field(description="In ``unit`` (UCUM), to the places its kind is stored with.")
    unit: str
    shown: str = Field(description="The value as read in the organization's unit system.")
    interpretation: Literal["N", "L", "H"] | None = Field(
        description="Normal, low or high for the patient's age; empty where no range applies."
    )
    effective_at: datetime
    status: Literal["final", "entered-in-error"]
    error_reason: str | None
    recorded_by_id: uuid.UUID | None
    version: int


class VitalsSetRead(BaseModel):
    set_id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    effective_at: datetime
    observations: list[ObservationRead]


class ObservationList(BaseModel):
    items: list[ObservationRead]
    next_cursor: str | None


class ClinicalSettingsWrite(Strict):
    unit_system: UnitSystemName = "metric"
