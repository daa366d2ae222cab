"""The demo clinic: the same believable patients every run, written through the patients
services (on SQLite and PostgreSQL), with near-duplicates the duplicate finder shows and
documents that download."""

from __future__ import annotations

import hashlib
import itertools
import re
import struct
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.models import FeeItem, Invoice, InvoiceLine
from clinicdesk.billing.payment_models import Payment
from clinicdesk.clinical.models import (
    ClinicalNote,
    Diagnosis,
    Encounter,
    Observation,
    Order,
    Prescription,
    Result,
    TestCatalogueItem,
)
from clinicdesk.clinical.schemas.encounters import EncounterStart
from clinicdesk.clinical.service import closing, encounters
from clinicdesk.clinical.vocabulary import EncounterStatus
from clinicdesk.core.filetypes import PDF, PNG, sniff_document_type
from clinicdesk.core.storage import LocalDirectoryStorage
from clinicdesk.demo import seed_demo_clinic
from clinicdesk.demo.chart_catalogue import CONDITIONS, REPORTS
from clinicdesk.demo.documents import REPORT_LINES, pdf_document, png_image
from clinicdesk.demo.fees import FEES
from clinicdesk.demo.patient_plan import (
    DEMO_PATIENT_COUNT,
    NEAR_DUPLICATES,
    PlannedPatient,
    plan_patients,
)
from clinicdesk.demo.schedule import (
    FUTURE_DAYS,
    HILLVIEW,
    MAIN,
    PAST_DAYS,
    PROVIDERS,
    TYPES,
    plan_schedule,
)
from clinicdesk.identity.models import User
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.models import (
    Allergy,
    Document,
    HistoryEntry,
    InsurancePolicy,
    Medication,
    Patient,
    Payer,
    Problem,
)
from clinicdesk.patients.phones import normalize_phone
from clinicdesk.patients.public import lookup_icd10
from clinicdesk.patients.service import documents, icd10
from clinicdesk.patients.service.duplicates import facts_of_patient, find_duplicates
from clinicdesk.patients.service.records import is_valid_mrn
from clinicdesk.queue.models import Visit
from clinicdesk.queue.vocabulary import VisitStatus
from clinicdesk.scheduling.models import Appointment, AppointmentType, Provider
from clinicdesk.scheduling.service import setup
from clinicdesk.scheduling.vocabulary import FREEING_STATUSES, AppointmentStatus

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
    assert 0.4 <= fraction([p.insurance is not None for p in plan]) <= 0.6
    assert len({p.insurance.payer for p in plan if p.insurance}) >= 4
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


async def test_every_problem_code_is_an_icd10_cm_code(
    plan: list[PlannedPatient], session: AsyncSession
) -> None:
    for condition in CONDITIONS:
        found = await icd10.lookup(session, condition.icd10)
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
    # About half are insured: a primary policy each, with one of a few payers.
    assert await count(session, InsurancePolicy) == seeded.policies > DEMO_PATIENT_COUNT // 3
    assert 4 <= (await count(session, Payer)) <= 10

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


# --- the appointment book -------------------------------------------------------------

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
ZONE = ZoneInfo("America/New_York")


def test_the_schedule_plan_is_the_same_every_time() -> None:
    plan = plan_schedule(NOW, ZONE, 100)
    assert plan_schedule(NOW, ZONE, 100) == plan
    assert plan_schedule(NOW, ZONE, 100, seed=1) != plan


