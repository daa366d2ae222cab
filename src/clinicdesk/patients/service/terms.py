"""The name index behind patient search: one row per name token with its search keys.

Kept in step with the patient row by ``index_names`` in the same transaction, so a
search never sees a half-updated name. See ``PatientNameTerm`` for what each key answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.models import Patient, PatientNameTerm
from clinicdesk.patients.names import look_alike_skeleton, search_key

# Tokens shorter than this are initials ("J", "de"): they would match thousands of rows.
MIN_TOKEN = 2


@dataclass(frozen=True, slots=True)
class TokenKeys:
    token: str
    phonetic: str
    letters: str


@lru_cache(maxsize=65536)
def keys_of(token: str) -> TokenKeys:
    """Cached: search ranking asks for the same tokens' keys for every candidate.

    Metaphone rather than Soundex: Soundex keeps the first letter, so it misses
    "Catherine"/"Katherine" and "Philip"/"Filip"; Metaphone maps both to one code."""
    phonetic = jellyfish.metaphone(token) or token
    return TokenKeys(token=token, phonetic=phonetic[:100], letters="".join(sorted(token))[:100])


def name_tokens(*names: str | None) -> list[str]:
    """The tokens a name is indexed and looked up by. A word that mixes scripts adds the
    tokens of its one-script look-alike ("Carol" typed with a Cyrillic Es: "sarol" and
    "carol"), so it finds, and is found by, the name it imitates."""
    tokens: list[str] = []
    for name in names:
        if not name:
            continue
        variants = [name] if name.isascii() else [name, look_alike_skeleton(name)]
        for variant in variants:
            for token in search_key(variant).split():
                if len(token) >= MIN_TOKEN and token not in tokens:
                    tokens.append(token[:100])
    return tokens


def search_name_of(patient: Patient) -> str:
    names = (patient.given_name, patient.middle_name, patient.family_name, patient.preferred_name)
    return " ".join(search_key(n) for n in names if n)[:500]


async def index_names(session: AsyncSession, patient: Patient) -> None:
    """(Re)build the search keys of ``patient`` after its names changed."""
    patient.search_name = search_name_of(patient)
    await session.flush()
    await session.execute(delete(PatientNameTerm).where(PatientNameTerm.patient_id == patient.id))
    tokens = name_tokens(
        patient.given_name, patient.middle_name, patient.family_name, patient.preferred_name
    )
    for token in tokens:
        keys = keys_of(token)
        session.add(
            PatientNameTerm(
                patient_id=patient.id,
                token=keys.token,
                phonetic=keys.phonetic,
                letters=keys.letters,
            )
        )
    await session.flush()
