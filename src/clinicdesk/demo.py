"""The demo clinic that ``clinicdesk demo`` creates: realistic enough to click through.
Each later module adds its part (patients, schedules, queues, invoices ...).

The patients are planned in ``demo_patients``; here they are written through the
patients services, with small generated PDFs and PNGs as their documents."""

from __future__ import annotations

import asyncio
import secrets
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from anyascii import anyascii
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.config import MIB, Settings
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.filetypes import HEAD_BYTES
from clinicdesk.core.storage import DocumentStorage, storage_from_settings
from clinicdesk.demo_patients import (
    DEMO_PATIENT_COUNT,
    PlannedDocument,
    PlannedPatient,
    plan_patients,
)
from clinicdesk.demo_queue import DemoQueue, seed_demo_queue
from clinicdesk.demo_schedule import HILLVIEW, MAIN, DemoSchedule, seed_demo_schedule
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients import icd10
from clinicdesk.patients.models import Patient
from clinicdesk.patients.schemas import DocumentMeta, PatientUpdate
from clinicdesk.patients.service import chart, documents, records
from clinicdesk.patients.service.documents import Upload
from clinicdesk.patients.vocabulary import DocumentCategory

DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("admin@example.com", "Alex Admin", Role.ADMIN),
    ("doctor@example.com", "Dr. Dana Reyes", Role.DOCTOR),
    ("nurse@example.com", "Nico Nurse", Role.NURSE),
    ("reception@example.com", "Rita Reception", Role.RECEPTIONIST),
    ("billing@example.com", "Bill Ingram", Role.BILLING),
)
MAX_DOCUMENT_BYTES = MIB


@dataclass(frozen=True, slots=True)
class DemoPatients:
    registered: int
    allergies: int
    medications: int
    problems: int
    history: int
    no_known_allergies: int
    documents: tuple[uuid.UUID, ...]
    near_duplicates: tuple[tuple[uuid.UUID, uuid.UUID], ...]  # (first, second) registration


@dataclass(frozen=True, slots=True)
class DemoClinic:
    organization_name: str
    password: str
    logins: tuple[tuple[str, str], ...]
    patients: DemoPatients
    schedule: DemoSchedule
    queue: DemoQueue


def demo_password() -> str:
    """A generated password that passes the policy and is easy to type from a terminal."""
    words = ["maple", "harbor", "violet", "canyon", "ember", "willow", "quartz", "meadow"]
    return "-".join(secrets.choice(words) for _ in range(3)) + f"-{secrets.randbelow(90) + 10}"


async def seed_demo_clinic(
    session: AsyncSession,
    *,
    password: str,
    storage: DocumentStorage | None = None,
    patient_count: int = DEMO_PATIENT_COUNT,
) -> DemoClinic:
    """One organization (admins without mandatory MFA, so scripts can sign in), two
    locations, one user per role, all with ``password``, and ``patient_count`` patients
    (see ``demo_patients``) with a month of past and two weeks of coming appointments
    (``demo_schedule``). Documents go to ``storage``; by default the one the
    environment's settings choose (the CLI has pointed them at the demo directory)."""
    codes_ready = load_codes_in_background()  # alongside the password hashing below
    organization = await organizations.create_organization(
        session,
        name="Riverside Family Clinic",
        time_zone="America/New_York",
        locale="en-US",
        currency="USD",
        mfa_required_for_admins=False,
    )
    locations: dict[str, uuid.UUID] = {}
    for key, name, address, phone, rooms in (
        (
            MAIN,
            "Riverside Main",
            "12 River Street, Brooklyn, NY 11201",
            "+1 718 555 0101",
            ["Room 1", "Room 2", "Room 3", "Nurse room"],
        ),
        (
            HILLVIEW,
            "Hillview Branch",
            "4 Hill Road, Queens, NY 11375",
            "+1 718 555 0102",
            ["Room A", "Room B"],
        ),
    ):
        location = await organizations.create_location(
            session,
            actor=SYSTEM,
            data=LocationWrite(name=name, address=address, phone=phone, rooms=rooms),
        )
        locations[key] = location.id
    actors: dict[Role, Actor] = {}
    for email, full_name, role in DEMO_USERS:
        user = await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=organization.id,
            email=email,
            full_name=full_name,
            roles=[role],
            password=password,
            email_verified=True,
        )
        actors[role] = actor_for(user)
    patients = await seed_demo_patients(
        session,
        front_desk=actors[Role.RECEPTIONIST],
        clinician=actors[Role.DOCTOR],
        storage=storage or storage_from_settings(Settings()),
        count=patient_count,
        codes_ready=codes_ready,
    )
    schedule = await seed_demo_schedule(
        session,
        admin=actors[Role.ADMIN],
        front_desk=actors[Role.RECEPTIONIST],
        doctor=actors[Role.DOCTOR],
        nurse=actors[Role.NURSE],
        locations=locations,
        zone=ZoneInfo(organization.time_zone),
    )
    queue = await seed_demo_queue(
        session,
        front_desk=actors[Role.RECEPTIONIST],
        doctor=actors[Role.DOCTOR],
        nurse=actors[Role.NURSE],
        provider_ids=(schedule.providers[0], schedule.providers[1]),
        main_location=locations[MAIN],
        zone=ZoneInfo(organization.time_zone),
    )
    return DemoClinic(
        organization_name=organization.name,
        password=password,
        logins=tuple((email, role.value) for email, _name, role in DEMO_USERS),
        patients=patients,
        schedule=schedule,
        queue=queue,
    )