def test_the_schedule_plan_looks_like_a_clinic_month() -> None:
    plan = plan_schedule(NOW, ZONE, 100)
    past = [p for p in plan if p.starts_at < NOW]
    coming = [p for p in plan if p.starts_at >= NOW]
    assert all(p.outcome == AppointmentStatus.BOOKED for p in coming)
    outcomes = Counter(p.outcome for p in past)
    assert set(outcomes) == {
        AppointmentStatus.FULFILLED,
        AppointmentStatus.NOSHOW,
        AppointmentStatus.CANCELLED,
    }
    assert 0.03 <= outcomes[AppointmentStatus.NOSHOW] / len(past) <= 0.15
    assert 0.05 <= outcomes[AppointmentStatus.CANCELLED] / len(past) <= 0.18
    assert 200 <= len(past) <= 600 and 60 <= len(coming) <= 250
    assert min(p.starts_at for p in plan) >= NOW - timedelta(days=PAST_DAYS + 1)
    assert max(p.starts_at for p in plan) < NOW + timedelta(days=FUTURE_DAYS + 1)
    assert {p.type_name for p in plan} == {t.name for t in TYPES}
    assert {(p.provider, p.location) for p in plan} == {
        ("doctor", MAIN),
        ("doctor", HILLVIEW),
        ("nurse", MAIN),
        ("nurse", HILLVIEW),
    }
    # Inside the planned hours, local time, and never on a Sunday.
    for p in plan:
        local = p.starts_at.astimezone(ZONE)
        provider = next(q for q in PROVIDERS if q.key == p.provider)
        assert any(
            location == p.location and day == local.weekday() and start <= local.time() < end
            for location, day, start, end in provider.blocks
        ), p


async def test_the_demo_clinic_has_its_appointment_book(
    session: AsyncSession, tmp_path: Path
) -> None:
    storage = LocalDirectoryStorage(tmp_path / "documents")
    clinic = await seed_demo_clinic(
        session, password=DEMO_PASSWORD, storage=storage, patient_count=40
    )
    schedule = clinic.schedule

    providers = list(await session.scalars(select(Provider).order_by(Provider.display_name)))
    assert [p.display_name for p in providers] == ["Dr. Dana Reyes", "Nico Nurse"]
    assert set(schedule.providers) == {p.id for p in providers}
    places = await setup.provider_locations(session, [p.id for p in providers])
    assert all(len(where) == 2 for where in places.values())  # both work at both locations
    doctor_hours = await setup.weekly_hours(session, providers[0].id)
    assert len(doctor_hours) == 10  # two blocks, five weekdays
    types = {t.name: t for t in await setup.list_types(session)}
    assert set(types) == {t.name for t in TYPES} and len(schedule.types) == len(TYPES)
    assert types["Annual physical"].buffer_after_minutes == 10
    assert [n for n, t in types.items() if t.online_bookable] == ["Vaccination"]

    appointments = list(await session.scalars(select(Appointment)))
    assert schedule.skipped == 0
    assert len(appointments) == schedule.booked > 200
    # The demo queue checks in who is due around now: still "booked" as far as the plan goes.
    by_status = Counter("booked" if a.status == "arrived" else str(a.status) for a in appointments)
    assert by_status == dict(schedule.by_status)
    assert by_status["fulfilled"] and by_status["noshow"] and by_status["cancelled"]
    assert by_status["booked"] > 40
    now = datetime.now(UTC)
    for a in appointments:
        if a.status in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
            assert a.starts_at > now - timedelta(hours=1)  # planned after the seeding began
        else:
            assert a.starts_at < now
        assert a.holds_slot == (a.status not in FREEING_STATUSES)
        if a.status == AppointmentStatus.CANCELLED:
            assert a.cancelled_at is not None and a.cancelled_at < a.starts_at
            assert a.cancel_reason
    patients_seen = {a.patient_id for a in appointments}
    assert len(patients_seen) > 30

    # No two appointments that hold a provider's time overlap (buffers included).
    for provider in providers:
        held = sorted(
            (a for a in appointments if a.provider_id == provider.id and a.holds_slot),
            key=lambda a: a.starts_at,
        )
        for first, second in itertools.pairwise(held):
            assert first.busy_until <= second.starts_at, (first.id, second.id)

    booked_audits = select(func.count()).where(AuditEvent.action == "appointment.booked")
    assert await session.scalar(booked_audits) == schedule.booked
    report = await audit.verify_chains(session)
    assert report.ok, report.problems


