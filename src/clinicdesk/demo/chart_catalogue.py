"""What is in the demo patients' charts: short curated lists of common conditions with
their real ICD-10-CM codes, the usual medicines and doses for them, allergies, family and
social history and surgeries, each with how often it occurs. ``patient_plan`` draws from
these with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicdesk.patients.vocabulary import (
    AllergyCategory,
    AllergySeverity,
    DocumentCategory,
    SexAtBirth,
)

# --- what is in their charts -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Medicine:
    name: str
    dose: str
    frequency: str
    route: str = "oral"


MEDICINES = {
    medicine.name: medicine
    for medicine in (
        Medicine("Lisinopril", "10 mg", "once daily"),
        Medicine("Metformin", "500 mg", "twice daily with meals"),
        Medicine("Atorvastatin", "20 mg", "nightly"),
        Medicine("Albuterol HFA inhaler", "90 mcg, 2 puffs", "every 4-6 h as needed", "inhaled"),
        Medicine("Sertraline", "50 mg", "once daily"),
        Medicine("Ibuprofen", "400 mg", "every 8 hours as needed with food"),
        Medicine("Levothyroxine", "50 mcg", "once daily before breakfast"),
        Medicine("Omeprazole", "20 mg", "once daily before breakfast"),
        Medicine("Cetirizine", "10 mg", "once daily"),
        Medicine("Fluticasone nasal spray", "2 sprays each nostril", "once daily", "nasal"),
        Medicine("Escitalopram", "10 mg", "once daily"),
        Medicine("Sumatriptan", "50 mg", "at onset; may repeat after 2 hours"),
        Medicine("Acetaminophen", "500 mg", "every 6 hours as needed"),
        Medicine("Vitamin D3", "1000 IU", "once daily"),
        Medicine("Hydrocortisone 1% cream", "thin layer", "twice daily", "topical"),
        Medicine("Tamsulosin", "0.4 mg", "once daily at bedtime"),
        Medicine("Tiotropium inhaler", "18 mcg", "once daily", "inhaled"),
        Medicine("Apixaban", "5 mg", "twice daily"),
        Medicine("Ferrous sulfate", "325 mg", "once daily"),
        Medicine("Methylphenidate ER", "18 mg", "every morning"),
        Medicine("Multivitamin", "1 tablet", "once daily"),
        Medicine("Loratadine", "10 mg", "once daily in allergy season"),
    )
}
# Taken without a diagnosis on the problem list.
EVERYDAY_MEDICINES = ("Multivitamin", "Vitamin D3", "Loratadine", "Acetaminophen")


@dataclass(frozen=True, slots=True)
class Condition:
    description: str
    icd10: str
    weight: int  # how common, relative to the others
    min_age: int
    max_age: int = 120
    medicines: tuple[str, ...] = ()  # names in MEDICINES
    sex: SexAtBirth | None = None
    resolves: bool = False  # an episode that is often over by now


_F, _M = SexAtBirth.FEMALE, SexAtBirth.MALE
CONDITIONS: tuple[Condition, ...] = (
    Condition("Essential hypertension", "I10", 12, 30, medicines=("Lisinopril",)),
    Condition("Type 2 diabetes mellitus", "E11.9", 8, 35, medicines=("Metformin",)),
    Condition("Hyperlipidemia", "E78.5", 9, 35, medicines=("Atorvastatin",)),
    Condition("Asthma", "J45.909", 6, 3, medicines=("Albuterol HFA inhaler",)),
    Condition("Generalized anxiety disorder", "F41.1", 4, 16, medicines=("Sertraline",)),
    Condition("Low back pain", "M54.50", 4, 20, medicines=("Ibuprofen",), resolves=True),
    Condition("Hypothyroidism", "E03.9", 4, 25, medicines=("Levothyroxine",)),
    Condition("Gastro-esophageal reflux disease", "K21.9", 4, 25, medicines=("Omeprazole",)),
    Condition(
        "Allergic rhinitis", "J30.9", 5, 5, medicines=("Cetirizine", "Fluticasone nasal spray")
    ),
    Condition("Depression", "F32.A", 3, 16, medicines=("Escitalopram",)),
    Condition("Migraine", "G43.909", 3, 14, medicines=("Sumatriptan",)),
    Condition("Obesity", "E66.9", 3, 18),
    Condition("Osteoarthritis, right knee", "M17.11", 2, 50, medicines=("Acetaminophen",)),
    Condition("Vitamin D deficiency", "E55.9", 2, 18, medicines=("Vitamin D3",)),
    Condition("Atopic dermatitis", "L20.9", 2, 0, 40, medicines=("Hydrocortisone 1% cream",)),
    Condition("Benign prostatic hyperplasia", "N40.0", 2, 50, medicines=("Tamsulosin",), sex=_M),
    Condition("Polycystic ovarian syndrome", "E28.2", 1, 16, 45, sex=_F),
    Condition("COPD", "J44.9", 2, 50, medicines=("Tiotropium inhaler",)),
    Condition("Atrial fibrillation", "I48.91", 1, 60, medicines=("Apixaban",)),
    Condition("Obstructive sleep apnea", "G47.33", 1, 35),
    Condition("Iron deficiency anemia", "D50.9", 1, 14, medicines=("Ferrous sulfate",)),
    Condition("ADHD", "F90.9", 1, 6, 30, medicines=("Methylphenidate ER",)),
)

_A = AllergyCategory
_S = AllergySeverity
# (substance, category, reaction, severity, intolerance, weight)
ALLERGENS: tuple[tuple[str, AllergyCategory, str, AllergySeverity, bool, int], ...] = (
    ("Penicillin", _A.MEDICATION, "Hives", _S.MODERATE, False, 10),
    ("Penicillin", _A.MEDICATION, "Anaphylaxis", _S.SEVERE, False, 2),
    ("Sulfonamide antibiotics (sulfa)", _A.MEDICATION, "Rash", _S.MILD, False, 6),
    ("Codeine", _A.MEDICATION, "Nausea and vomiting", _S.MILD, True, 3),
    ("Ibuprofen", _A.MEDICATION, "Hives and facial swelling", _S.MODERATE, False, 2),
    ("Peanuts", _A.FOOD, "Throat tightness, hives", _S.SEVERE, False, 5),
    ("Shellfish", _A.FOOD, "Hives and lip swelling", _S.MODERATE, False, 4),
    ("Tree nuts", _A.FOOD, "Itchy mouth", _S.MILD, False, 2),
    ("Lactose", _A.FOOD, "Bloating and diarrhea", _S.MILD, True, 3),
    ("Latex", _A.ENVIRONMENT, "Contact dermatitis", _S.MILD, False, 3),
    ("Pollen", _A.ENVIRONMENT, "Sneezing, itchy eyes", _S.MILD, False, 6),
    ("Cat dander", _A.ENVIRONMENT, "Wheezing", _S.MODERATE, False, 3),
    ("Bee stings", _A.ENVIRONMENT, "Anaphylaxis", _S.SEVERE, False, 1),
)

FAMILY_HISTORY = (
    ("Type 2 diabetes", "father"),
    ("Type 2 diabetes", "mother"),
    ("Hypertension", "mother"),
    ("Myocardial infarction at 58", "father"),
    ("Breast cancer, diagnosed at 52", "mother"),
    ("Colon cancer, diagnosed at 61", "grandfather"),
    ("Alzheimer's disease", "grandmother"),
    ("Stroke at 70", "grandfather"),
    ("Asthma", "brother"),
)
ADULT_SOCIAL_HISTORY = (
    "Never smoker.",
    "Never smoker.",
    "Former smoker, quit 2016 (about 10 pack-years).",
    "Current smoker, half a pack a day; interested in quitting.",
    "Alcohol: 2-3 drinks a week.",
    "Does not drink alcohol.",
    "Walks 30 minutes most days.",
    "Works night shifts.",
    "Lives with spouse and two children.",
    "Lives alone; daughter visits daily.",
)
CHILD_SOCIAL_HISTORY = (
    "Lives with parents and a younger sibling.",
    "Attends school; plays soccer twice a week.",
    "No smokers at home.",
)
# (procedure, youngest age it happens at)
SURGERIES = (
    ("Appendectomy", 8),
    ("Tonsillectomy", 4),
    ("Laparoscopic cholecystectomy", 30),
    ("Right knee arthroscopy", 25),
    ("Inguinal hernia repair", 30),
)

# Scanned reports: (title, category, file name, youngest age, only with this problem);
# ``clinicdesk.demo`` writes their text.
REPORTS: tuple[tuple[str, DocumentCategory, str, int, str | None], ...] = (
    ("Lipid panel", DocumentCategory.LAB_RESULT, "lipid-panel.pdf", 30, None),
    ("Hemoglobin A1c", DocumentCategory.LAB_RESULT, "hba1c.pdf", 35, "E11.9"),
    ("Referral to cardiology", DocumentCategory.REFERRAL, "referral-cardiology.pdf", 40, None),
    ("Chest X-ray report", DocumentCategory.IMAGING, "chest-xray.pdf", 18, None),
    ("Consent to treatment", DocumentCategory.CONSENT, "consent.pdf", 0, None),
)


# --- the plan ---------------------------------------------------------------------------