# --- patients ---------------------------------------------------------------------------


def load_codes_in_background() -> asyncio.Task[object]:
    """Build the ICD-10-CM index in a worker thread. Problems are checked against it, and
    its first use takes seconds (a child process reads the classification) during which
    the event loop would stand still; built here, it overlaps the registrations."""
    return asyncio.create_task(asyncio.to_thread(icd10.lookup, "I10"))


async def _fill_chart(
    session: AsyncSession, *, clinician: Actor, patient: Patient, planned: PlannedPatient
) -> None:
    if planned.no_known_allergies:
        await records.update_patient(
            session,
            actor=clinician,
            patient_id=patient.id,
            data=PatientUpdate(**planned.data.model_dump(), no_known_allergies=True),
            expected_version=None,
        )
    entries = (
        ("allergies", planned.allergies),
        ("problems", planned.problems),
        ("medications", planned.medications),
        ("history", planned.history),
    )
    for kind, items in entries:
        for item in items:
            await chart.add_entry(
                session, actor=clinician, patient_id=patient.id, kind=kind, data=item
            )


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def seed_demo_patients(
    session: AsyncSession,
    *,
    front_desk: Actor,
    clinician: Actor,
    storage: DocumentStorage,
    count: int = DEMO_PATIENT_COUNT,
    codes_ready: asyncio.Task[object] | None = None,
) -> DemoPatients:
    """Register the planned patients in the session's organization (the front desk), then
    fill in their charts and documents (the clinician; the front desk scans the cards).
    ``codes_ready``: from ``load_codes_in_background``, if the caller started it earlier."""
    codes_ready = codes_ready or load_codes_in_background()
    try:
        plan = plan_patients(count)
        patients = [
            await records.register_patient(session, actor=front_desk, data=planned.data)
            for planned in plan
        ]
        await codes_ready
    finally:
        codes_ready.cancel()  # only matters when a registration failed
    document_ids: list[uuid.UUID] = []
    for planned, patient in zip(plan, patients, strict=True):
        await _fill_chart(session, clinician=clinician, patient=patient, planned=planned)
        for document in planned.documents:
            content = document_content(document, patient)
            demographic = document.category in documents.DEMOGRAPHIC_CATEGORIES
            stored = await documents.upload_document(
                session,
                actor=front_desk if demographic else clinician,
                storage=storage,
                patient_id=patient.id,
                upload=Upload(document.filename, content[:HEAD_BYTES], _once(content)),
                meta=DocumentMeta(title=document.title, category=document.category),
                max_bytes=MAX_DOCUMENT_BYTES,
                allowed_categories=documents.categories_for(clinical=not demographic),
            )
            document_ids.append(stored.id)
    return DemoPatients(
        registered=len(patients),
        allergies=sum(len(p.allergies) for p in plan),
        medications=sum(len(p.medications) for p in plan),
        problems=sum(len(p.problems) for p in plan),
        history=sum(len(p.history) for p in plan),
        no_known_allergies=sum(p.no_known_allergies for p in plan),
        documents=tuple(document_ids),
        near_duplicates=tuple(
            (patients[p.duplicate_of].id, patients[index].id)
            for index, p in enumerate(plan)
            if p.duplicate_of is not None
        ),
    )