async def test_the_demo_clinic_has_a_queue_with_history(
    session: AsyncSession, tmp_path: Path
) -> None:
    storage = LocalDirectoryStorage(tmp_path / "documents")
    clinic = await seed_demo_clinic(
        session, password=DEMO_PASSWORD, storage=storage, patient_count=40
    )
    visits = list(await session.scalars(select(Visit)))
    done = [v for v in visits if v.status == VisitStatus.DONE]
    fulfilled = await session.scalar(
        select(func.count()).where(Appointment.status == AppointmentStatus.FULFILLED)
    )
    assert clinic.queue.past_visits == len(done) > 0
    assert len(done) <= (fulfilled or 0)
    for visit in done:
        assert visit.arrived_at <= visit.called_at <= visit.started_at <= visit.finished_at  # type: ignore[operator]
    # Tokens are per location and day and never repeat.
    keys = [(v.location_id, v.service_date, v.token_number) for v in visits]
    assert len(keys) == len(set(keys))
    today = [v for v in visits if v.status != VisitStatus.DONE]
    assert clinic.queue.today_visits == len(today) >= 2
    assert any(v.priority > 0 and v.priority_reason for v in today)
    assert any(v.provider_id is None for v in today)  # an unassigned walk-in

    # Every visit seen has its consultation: finished ones for the past, open ones for
    # the patients in consultation now.
    encounters = {e.visit_id: e for e in await session.scalars(select(Encounter))}
    assert clinic.consultations.encounters == len(done)
    for visit in visits:
        if visit.status == VisitStatus.DONE:
            assert encounters[visit.id].status == EncounterStatus.FINISHED
            assert encounters[visit.id].reason
        elif visit.status == VisitStatus.IN_CONSULTATION:
            assert encounters[visit.id].status == EncounterStatus.IN_PROGRESS
        else:
            assert visit.id not in encounters

    # Each past consultation left its vital signs and a signed note; the doctor's left
    # diagnoses with real ICD-10-CM codes and prescriptions with their sig.
    past = [e for e in encounters.values() if e.status == EncounterStatus.FINISHED]
    notes = {n.encounter_id: n for n in await session.scalars(select(ClinicalNote))}
    assert all(notes[e.id].status == "signed" for e in past)
    with_vitals = set(await session.scalars(select(Observation.encounter_id)))
    assert {e.id for e in past} <= with_vitals
    codes = set(await session.scalars(select(Diagnosis.icd10_code)))
    assert codes
    for code in codes:
        assert code is not None and await lookup_icd10(session, code) is not None, code
    prescribed = list(await session.scalars(select(Prescription)))
    assert prescribed and all(
        rx.sig.startswith(("Take", "Apply", "Inhale", "Use")) for rx in prescribed
    )

    # Blood tests of the consultations that call for them: results flagged against the
    # catalogue, the older ones signed off, the last days' waiting in the inbox.
    results = list(await session.scalars(select(Result)))
    assert clinic.consultations.lab_results == len(results) > 0
    assert any(r.flag for r in results) and any(r.flag is None for r in results)
    assert all(r.reference_low is not None or r.reference_high is not None for r in results)
    orders = {o.id: o for o in await session.scalars(select(Order))}
    waiting = [r for r in results if r.reviewed_at is None]
    assert waiting and len(waiting) < len(results)
    assert all(orders[r.order_id].status == "resulted" for r in waiting)
    assert {orders[r.order_id].encounter_id for r in results} <= {e.id for e in past}


# --- the fee schedule -----------------------------------------------------------------


