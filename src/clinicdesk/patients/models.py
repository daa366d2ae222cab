"""Tables of the patients domain: the patient record, the chart lists, documents."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.crypto import EncryptedText
from clinicdesk.core.models import Base, Entity, IdMixin
from clinicdesk.core.tenancy import TenantScoped
from clinicdesk.patients.vocabulary import (
    ClinicalStatus,
    DocumentCategory,
    MedicationStatus,
    PolicyPriority,
    SexAtBirth,
    SubscriberRelationship,
)


def _present(name: str, column: str) -> Index:
    """An index of the rows where ``column`` is filled in. Optional fields are empty for
    many patients; a partial index stays small and the planner never mistakes the
    NULLs for a match worth scanning."""
    condition = text(f"{column} IS NOT NULL")
    return Index(
        name, "organization_id", column, sqlite_where=condition, postgresql_where=condition
    )


def full_name_of(given_name: str, middle_name: str | None, family_name: str) -> str:
    """Given, middle and family name, as every list and document shows them."""
    return " ".join(p for p in (given_name, middle_name, family_name) if p)


class Patient(Base, Entity, TenantScoped):
    """A person the clinic cares for.

    ``search_name`` is derived (transliterated, case-folded given/middle/family/preferred
    names) and indexed for search; ``patient_name_terms`` holds its per-token keys.
    A merged record keeps its row with ``merged_into_id`` set, so old links still resolve.
    """

    __tablename__ = "patients"

    mrn: Mapped[str] = mapped_column(String(20))
    given_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100), default=None)
    family_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100), default=None)
    sex_at_birth: Mapped[str] = mapped_column(String(16), default=SexAtBirth.UNKNOWN)
    gender_identity: Mapped[str | None] = mapped_column(String(64), default=None)
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    phone_alt: Mapped[str | None] = mapped_column(String(20), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address_line1: Mapped[str | None] = mapped_column(String(200), default=None)
    address_line2: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    region: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    preferred_language: Mapped[str | None] = mapped_column(String(35), default=None)
    emergency_contact_name: Mapped[str | None] = mapped_column(String(200), default=None)
    emergency_contact_relationship: Mapped[str | None] = mapped_column(String(64), default=None)
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    front_desk_notes: Mapped[str | None] = mapped_column(Text, default=None)
    photo_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_documents.id", ondelete="SET NULL", use_alter=True), default=None
    )
    # Encrypted identifiers, each with a keyed hash for exact look-up (core/crypto.py).
    national_id: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    national_id_hash: Mapped[str | None] = mapped_column(
        String(80), default=None, info={"audit": "derived", "lookup_hash_of": "national_id"}
    )
    no_known_allergies: Mapped[bool] = mapped_column(Boolean, default=False)
    search_name: Mapped[str] = mapped_column(String(500), default="", info={"audit": "derived"})
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), default=None
    )
    merged_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the clinic learns of the patient's death: nobody sends them messages.
    deceased_on: Mapped[date | None] = mapped_column(Date, default=None)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """A restricted record (a staff member's, a public figure's, a sensitive case) opens
    only to its care team, or to a clinician who breaks the glass (``AccessGrant``)."""

    __table_args__ = (
        UniqueConstraint("organization_id", "mrn"),
        Index("ix_patients_org_birth_date", "organization_id", "birth_date"),
        _present("ix_patients_org_phone", "phone"),
        _present("ix_patients_org_phone_alt", "phone_alt"),
        _present("ix_patients_org_national_id_hash", "national_id_hash"),
        _present("ix_patients_org_email", "email"),
        Index("ix_patients_merged_into_id", "merged_into_id"),
    )

    @property
    def display_name(self) -> str:
        given = self.preferred_name or self.given_name
        return f"{given} {self.family_name}"

    @property
    def full_name(self) -> str:
        return full_name_of(self.given_name, self.middle_name, self.family_name)

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class PatientNameTerm(Base, IdMixin, TenantScoped):
    """One name token of a patient, with the keys that make search typo-tolerant.

    * ``token``: the transliterated, case-folded token; a btree range scan on it answers
      prefix queries as the user types ("smi" -> smith).
    * ``phonetic``: what it sounds like ("jon" and "john", "mohammed" and "muhammad").
    * ``letters``: its letters sorted, so a swapped pair of letters ("smtih") still
      meets "smith".
    Names are tokenised order-free, so swapped given/family names are found too.
    """

    __tablename__ = "patient_name_terms"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(100))
    phonetic: Mapped[str] = mapped_column(String(100))
    letters: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_patient_name_terms_patient_id", "patient_id"),
        Index("ix_patient_name_terms_org_token", "organization_id", "token"),
        Index("ix_patient_name_terms_org_phonetic", "organization_id", "phonetic"),
        Index("ix_patient_name_terms_org_letters", "organization_id", "letters"),
    )


class ChartRecord(Entity, TenantScoped):
    """Columns every chart list shares: whose chart, who recorded it."""

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    notes: Mapped[str | None] = mapped_column(Text, default=None)


class Allergy(Base, ChartRecord):
    """An allergy or intolerance (FHIR AllergyIntolerance)."""

    __tablename__ = "patient_allergies"

    substance: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(16), default=None)
    is_intolerance: Mapped[bool] = mapped_column(Boolean, default=False)
    reaction: Mapped[str | None] = mapped_column(String(500), default=None)
    severity: Mapped[str | None] = mapped_column(String(16), default=None)
    status: Mapped[str] = mapped_column(String(16), default=ClinicalStatus.ACTIVE)


class Medication(Base, ChartRecord):
    """A current or past medication (FHIR MedicationStatement)."""

    __tablename__ = "patient_medications"

    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str | None] = mapped_column(String(100), default=None)
    frequency: Mapped[str | None] = mapped_column(String(100), default=None)
    route: Mapped[str | None] = mapped_column(String(50), default=None)
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    stop_date: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(16), default=MedicationStatus.ACTIVE)


class Problem(Base, ChartRecord):
    """A problem or condition (FHIR Condition), optionally coded in ICD-10-CM."""

    __tablename__ = "patient_problems"

    description: Mapped[str] = mapped_column(String(300))
    icd10_code: Mapped[str | None] = mapped_column(String(10), default=None)
    onset_date: Mapped[date | None] = mapped_column(Date, default=None)
    resolved_date: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(16), default=ClinicalStatus.ACTIVE)


class HistoryEntry(Base, ChartRecord):
    """One line of medical, surgical, family or social history."""

    __tablename__ = "patient_history"

    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    # Family history: whose ("mother", "brother"...). Other kinds leave it empty.
    relation: Mapped[str | None] = mapped_column(String(64), default=None)
    occurred_on: Mapped[date | None] = mapped_column(Date, default=None)


class Document(Base, Entity, TenantScoped):
    """An uploaded file of a patient. The bytes live in document storage under a
    server-generated key; the file name the user gave is kept only as a label."""

    __tablename__ = "patient_documents"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[str] = mapped_column(String(32), default=DocumentCategory.OTHER)
    title: Mapped[str] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(128))
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    shared_with_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    delete_reason: Mapped[str | None] = mapped_column(String(300), default=None)


class Payer(Base, Entity, TenantScoped):
    """An insurer or other third party that pays for care, as this clinic knows it. A payer
    is never deleted (policies and claims point at it); one no longer used is made
    inactive and leaves the pick lists."""

    __tablename__ = "payers"

    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    """The payer's identifier for claims (a national payer id, an insurer code)."""
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("organization_id", "name"),)