# --- files ----------------------------------------------------------------------------


def pdf_document(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with a bold title and lines of text (Helvetica, no embedded fonts)."""

    def text(value: str) -> bytes:
        try:
            encoded = value.encode("cp1252")  # what WinAnsiEncoding shows: é, ü, ñ ...
        except UnicodeEncodeError:
            encoded = anyascii(value).encode("cp1252", "replace")
        return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    stream = b"BT /F1 16 Tf 72 740 Td (" + text(title) + b") Tj /F2 11 Tf 16 TL 0 -10 Td"
    for line in lines:
        stream += b" T* (" + text(line) + b") Tj"
    stream += b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R"
        b" /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + text(title) + b") /Producer (ClinicDesk demo) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


Pixel = Callable[[int, int], tuple[int, int, int]]


def png_image(width: int, height: int, pixel: Pixel) -> bytes:
    """An 8-bit RGB PNG: signature, IHDR, one zlib IDAT, IEND, each with its CRC."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _silhouette(x: int, y: int) -> tuple[int, int, int]:
    """A 64x64 placeholder portrait: a head and shoulders on a pale blue background."""
    head = (x - 32) ** 2 + (y - 24) ** 2 <= 12**2
    shoulders = y >= 44 and (x - 32) ** 2 / 26**2 + (y - 64) ** 2 / 20**2 <= 1
    return (96, 110, 130) if head or shoulders else (214, 228, 240)


def _insurance_card(x: int, y: int) -> tuple[int, int, int]:
    """An 86x54 card: a blue band with the payer's 'logo', grey bars for the printed text."""
    if y < 14:
        return (255, 255, 255) if 6 <= x <= 14 and 4 <= y <= 10 else (30, 80, 160)
    if y in (22, 23, 30, 31, 38, 39) and 6 <= x <= (60 if y < 30 else 44):
        return (120, 120, 120)
    return (250, 250, 247)


# The text of the scanned reports the plan names (``demo_patients.REPORTS``).
REPORT_LINES: dict[str, tuple[str, ...]] = {
    "Lipid panel": (
        "Total cholesterol 212 mg/dL (desirable < 200)",
        "LDL cholesterol 138 mg/dL (optimal < 100)",
        "HDL cholesterol 46 mg/dL (> 40)",
        "Triglycerides 141 mg/dL (< 150)",
    ),
    "Hemoglobin A1c": (
        "Hemoglobin A1c 7.2 % (target < 7.0 %)",
        "Fasting glucose 134 mg/dL (70-99)",
    ),
    "Referral to cardiology": (
        "Reason: palpitations, intermittent, for 3 months.",
        "ECG in clinic: sinus rhythm, rate 78.",
        "Please assess for paroxysmal atrial fibrillation.",
    ),
    "Chest X-ray report": (
        "PA and lateral views.",
        "Lungs clear. Heart size normal. No effusion.",
        "Impression: no acute cardiopulmonary process.",
    ),
    "Consent to treatment": (
        "I consent to examination and treatment by Riverside Family Clinic.",
        "Signed at the front desk.",
    ),
}


def document_content(document: PlannedDocument, patient: Patient) -> bytes:
    if document.category == DocumentCategory.PHOTO:
        return png_image(64, 64, _silhouette)
    if document.category == DocumentCategory.INSURANCE_CARD:
        return png_image(86, 54, _insurance_card)
    header = [
        "Riverside Family Clinic",
        f"Patient: {patient.given_name} {patient.family_name}   MRN {patient.mrn}"
        f"   DOB {patient.birth_date.isoformat()}",
        "",
    ]
    footer = ["", "Demo document: fictional patient, not a medical record."]
    return pdf_document(document.title, [*header, *REPORT_LINES[document.title], *footer])
