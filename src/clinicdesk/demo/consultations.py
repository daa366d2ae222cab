"""The demo clinic's consultations: every past visit of the month gets its finished
encounter with what it left (vital signs, a signed note, diagnoses, prescriptions:
``consultation_content``; blood tests and their results: ``lab_results``), so every
clinical screen (the chart's consultations, the trends, the results inbox, the doctor's
history) has history whenever the demo is started.

Like the past visits (``queue``), they are written as plain rows without audit entries:
they stand for history from before the demo existed. Today's consultations open through
the queue's signals like real ones (``queue._today`` starts them).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.vocabulary import EncounterKind, EncounterStatus
from clinicdesk.demo.consultation_content import Body, clinical_rows
from clinicdesk.demo.lab_results import seed_demo_results
from clinicdesk.patients.models import Patient
from clinicdesk.queue.models import Visit
from clinicdesk.queue.vocabulary import VisitStatus
from clinicdesk.scheduling.models import Appointment, AppointmentType, Provider

SEED = 20_261_205

# What the patient came for, by appointment type name (the demo's types); a reason the
# front desk wrote at booking wins.
REASONS: dict[str, tuple[str, ...]] = {
    "Sick visit": (
        "Sore throat and fever for three days",
        "Lower back pain after lifting",
        "Cough for two weeks",
        "Headaches, worse in the mornings",
        "Rash on both forearms",
        "Ear pain, right side",
        "Burning on passing urine",
    ),
    "Follow-up": (
        "Review of blood results",
        "Diabetes review",
        "Blood pressure check after medication change",
        "Asthma review",
        "Tiredness and low mood, follow-up",
    ),
    "New patient": ("New patient: history and medication review",),
    "Annual physical": ("Annual physical",),
}
DEFAULT_REASONS = ("Check-up", "Review", "New problem")


def _body(rng: random.Random) -> Body:
    """A height, and a weight for a BMI of 20 to 31 (most adults of a family practice)."""
    height = rng.randint(152, 192)
    bmi = rng.uniform(20, 31)
    return Body(
        height_cm=Decimal(height), weight_kg=Decimal(str(round(bmi * (height / 100) ** 2, 1)))
    )


@dataclass(frozen=True, slots=True)
class DemoConsultations:
    encounters: int
    lab_results: int


async def seed_demo_consultations(session: AsyncSession, *, seed: int = SEED) -> DemoConsultations:
    """One finished encounter per past visit that was seen (done), with the visit's
    provider, location, times and a reason for the visit."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    rows = (
        await session.execute(
            select(Visit, Appointment.reason, AppointmentType.name)
            .outerjoin(Appointment, Appointment.id == Visit.appointment_id)
            .outerjoin(AppointmentType, AppointmentType.id == Visit.type_id)
            .where(Visit.status == VisitStatus.DONE, Visit.provider_id.is_not(None))
            .order_by(Visit.started_at)
        )
    ).all()
    opened = set(await session.scalars(select(Encounter.visit_id)))
    authors = {
        r.id: r.user_id for r in await session.execute(select(Provider.id, Provider.user_id))
    }
    births = {
        r.id: r.birth_date for r in await session.execute(select(Patient.id, Patient.birth_date))
    }
    bodies: dict[uuid.UUID, Body] = {}
    made: list[Encounter] = []
    written = 0
    for visit, booked_reason, type_name in rows:
        if visit.id in opened or visit.started_at is None or visit.provider_id is None:
            continue
        choices = REASONS.get(type_name or "", DEFAULT_REASONS)
        encounter = Encounter(
            patient_id=visit.patient_id,
            provider_id=visit.provider_id,
            location_id=visit.location_id,
            appointment_id=visit.appointment_id,
            visit_id=visit.id,
            kind=EncounterKind.IN_PERSON,
            status=EncounterStatus.FINISHED,
            reason=booked_reason or rng.choice(choices),
            started_at=visit.started_at,
            finished_at=visit.finished_at,
            started_by_id=authors.get(visit.provider_id),
        )
        session.add(encounter)
        made.append(encounter)
        written += 1
    await session.flush()
    # What each consultation left: vital signs, the signed note, diagnoses, prescriptions.
    for encounter in made:
        body = bodies.setdefault(
            encounter.patient_id,
            _body(rng),
        )
        session.add_all(
            clinical_rows(
                encounter,
                author_id=authors[encounter.provider_id],
                birth=births[encounter.patient_id],
                body=body,
                rng=rng,
            )
        )
    await session.flush()
    # Blood tests ordered in them (the catalogue is in place by now) and their results.
    return DemoConsultations(encounters=written, lab_results=await seed_demo_results(session))
