"""What the demo's past consultations hold: for each reason for the visit, the note
(SOAP), the diagnosis (ICD-10-CM) and the prescription a family doctor would write, and
vital signs for every patient seen. Written as plain rows, like the visits they follow
(``consultations``): history from before the demo existed, signed by the provider.

The texts are short and generic on purpose (no invented history a reader could take for
a real patient's); the codes are real ICD-10-CM codes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from clinicdesk.clinical.kernel import vital_ranges as vr
from clinicdesk.clinical.kernel.sig import (
    Directions,
    DoseForm,
    Frequency,
    Route,
    course_quantity,
    sig_text,
)
from clinicdesk.clinical.models import (
    ClinicalNote,
    Diagnosis,
    Encounter,
    Observation,
    Prescription,
)
from clinicdesk.clinical.vocabulary import DiagnosisRank, NoteKind, NoteStatus
from clinicdesk.core.models import new_id


@dataclass(frozen=True, slots=True)
class Drug:
    name: str
    strength: str
    dose: str
    frequency: Frequency
    days: int | None
    form: DoseForm = DoseForm.TABLET
    route: Route = Route.ORAL
    as_needed_for: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    subjective: str
    objective: str
    assessment: str
    plan: str
    code: str | None  # ICD-10-CM
    diagnosis: str
    drug: Drug | None = None
    fever: bool = False


CONTENT: dict[str, Content] = {
    "Sore throat and fever for three days": Content(
        "Sore throat and fever for three days, painful swallowing. No cough.",
        "Tonsils enlarged with exudate, tender anterior cervical nodes.",
        "Streptococcal pharyngitis likely (Centor 4).",
        "Amoxicillin for 10 days, fluids, paracetamol as needed. Return if worse.",
        "J02.9",
        "Acute pharyngitis, unspecified",
        Drug("Amoxicillin", "500 mg", "1", Frequency.TID, 10, DoseForm.CAPSULE),
        fever=True,
    ),
    "Lower back pain after lifting": Content(
        "Lower back pain since lifting a box two days ago. No leg pain, no numbness.",
        "Paraspinal tenderness L4-L5, straight leg raise negative, normal power.",
        "Mechanical low back pain, no red flags.",
        "Ibuprofen with food for 5 days, keep moving, heat. Review in 2 weeks if not better.",
        "M54.50",
        "Low back pain, unspecified",
        Drug("Ibuprofen", "400 mg", "1", Frequency.TID, 5),
    ),
    "Cough for two weeks": Content(
        "Dry cough for two weeks after a cold. No fever, no breathlessness.",
        "Chest clear, no wheeze. SpO2 normal.",
        "Post-viral cough.",
        "Reassurance; honey and warm drinks. Chest X-ray if still coughing in 3 weeks.",
        "R05.9",
        "Cough, unspecified",
    ),
    "Headaches, worse in the mornings": Content(
        "Headaches for a month, worse in the mornings, no visual symptoms.",
        "Neurological examination normal, fundi normal.",
        "Tension-type headache; blood pressure checked.",
        "Sleep and screen-time advice, paracetamol as needed; headache diary.",
        "G44.209",
        "Tension-type headache, unspecified, not intractable",
        Drug("Paracetamol", "500 mg", "2", Frequency.Q6H, None, as_needed_for="headache"),
    ),
    "Rash on both forearms": Content(
        "Itchy rash on both forearms for a week; new washing powder.",
        "Erythematous, dry patches on both forearms, no blisters.",
        "Contact dermatitis.",
        "Avoid the new washing powder; hydrocortisone cream twice daily for 7 days.",
        "L25.9",
        "Unspecified contact dermatitis, unspecified cause",
        Drug("Hydrocortisone", "1 %", "1", Frequency.BID, 7, DoseForm.APPLICATION, Route.TOPICAL),
    ),
    "Ear pain, right side": Content(
        "Right ear pain for two days after a cold.",
        "Right tympanic membrane red and bulging.",
        "Acute otitis media, right.",
        "Pain relief; amoxicillin if not better in 48 hours (delayed prescription).",
        "H66.91",
        "Otitis media, unspecified, right ear",
    ),
    "Burning on passing urine": Content(
        "Burning on passing urine and frequency for two days. No fever, no loin pain.",
        "Abdomen soft, no renal angle tenderness. Urine dipstick: nitrites and leucocytes.",
        "Uncomplicated lower urinary tract infection.",
        "Nitrofurantoin for 5 days; fluids; return if fever or loin pain.",
        "N39.0",
        "Urinary tract infection, site not specified",
        Drug("Nitrofurantoin", "100 mg", "1", Frequency.BID, 5, DoseForm.CAPSULE),
    ),
    "Review of blood results": Content(
        "Here to discuss blood results.",
        "Well. Results reviewed together.",
        "Results within expected ranges apart from a raised LDL cholesterol.",
        "Diet and exercise advice; repeat lipids in 3 months.",
        "E78.5",
        "Hyperlipidemia, unspecified",
    ),
    "Diabetes review": Content(
        "Diabetes review. Taking metformin, no hypoglycaemia.",
        "Feet: pulses present, sensation intact.",
        "Type 2 diabetes, reasonable control.",
        "Continue metformin; HbA1c and kidney function in 3 months; eye screening booked.",
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        Drug("Metformin", "500 mg", "1", Frequency.BID, 90),
    ),
    "Blood pressure check after medication change": Content(
        "Started amlodipine four weeks ago; no ankle swelling, no dizziness.",
        "Blood pressure measured twice, seated.",
        "Essential hypertension, improving.",
        "Continue amlodipine; home readings; review in 3 months.",
        "I10",
        "Essential (primary) hypertension",
        Drug("Amlodipine", "5 mg", "1", Frequency.DAILY, 90),
    ),
    "Asthma review": Content(
        "Asthma review. Uses reliever twice a week, no night waking.",
        "Chest clear. Inhaler technique checked.",
        "Asthma, partly controlled.",
        "Salbutamol as needed; asthma action plan updated.",
        "J45.909",
        "Unspecified asthma, uncomplicated",
        Drug(
            "Salbutamol",
            "100 mcg/puff",
            "2",
            Frequency.Q4H,
            None,
            DoseForm.PUFF,
            Route.INHALED,
            as_needed_for="wheeze",
        ),
    ),
    "Tiredness and low mood, follow-up": Content(
        "Tiredness and low mood, follow-up. Sleeping better, walking daily.",
        "Alert, engaged; PHQ-9 down from 12 to 8.",
        "Fatigue with mild low mood, improving.",
        "Continue activity plan; review in 4 weeks; contact sooner if worse.",
        "R53.83",
        "Other fatigue",
    ),
}

CONTENT["Annual physical"] = Content(
    "Annual physical. No new complaints.",
    "Examination unremarkable.",
    "Well adult.",
    "Fasting lipids and glucose; screening up to date; review in a year.",
    "Z00.00",
    "Encounter for general adult medical examination without abnormal findings",
)
CONTENT["Vaccination"] = Content(
    "Here for a vaccination; no allergies to vaccines, well today.",
    "Temperature normal.",
    "Fit for vaccination.",
    "Vaccine given in the left deltoid; observed 15 minutes, no reaction.",
    "Z23",
    "Encounter for immunization",
)
# The reasons the demo's appointment book gives (``schedule.REASONS``), as the contents
# above; a reason not listed gets a short free-text note only.
ALIASES = {
    "Cough for five days": "Cough for two weeks",
    "Sore throat and fever": "Sore throat and fever for three days",
    "Back pain": "Lower back pain after lifting",
    "Rash on arm": "Rash on both forearms",
    "Blood pressure check": "Blood pressure check after medication change",
    "Review lab results": "Review of blood results",
    "Diabetes follow-up": "Diabetes review",
    "Annual physical and fasting labs": "Annual physical",
    "Flu shot": "Vaccination",
    "COVID-19 booster": "Vaccination",
    "Tdap booster": "Vaccination",
    "Shingles vaccine, dose 2": "Vaccination",
}


def content_for(reason: str | None) -> Content | None:
    reason = reason or ""
    return CONTENT.get(reason) or CONTENT.get(ALIASES.get(reason, ""))


@dataclass(slots=True)
class Body:
    height_cm: Decimal
    weight_kg: Decimal


def _vitals(
    encounter: Encounter, birth: date, body: Body, content: Content | None, rng: random.Random
) -> list[Observation]:
    when = encounter.started_at + timedelta(minutes=2)
    band = vr.age_band(birth, when.date())
    adult = band == vr.AgeBand.ADULT
    temperature = Decimal(
        str(
            round(
                rng.uniform(38.1, 38.9) if content and content.fever else rng.uniform(36.4, 37.2), 1
            )
        )
    )
    values: dict[vr.Vital, Decimal] = {
        vr.HEART_RATE: Decimal(rng.randint(62, 96) if adult else rng.randint(80, 110)),
        vr.TEMPERATURE: temperature,
        vr.WEIGHT: body.weight_kg + Decimal(str(round(rng.uniform(-0.8, 0.8), 1))),
        vr.SPO2: Decimal(rng.randint(96, 99)),
    }
    if adult:
        systolic = rng.randint(112, 152)
        values[vr.SYSTOLIC] = Decimal(systolic)
        values[vr.DIASTOLIC] = Decimal(min(systolic - 30, rng.randint(68, 96)))
        values[vr.HEIGHT] = body.height_cm
        values[vr.BMI] = vr.body_mass_index(body.height_cm, values[vr.WEIGHT])
    set_id = new_id()
    rows = []
    for vital, value in values.items():
        flag = vr.interpret(vital.key, value, band)
        rows.append(
            Observation(
                patient_id=encounter.patient_id,
                encounter_id=encounter.id,
                set_id=set_id,
                code=vital.code,
                value=value,
                unit=vital.unit,
                interpretation=flag.value if flag else None,
                effective_at=when,
                recorded_by_id=encounter.started_by_id,
            )
        )
    return rows


def clinical_rows(
    encounter: Encounter,
    *,
    author_id: uuid.UUID,
    birth: date,
    body: Body,
    rng: random.Random,
) -> list[object]:
    """The rows one past consultation leaves: vital signs, a signed note, and for the
    doctor's reasons above a diagnosis and perhaps a prescription."""
    content = content_for(encounter.reason)
    rows: list[object] = list(_vitals(encounter, birth, body, content, rng))
    signed_at = (encounter.finished_at or encounter.started_at) + timedelta(minutes=3)
    if content is None:
        rows.append(
            ClinicalNote(
                encounter_id=encounter.id,
                kind=NoteKind.FREE,
                body=f"{encounter.reason or 'Visit'}: done, no concerns.",
                status=NoteStatus.SIGNED,
                author_id=author_id,
                signed_at=signed_at,
                signed_by_id=author_id,
            )
        )
        return rows
    rows.append(
        ClinicalNote(
            encounter_id=encounter.id,
            kind=NoteKind.SOAP,
            subjective=content.subjective,
            objective=content.objective,
            assessment=content.assessment,
            plan=content.plan,
            status=NoteStatus.SIGNED,
            author_id=author_id,
            signed_at=signed_at,
            signed_by_id=author_id,
        )
    )
    rows.append(
        Diagnosis(
            encounter_id=encounter.id,
            patient_id=encounter.patient_id,
            icd10_code=content.code,
            description=content.diagnosis,
            rank=DiagnosisRank.PRIMARY,
            recorded_by_id=author_id,
        )
    )
    if content.drug is not None:
        drug = content.drug
        directions = Directions(
            dose=Decimal(drug.dose),
            form=drug.form,
            route=drug.route,
            frequency=drug.frequency,
            duration_days=drug.days,
            as_needed_for=drug.as_needed_for,
        )
        rows.append(
            Prescription(
                encounter_id=encounter.id,
                patient_id=encounter.patient_id,
                prescribed_by_id=author_id,
                drug_name=drug.name,
                strength=drug.strength,
                form=drug.form,
                dose=Decimal(drug.dose),
                route=drug.route,
                frequency=drug.frequency,
                as_needed_for=drug.as_needed_for,
                duration_days=drug.days,
                quantity=course_quantity(directions),
                refills=0,
                sig=sig_text(directions),
                prescribed_at=encounter.started_at + timedelta(minutes=10),
                findings=[],
            )
        )
    return rows
