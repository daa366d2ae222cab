"""The demo clinic: the same believable patients every run, written through the patients
services (on SQLite and PostgreSQL), with near-duplicates the duplicate finder shows and
documents that download."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.filetypes import PDF, PNG, sniff_document_type
from clinicdesk.core.storage import LocalDirectoryStorage
from clinicdesk.demo import REPORT_LINES, pdf_document, png_image, seed_demo_clinic
from clinicdesk.demo_patients import (
    CONDITIONS,
    DEMO_PATIENT_COUNT,
    NEAR_DUPLICATES,
    REPORTS,
    PlannedPatient,
    plan_patients,
)
from clinicdesk.identity.models import User
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients import icd10
from clinicdesk.patients.models import Allergy, Document, HistoryEntry, Medication, Patient, Problem
from clinicdesk.patients.phones import normalize_phone
from clinicdesk.patients.service import documents
from clinicdesk.patients.service.duplicates import facts_of_patient, find_duplicates
from clinicdesk.patients.service.records import is_valid_mrn

DEMO_PASSWORD = "maple-harbor-violet-42"


@pytest.fixture(scope="module")
def plan() -> list[PlannedPatient]:
    return plan_patients()


def test_the_plan_is_the_same_every_time(plan: list[PlannedPatient]) -> None:
    assert plan_patients() == plan
    assert plan_patients(seed=1) != plan


def test_the_patients_look_like_a_family_practice(plan: list[PlannedPatient]) -> None:
    people = [p.data for p in plan]
    assert len(plan) == DEMO_PATIENT_COUNT

    def fraction(flags: list[bool]) -> float:
        return sum(flags) / len(flags)

    # Aimed at 30 % with allergies, 40 % with problems and 40 % with medications.
    assert 0.22 <= fraction([bool(p.allergies) for p in plan]) <= 0.38
    assert 0.30 <= fraction([bool(p.problems) for p in plan]) <= 0.50
    assert 0.30 <= fraction([bool(p.medications) for p in plan]) <= 0.50
    assert 5 <= sum(p.no_known_allergies for p in plan) <= 40
    assert not any(p.no_known_allergies and p.allergies for p in plan)
    assert 0.4 <= fraction([p.national_id is not None for p in people]) <= 0.6
    assert 0.4 <= fraction([p.insurance_payer is not None for p in people]) <= 0.6
    assert fraction([p.email is not None for p in people]) >= 0.6
    assert fraction([p.emergency_contact_name is not None for p in people]) >= 0.5
    adults = [p for p in people if (date(2025, 7, 1) - p.birth_date).days >= 18 * 365]
    assert 0.75 <= len(adults) / len(people) <= 0.9
    languages = Counter(p.preferred_language for p in people)
    assert languages["es"] >= 5 and languages["vi"] >= 3
    accented = [p for p in people if not (p.given_name + p.family_name).isascii()]
    assert len(accented) >= 20
    assert all(re.fullmatch(r"\d{3}-\d{2}-\d{4}", p.national_id) for p in people if p.national_id)


def test_every_phone_is_a_valid_us_number(plan: list[PlannedPatient]) -> None:
    for person in (p.data for p in plan):
        for raw in (person.phone, person.phone_alt, person.emergency_contact_phone):
            if raw is not None:
                e164 = normalize_phone(raw, default_region="US")
                assert e164.startswith("+1") and e164[5:8] != "555", raw


def test_every_problem_code_is_an_icd10_cm_code(plan: list[PlannedPatient]) -> None:
    for condition in CONDITIONS:
        found = icd10.lookup(condition.icd10)
        assert found is not None, condition
        assert found.code == condition.icd10
    planned = {problem.icd10_code for p in plan for problem in p.problems}
    assert planned <= {condition.icd10 for condition in CONDITIONS}


def test_near_duplicates_are_planted_once_each(plan: list[PlannedPatient]) -> None:
    pairs = [(p.duplicate_of, index) for index, p in enumerate(plan) if p.duplicate_of is not None]
    assert len(pairs) == len(NEAR_DUPLICATES)
    for (first, second), person in zip(pairs, NEAR_DUPLICATES, strict=True):
        assert first < second
        assert plan[first].data.given_name == person.given_name
        assert plan[second].data.given_name == person.second_given_name
        assert plan[first].data.phone == plan[second].data.phone


def test_every_planned_report_has_its_text(plan: list[PlannedPatient]) -> None:
    assert set(REPORT_LINES) == {title for title, *_ in REPORTS}
    reports = [d for p in plan for d in p.documents if d.filename.endswith(".pdf")]
    assert len(reports) >= 10


def test_the_pdf_is_well_formed() -> None:
    content = pdf_document("Lipid panel", ["Patient: José Müller", "Nguyễn (Lan) \\ 100%"])
    assert sniff_document_type(content) == PDF
    assert b"Jos\xe9 M\xfcller" in content  # WinAnsi, so the accents show
    assert b"\\(Lan\\) \\\\" in content
    xref = int(content.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert content[xref:].startswith(b"xref\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", content)
    for number, offset in enumerate(offsets, start=1):
        assert content[int(offset) :].startswith(b"%d 0 obj" % number)
    stream = re.search(rb"/Length (\d+) >>\nstream\n", content)
    assert stream is not None
    end = stream.end() + int(stream.group(1))
    assert content[end:].startswith(b"\nendstream")


def test_the_png_is_well_formed() -> None:
    content = png_image(3, 2, lambda x, y: (x * 80, y * 120, 7))
    assert sniff_document_type(content) == PNG
    position, chunks = 8, {}
    while position < len(content):
        (length,) = struct.unpack(">I", content[position : position + 4])
        kind = content[position + 4 : position + 8]
        data = content[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", content[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks[kind] = data
        position += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (3, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert rows == b"\x00" + bytes([0, 0, 7, 80, 0, 7, 160, 0, 7]) + b"\x00" + bytes(
        [0, 120, 7, 80, 120, 7, 160, 120, 7]
    )


async def count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_demo_clinic_has_its_patients(session: AsyncSession, tmp_path: Path) -> None:
    storage = LocalDirectoryStorage(tmp_path / "documents")
    clinic = await seed_demo_clinic(session, password=DEMO_PASSWORD, storage=storage)
    seeded = clinic.patients

    assert seeded.registered == DEMO_PATIENT_COUNT
    assert await count(session, Patient) == DEMO_PATIENT_COUNT
    mrns = list(await session.scalars(select(Patient.mrn)))
    assert len(set(mrns)) == DEMO_PATIENT_COUNT and all(map(is_valid_mrn, mrns))
    assert await count(session, Allergy) == seeded.allergies > 0
    assert await count(session, Medication) == seeded.medications > 0
    assert await count(session, Problem) == seeded.problems > 0
    assert await count(session, HistoryEntry) == seeded.history > 0
    no_known = select(func.count()).where(Patient.no_known_allergies.is_(True))
    assert await session.scalar(no_known) == seeded.no_known_allergies > 0
    created = select(func.count()).where(AuditEvent.action == "patient.created")
    assert await session.scalar(created) == DEMO_PATIENT_COUNT
    identified = select(func.count()).where(Patient.national_id_hash.is_not(None))
    assert (await session.scalar(identified) or 0) > DEMO_PATIENT_COUNT // 3

    # Each planted pair: registering the second person again would show the first as likely.
    assert len(seeded.near_duplicates) == len(NEAR_DUPLICATES)
    for first_id, second_id in seeded.near_duplicates:
        second = await session.get(Patient, second_id)
        assert second is not None
        found = await find_duplicates(session, facts_of_patient(second), exclude=second_id)
        match = next(d.match for d in found if d.patient.id == first_id)
        assert match.likely, (second.given_name, second.family_name, match)

    # Every document downloads with the bytes that were stored.
    doctor = await session.scalar(select(User).where(User.email == "doctor@example.com"))
    assert doctor is not None
    kinds = Counter[str]()
    for document_id in seeded.documents:
        document = await session.get(Document, document_id)
        assert document is not None
        download = await documents.open_document(
            session,
            actor=actor_for(doctor),
            storage=storage,
            patient_id=document.patient_id,
            document_id=document_id,
            allowed_categories=None,
        )
        content = await download.content.read_all()
        assert len(content) == document.size_bytes
        assert hashlib.sha256(content).hexdigest() == document.sha256
        assert sniff_document_type(content) is not None
        kinds[document.content_type] += 1
    assert kinds["application/pdf"] >= 5 and kinds["image/png"] >= 2

    report = await audit.verify_chains(session)
    assert report.ok, report.problems
