"""Request and response shapes of the patients API (the web forms build the same ones)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from clinicdesk.core.dates import Day
from clinicdesk.core.schemas import SafeText, Strict, safe_text
from clinicdesk.patients.names import clean_name
from clinicdesk.patients.vocabulary import (
    AllergyCategory,
    AllergySeverity,
    ClinicalStatus,
    DocumentCategory,
    HistoryKind,
    MedicationStatus,
    PolicyPriority,
    SexAtBirth,
    SubscriberRelationship,
)

OLDEST_BIRTH_YEAR = 1880


def _name(field: str, *, required: bool) -> Any:
    def check(value: str | None) -> str | None:
        if value is None:
            if required:
                raise ValueError(f"{field} is required")
            return None
        return clean_name(value, field=field, required=required) or None

    return AfterValidator(check)


def _email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


def _birth_date(value: date | None) -> date | None:
    if value is None:
        return None
    if value > date.today():  # noqa: DTZ011 - a calendar date; the server's date is close enough here
        raise ValueError("the date of birth is in the future")
    if value.year < OLDEST_BIRTH_YEAR:
        raise ValueError(f"the date of birth is before {OLDEST_BIRTH_YEAR}; check the year")
    return value


def _past_or_today(value: date | None) -> date | None:
    if value is not None and value > date.today():  # noqa: DTZ011 - as above
        raise ValueError("this date is in the future")
    return value


Email = Annotated[str | None, AfterValidator(_email)]
BirthDate = Annotated[date, AfterValidator(_birth_date)]
PastDate = Annotated[Day | None, AfterValidator(_past_or_today)]
# Phones are checked in the service: what "0301234567" means depends on the clinic's country.
Phone = Annotated[str | None, Field(default=None, max_length=40)]


class Demographics(Strict):
    """Fields shared by registration and update."""

    middle_name: Annotated[str | None, _name("middle name", required=False)] = Field(
        default=None, max_length=200
    )
    preferred_name: Annotated[str | None, _name("preferred name", required=False)] = Field(
        default=None, max_length=200
    )
    sex_at_birth: SexAtBirth = SexAtBirth.UNKNOWN
    gender_identity: SafeText = Field(default=None, max_length=64)
    phone: Phone = None
    phone_alt: Phone = None
    email: Email = Field(default=None, max_length=254)
    address_line1: SafeText = Field(default=None, max_length=200)
    address_line2: SafeText = Field(default=None, max_length=200)
    city: SafeText = Field(default=None, max_length=100)
    region: SafeText = Field(default=None, max_length=100)
    postal_code: SafeText = Field(default=None, max_length=20)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    preferred_language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    # A person's name like the patient's: hidden joiners would hide a different name.
    emergency_contact_name: Annotated[
        str | None, _name("emergency contact name", required=False)
    ] = Field(default=None, max_length=200)
    emergency_contact_relationship: SafeText = Field(default=None, max_length=64)
    emergency_contact_phone: Phone = None
    front_desk_notes: SafeText = Field(default=None, max_length=2000)
    national_id: SafeText = Field(default=None, max_length=64)

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        return value.upper() if value else None


class PatientCreate(Demographics):
    given_name: Annotated[str, _name("given name", required=True)] = Field(max_length=200)
    family_name: Annotated[str, _name("family name", required=True)] = Field(max_length=200)
    birth_date: BirthDate


class PatientUpdate(Demographics):
    """A full replacement of the demographics (PUT semantics, as the form sends them)."""

    given_name: Annotated[str, _name("given name", required=True)] = Field(max_length=200)
    family_name: Annotated[str, _name("family name", required=True)] = Field(max_length=200)
    birth_date: BirthDate
    no_known_allergies: bool = False
    deceased_on: PastDate = None


class PatientSummary(BaseModel):
    """A search result or list row: enough to pick the right person, no identifiers."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mrn: str
    given_name: str
    middle_name: str | None
    family_name: str
    preferred_name: str | None
    birth_date: date
    sex_at_birth: str
    phone: str | None