class InsurancePolicy(Base, Entity, TenantScoped):
    """One insurance policy of a patient (FHIR Coverage).

    Never deleted: ending a policy sets ``ended_at`` (and closes ``valid_to``), so past
    claims keep the policy they were made under. Among a patient's policies that are not
    ended, two of the same ``priority`` never have overlapping validity
    (``service/insurance.py`` holds the rule). The member number is encrypted, with a
    keyed hash so the search box finds the patient by it.
    """

    __tablename__ = "insurance_policies"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    payer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payers.id", ondelete="RESTRICT"))
    priority: Mapped[str] = mapped_column(String(16), default=PolicyPriority.PRIMARY)
    member_number: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    member_number_hash: Mapped[str | None] = mapped_column(
        String(80), default=None, info={"audit": "derived", "lookup_hash_of": "member_number"}
    )
    group_number: Mapped[str | None] = mapped_column(String(64), default=None)
    plan_name: Mapped[str | None] = mapped_column(String(100), default=None)
    relationship: Mapped[str] = mapped_column(String(16), default=SubscriberRelationship.SELF)
    subscriber_name: Mapped[str | None] = mapped_column(String(200), default=None)
    valid_from: Mapped[date | None] = mapped_column(Date, default=None)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)
    eligibility_notes: Mapped[str | None] = mapped_column(Text, default=None)
    eligibility_checked_on: Mapped[date | None] = mapped_column(Date, default=None)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    end_reason: Mapped[str | None] = mapped_column(String(300), default=None)

    __table_args__ = (
        Index("ix_insurance_policies_patient_id", "patient_id"),
        Index("ix_insurance_policies_payer_id", "payer_id"),
        _present("ix_insurance_policies_org_member_hash", "member_number_hash"),
    )

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None


class AccessGrant(Base, IdMixin, TenantScoped):
    """Who may open a restricted record: its care team (no end), or a clinician who broke
    the glass in an emergency (until ``expires_at``, with the reason they gave)."""

    __tablename__ = "patient_access_grants"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # vocabulary.GrantKind
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_patient_access_grants_user_patient", "user_id", "patient_id"),
        Index("ix_patient_access_grants_org_kind_created", "organization_id", "kind", "created_at"),
    )


# Byte order on PostgreSQL whatever the database's locale: code prefix ranges end at
# "\x7f" (``icd10.AFTER_CODE_CHARS``), which a linguistic collation would ignore.
_CODE_ORDER = String(8).with_variant(String(8, collation="C"), "postgresql")


class Icd10Entry(Base):
    """One ICD-10-CM code (``patients/icd10.py``): reference data shared by every
    organization, filled after the migrations (``patients/reference.py``) and never written
    by the application.

    Searched by ``compact`` prefix ranges (codes) and by word prefixes of
    ``search_words``: SQLite through the FTS5 table ``icd10_search`` (rowid =
    ``position``), PostgreSQL through a trigram index (both made by the migration, which
    the models cannot describe for both databases)."""

    __tablename__ = "icd10_codes"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    compact: Mapped[str] = mapped_column(_CODE_ORDER, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    search_words: Mapped[str] = mapped_column(String(320))
    word_count: Mapped[int] = mapped_column(Integer)
    billable: Mapped[bool] = mapped_column(Boolean)
