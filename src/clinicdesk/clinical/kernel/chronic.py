"""Which diagnoses are chronic: those the problem list should carry from visit to visit,
so a new one offers to add itself there.

Source: the condition list of the CMS Chronic Conditions Warehouse (CCW, "27 chronic
condition categories", https://www2.ccwdata.org/web/guest/condition-categories), each
condition reduced here to the ICD-10-CM categories (three-character codes) that name it.
A simplification, and the limits are these: the CCW's own algorithms list codes one by
one and count claims over one to three years; a few conditions (cancers, cataract,
fractures, stroke) are left out because most of their codes are episodes rather than
standing conditions. The doctor can put any diagnosis on the problem list anyway; this
only decides which ones *offer* it.
"""

from __future__ import annotations

from typing import Final

# Category (or category range, inclusive) → the CCW condition it stands for.
CHRONIC_CATEGORIES: Final[tuple[tuple[str, str, str], ...]] = (
    ("B20", "B20", "HIV disease"),  # CCW "other chronic" list
    ("D63", "D64", "Anemia (chronic)"),
    ("E03", "E03", "Hypothyroidism"),
    ("E08", "E13", "Diabetes"),
    ("E66", "E66", "Obesity"),  # CCW "other chronic" list
    ("E78", "E78", "Hyperlipidemia"),
    ("F01", "F03", "Alzheimer's disease and related dementias"),
    ("F20", "F29", "Schizophrenia and other psychotic disorders"),  # CCW "other chronic"
    ("F31", "F31", "Bipolar disorder"),  # CCW "other chronic" list
    ("F32", "F33", "Depression"),
    ("F41", "F41", "Anxiety disorders"),  # CCW "other chronic" list
    ("G20", "G20", "Parkinson's disease"),  # CCW "other chronic" list
    ("G30", "G30", "Alzheimer's disease"),
    ("G40", "G40", "Epilepsy"),  # CCW "other chronic" list
    ("H40", "H40", "Glaucoma"),
    ("I10", "I16", "Hypertension"),
    ("I20", "I25", "Ischemic heart disease"),
    ("I48", "I48", "Atrial fibrillation"),
    ("I50", "I50", "Heart failure"),
    ("J41", "J44", "Chronic obstructive pulmonary disease"),
    ("J45", "J45", "Asthma"),
    ("J47", "J47", "Bronchiectasis (COPD group)"),
    ("M05", "M06", "Rheumatoid arthritis"),
    ("M15", "M19", "Osteoarthritis"),
    ("M80", "M81", "Osteoporosis"),
    ("N18", "N18", "Chronic kidney disease"),
    ("N40", "N40", "Benign prostatic hyperplasia"),
)


def chronic_condition(icd10_code: str | None) -> str | None:
    """The chronic condition ``icd10_code`` ("E11.9", "e119") belongs to, or ``None``
    (also for an uncoded diagnosis: without a code there is nothing to go by)."""
    if not icd10_code:
        return None
    category = icd10_code.strip().upper()[:3]
    if len(category) < 3:
        return None
    for first, last, condition in CHRONIC_CATEGORIES:
        if first <= category <= last:
            return condition
    return None


def is_chronic(icd10_code: str | None) -> bool:
    return chronic_condition(icd10_code) is not None