class SearchHit(PatientSummary):
    score: float
    matched_on: list[str]


class PortalPatientRead(BaseModel):
    """A record as its patient sees it: everything but the front desk's notes."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mrn: str
    given_name: str
    middle_name: str | None
    family_name: str
    preferred_name: str | None
    sex_at_birth: str
    gender_identity: str | None
    birth_date: date
    phone: str | None
    phone_alt: str | None
    email: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    preferred_language: str | None
    emergency_contact_name: str | None
    emergency_contact_relationship: str | None
    emergency_contact_phone: str | None
    national_id_masked: str | None = None
    no_known_allergies: bool
    photo_document_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class PatientRead(PortalPatientRead):
    front_desk_notes: str | None
    restricted: bool = False
    deceased_on: date | None = None


class IdentifierReveal(BaseModel):
    field: str
    value: str | None


class PayerWrite(Strict):
    """A payer as the settings page and ``/api/v1/payers`` send it (full replacement)."""

    name: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=100)
    code: SafeText = Field(default=None, max_length=40)
    phone: SafeText = Field(default=None, max_length=20)
    email: Email = Field(default=None, max_length=254)
    address: SafeText = Field(default=None, max_length=300)
    active: bool = True


class PayerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    code: str | None
    phone: str | None
    email: str | None
    address: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int


class PolicyWrite(Strict):
    """A policy to add, or the full replacement of one. ``member_number`` left out (or
    empty) on a change keeps the one on file: forms show it masked."""

    payer_id: uuid.UUID
    priority: PolicyPriority = PolicyPriority.PRIMARY
    member_number: SafeText = Field(default=None, max_length=64)
    group_number: SafeText = Field(default=None, max_length=64)
    plan_name: SafeText = Field(default=None, max_length=100)
    relationship: SubscriberRelationship = SubscriberRelationship.SELF
    subscriber_name: Annotated[str | None, _name("subscriber name", required=False)] = Field(
        default=None, max_length=200
    )
    valid_from: Day | None = None
    valid_to: Day | None = None
    eligibility_notes: SafeText = Field(default=None, max_length=2000)
    eligibility_checked_on: PastDate = None

    @model_validator(mode="after")
    def _consistent(self) -> PolicyWrite:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("the policy ends (valid to) before it starts (valid from)")
        if self.relationship != SubscriberRelationship.SELF and not self.subscriber_name:
            raise ValueError("name the subscriber when the patient is not the subscriber")
        return self


class PolicyEnd(Strict):
    """Ending a policy: its last valid day (today if not given) and why."""

    ended_on: Day | None = None
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=300)


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    payer_id: uuid.UUID
    payer_name: str
    priority: str
    member_number_masked: str | None
    group_number: str | None
    plan_name: str | None
    relationship: str
    subscriber_name: str | None
    valid_from: date | None
    valid_to: date | None
    eligibility_notes: str | None
    eligibility_checked_on: date | None
    ended_at: datetime | None
    end_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class AllergyWrite(Strict):
    substance: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=200)
    category: AllergyCategory | None = None
    is_intolerance: bool = False
    reaction: SafeText = Field(default=None, max_length=500)
    severity: AllergySeverity | None = None
    status: ClinicalStatus = ClinicalStatus.ACTIVE
    notes: SafeText = Field(default=None, max_length=2000)


class MedicationWrite(Strict):
    name: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=200)
    dose: SafeText = Field(default=None, max_length=100)
    frequency: SafeText = Field(default=None, max_length=100)
    route: SafeText = Field(default=None, max_length=50)
    start_date: date | None = None
    stop_date: date | None = None
    status: MedicationStatus = MedicationStatus.ACTIVE
    notes: SafeText = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _dates_in_order(self) -> MedicationWrite:
        if self.start_date and self.stop_date and self.stop_date < self.start_date:
            raise ValueError("the stop date is before the start date")
        return self


class ProblemWrite(Strict):
    description: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=300)
    icd10_code: str | None = Field(default=None, max_length=10)
    onset_date: PastDate = None
    resolved_date: PastDate = None
    status: ClinicalStatus = ClinicalStatus.ACTIVE
    notes: SafeText = Field(default=None, max_length=2000)


class HistoryWrite(Strict):
    kind: HistoryKind
    description: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=2000)
    relation: SafeText = Field(default=None, max_length=64)
    occurred_on: PastDate = None
    notes: SafeText = Field(default=None, max_length=2000)


class ChartEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    recorded_by_id: uuid.UUID | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class AllergyRead(ChartEntryRead):
    substance: str
    category: str | None
    is_intolerance: bool
    reaction: str | None
    severity: str | None
    status: str


class MedicationRead(ChartEntryRead):
    name: str
    dose: str | None
    frequency: str | None
    route: str | None
    start_date: date | None
    stop_date: date | None
    status: str


class ProblemRead(ChartEntryRead):
    description: str
    icd10_code: str | None
    onset_date: date | None
    resolved_date: date | None
    status: str


class HistoryRead(ChartEntryRead):
    kind: str
    description: str
    relation: str | None
    occurred_on: date | None


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    category: str
    title: str
    original_filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by_id: uuid.UUID | None
    shared_with_patient: bool
    created_at: datetime
    deleted_at: datetime | None
    version: int


class DocumentMeta(Strict):
    title: Annotated[str | None, AfterValidator(safe_text)] = Field(default=None, max_length=200)
    category: DocumentCategory = DocumentCategory.OTHER
    shared_with_patient: bool = False


class DocumentDelete(Strict):
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=3, max_length=300)


class MatchReasonRead(BaseModel):
    code: str
    label: str


class DuplicateCandidate(BaseModel):
    patient: PatientSummary
    score: float
    likely: bool
    reasons: list[MatchReasonRead]


class MergeRequest(Strict):
    """Merge ``duplicate_id`` into the patient of the URL, which is kept."""

    duplicate_id: uuid.UUID
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=3, max_length=300)
    take_from_duplicate: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list,
        max_length=20,
        description="Fields (``name``, ``address``, ``phone`` ...) for which the duplicate's "
        "value replaces the kept record's.",
    )


class MergeResult(BaseModel):
    kept: PatientRead
    merged_id: uuid.UUID
    moved: dict[str, int]


class PortalInvite(Strict):
    email: Email = Field(default=None, max_length=254)


class PatientPage(BaseModel):
    items: list[PatientSummary]
    next_cursor: str | None


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


# --- answers of the API that are not records ----------------------------------------


class ChartChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    occurred_at: datetime
    action: str
    who: str
    roles: list[str]
    # Field -> before and after, and the action's own details (their shape varies).
    changes: dict[str, Any] | None
    details: dict[str, Any] | None


class ChartChangesPage(BaseModel):
    items: list[ChartChange]
    next_cursor: str | None


class PortalInvitationSent(BaseModel):
    user_id: uuid.UUID
    email: str


class Icd10Code(BaseModel):
    code: str
    title: str


class PortalRecord(BaseModel):
    patient: PortalPatientRead
    allergies: list[AllergyRead]
    medications: list[MedicationRead]
    documents: list[DocumentRead]


class RecordViewer(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    occurred_at: datetime
    who: str
    roles: list[str]
    action: str


class RecordViewersPage(BaseModel):
    items: list[RecordViewer]
    next_cursor: str | None


class RestrictionWrite(BaseModel):
    restricted: bool


class EmergencyAccessRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class EmergencyAccessGrant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    user_id: uuid.UUID
    reason: str
    created_at: datetime
    expires_at: datetime | None


class EmergencyAccessUse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    expires_at: datetime | None
    user_id: uuid.UUID
    user_name: str
    patient_id: uuid.UUID
    patient_mrn: str
    patient_name: str
    reason: str


class EmergencyAccessPage(BaseModel):
    items: list[EmergencyAccessUse]
    next_cursor: str | None