async def test_a_finished_demo_consultation_drafts_its_invoice(
    session: AsyncSession, tmp_path: Path
) -> None:
    storage = LocalDirectoryStorage(tmp_path / "documents")
    clinic = await seed_demo_clinic(
        session, password=DEMO_PASSWORD, storage=storage, patient_count=40
    )
    assert clinic.fees == len(FEES) == await count(session, FeeItem)
    items = list(await session.scalars(select(FeeItem)))
    assert {i.currency for i in items} == {"USD"}
    # Every appointment type has its consultation fee and every catalogue test its price.
    priced_types = {i.appointment_type_id for i in items} - {None}
    assert priced_types == set(await session.scalars(select(AppointmentType.id)))
    priced_tests = {i.catalogue_item_id for i in items} - {None}
    assert priced_tests == set(await session.scalars(select(TestCatalogueItem.id)))
    taxed = [i for i in items if i.tax_rates]
    assert taxed and all(i.tax_rates == [{"name": "NYC sales tax", "rate": "8.875"}] for i in taxed)
    assert all(i.appointment_type_id is None for i in taxed)  # visits are not taxed

    # The doctor sees a booked patient and finishes the consultation: its invoice is
    # drafted with the appointment type's fee.
    doctor = await session.scalar(select(User).where(User.email == "doctor@example.com"))
    assert doctor is not None
    booked = await session.scalar(
        select(Appointment)
        .join(Provider, Provider.id == Appointment.provider_id)
        .where(Provider.user_id == doctor.id, Appointment.status == AppointmentStatus.BOOKED)
        .limit(1)
    )
    assert booked is not None
    encounter = await encounters.start_encounter(
        session,
        actor=actor_for(doctor),
        data=EncounterStart(patient_id=booked.patient_id, appointment_id=booked.id),
    )
    clinician = doctor
    drafted = select(Invoice).where(Invoice.encounter_id == encounter.id)
    assert await session.scalar(drafted) is None
    await closing.finish_encounter(session, actor=actor_for(clinician), encounter_id=encounter.id)
    invoice = await session.scalar(drafted)
    assert invoice is not None and invoice.status == "draft"
    lines = list(
        await session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    )
    visit_lines = [line for line in lines if line.source == "visit_type"]
    assert len(visit_lines) == 1
    fee = next(i for i in items if i.id == visit_lines[0].fee_item_id)
    assert fee.appointment_type_id is not None
    assert invoice.total == sum(line.total for line in lines) >= fee.unit_price > 0


async def test_the_past_month_was_billed_at_checkout(session: AsyncSession, tmp_path: Path) -> None:
    storage = LocalDirectoryStorage(tmp_path / "documents")
    clinic = await seed_demo_clinic(
        session, password=DEMO_PASSWORD, storage=storage, patient_count=40
    )
    assert clinic.billing is not None
    zone = ZoneInfo("America/New_York")
    today = datetime.now(UTC).astimezone(zone).date()
    finished = {
        e.id: e
        for e in await session.scalars(
            select(Encounter).where(Encounter.status == EncounterStatus.FINISHED)
        )
    }
    invoices = list(await session.scalars(select(Invoice).where(Invoice.encounter_id.is_not(None))))
    assert len(invoices) == clinic.billing.drafted == len(finished) > 0
    issued = [i for i in invoices if i.status == "issued"]
    assert len(issued) == clinic.billing.issued > 0
    for invoice in invoices:
        assert invoice.encounter_id is not None
        left_at = finished[invoice.encounter_id].finished_at
        assert left_at is not None
        visit_day = left_at.astimezone(zone).date()
        if invoice.status == "issued":  # on the day of the visit, numbered in order
            assert invoice.issue_date == visit_day < today and invoice.number
        else:
            assert visit_day == today  # today's checkouts are the desk's
    # Most were paid at checkout, some in part, some still owe: the books balance.
    paid = [i for i in issued if i.amount_due == 0]
    part = [i for i in issued if 0 < i.amount_paid < i.total]
    owing = [i for i in issued if i.amount_paid == 0]
    assert paid and part and owing
    assert len(paid) + len(part) == clinic.billing.payments
    taken = await session.scalar(select(func.sum(Payment.amount)))
    assert taken == sum(i.amount_paid for i in issued)
    for payment in await session.scalars(select(Payment)):
        assert payment.received_at.astimezone(zone).date() < today
