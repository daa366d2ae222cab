"""Who the demo clinic's patients are: a few hundred believable people and their charts.

Only a plan (plain schemas, no database): ``clinicdesk.demo`` writes it through the
patients services, so MRNs, search keys, encrypted identifiers and the audit trail are
what a real registration produces. The plan comes from a fixed seed, so the demo is the
same every time. Clinical content is taken from short curated lists (real ICD-10-CM codes,
usual doses), never made of random words. A handful of people are registered twice with
the slips a front desk makes, so the duplicate finder has something to show.

The people are fictional: phone numbers are valid but random, street names made up, and
e-mail addresses use the reserved ``example.*`` domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import phonenumbers
from anyascii import anyascii

from clinicdesk.demo.chart_catalogue import (
    ADULT_SOCIAL_HISTORY,
    ALLERGENS,
    CHILD_SOCIAL_HISTORY,
    CONDITIONS,
    EVERYDAY_MEDICINES,
    FAMILY_HISTORY,
    MEDICINES,
    REPORTS,
    SURGERIES,
    Condition,
)
from clinicdesk.patients.schemas import (
    AllergyWrite,
    HistoryWrite,
    MedicationWrite,
    PatientCreate,
    ProblemWrite,
)
from clinicdesk.patients.vocabulary import (
    ClinicalStatus,
    DocumentCategory,
    HistoryKind,
    SexAtBirth,
)

if TYPE_CHECKING:
    from faker import Faker

DEMO_PATIENT_COUNT = 300
SEED = 20_261_122
# Ages and dates are counted from this day, not from today, so every run is identical.
AS_OF = date(2025, 7, 1)

# --- who the patients are -------------------------------------------------------------

# (Faker locale, weight, preferred language and how often it is set)
LOCALES: tuple[tuple[str, int, str | None, float], ...] = (
    ("en_US", 70, None, 0.0),
    ("es_MX", 12, "es", 0.6),
    ("vi_VN", 6, "vi", 0.6),
    ("de_DE", 4, "de", 0.2),
    ("fr_FR", 4, "fr", 0.2),
    ("pl_PL", 4, "pl", 0.3),
)
# (youngest, oldest, weight): more adults than children, as a family practice sees.
AGE_BANDS = ((0, 17, 16), (18, 39, 30), (40, 64, 34), (65, 94, 20))
# (real area codes, city, state, first three ZIP digits): the home phone matches the
# address. Exchanges run 200-999 except N11 service codes and 555, which libphonenumber
# refuses as a fictional range.
AREAS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("212", "646"), "New York", "NY", "100"),
    (("718",), "Brooklyn", "NY", "112"),
    (("415", "628"), "San Francisco", "CA", "941"),
    (("617", "857"), "Boston", "MA", "021"),
    (("312", "773"), "Chicago", "IL", "606"),
    (("213",), "Los Angeles", "CA", "900"),
    (("206",), "Seattle", "WA", "981"),
)
AREA_CODES = tuple(code for codes, *_ in AREAS for code in codes)
LANGUAGE_LOCALES = {language: locale for locale, _, language, _ in LOCALES if language}
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
NICKNAMES = {
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Michael": "Mike",
    "Jennifer": "Jen",
    "Christopher": "Chris",
    "Margaret": "Peggy",
    "Richard": "Rick",
    "Patricia": "Pat",
}
# Emergency contacts, with the sex their name should have (None: either).
RELATIONSHIPS: dict[str, SexAtBirth | None] = {
    "Spouse": None,
    "Partner": None,
    "Mother": SexAtBirth.FEMALE,
    "Father": SexAtBirth.MALE,
    "Daughter": SexAtBirth.FEMALE,
    "Son": SexAtBirth.MALE,
    "Sister": SexAtBirth.FEMALE,
    "Brother": SexAtBirth.MALE,
    "Friend": None,
}
FRONT_DESK_NOTES = (
    "Prefers morning appointments.",
    "Uses a wheelchair; book a ground-floor room.",
    "Hard of hearing; face the patient and speak clearly.",
    "Prefers text messages to phone calls.",
    "Brings own glucose meter to visits.",
)
COMMERCIAL_PAYERS: tuple[tuple[str, str], ...] = (
    # (payer, member number pattern for Faker's bothify: # a digit, ? a letter)
    ("Aetna", "W#########"),
    ("Blue Cross Blue Shield", "XOF#########"),
    ("Cigna", "U########"),
    ("UnitedHealthcare", "9########"),
    ("Humana", "H########"),
    ("Kaiser Permanente", "#########"),
)
MEDICAID = ("Medicaid", "##########")
# The plan name printed on each payer's card (one per payer keeps the demo small).
PLANS = {
    "Medicare": "Original Medicare Part B",
    "Medicaid": "Medicaid Managed Care",
    "Aetna": "Aetna Choice POS II",
    "Blue Cross Blue Shield": "Blue Choice PPO",
    "Cigna": "Open Access Plus",
    "UnitedHealthcare": "Choice Plus",
    "Humana": "Gold Plus HMO",
    "Kaiser Permanente": "Kaiser HMO",
}
# Medicare Beneficiary Identifiers leave out letters that look like digits (S L O I B Z).
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"


_F, _M = SexAtBirth.FEMALE, SexAtBirth.MALE


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """One person registered twice, the second time with a slip of the front desk."""

    given_name: str
    family_name: str
    sex: SexAtBirth
    birth_date: date
    second_given_name: str
    second_family_name: str
    middle_name: str | None = None
    preferred_language: str | None = None


NEAR_DUPLICATES: tuple[NearDuplicate, ...] = (
    # A typo; given and family names swapped; another transliteration; umlauts typed as
    # "ue"; C for K; accents and the second surname left out; no Polish keyboard.
    NearDuplicate("John", "Smith", _M, date(1968, 4, 22), "Jon", "Smith"),
    NearDuplicate("Lan", "Nguyễn", _F, date(1979, 9, 3), "Nguyễn", "Lan", "Thị", "vi"),
    NearDuplicate("Mohammed", "Al-Sayed", _M, date(1985, 1, 17), "Muhammad", "Al-Sayed"),
    NearDuplicate("Jürgen", "Müller", _M, date(1952, 11, 8), "Juergen", "Mueller", None, "de"),
    NearDuplicate("Catherine", "O'Brien", _F, date(1990, 6, 30), "Katherine", "O'Brien"),
    NearDuplicate(
        "María José", "García López", _F, date(2001, 2, 14), "Maria", "Garcia", None, "es"
    ),
    NearDuplicate("Łukasz", "Wójcik", _M, date(1994, 8, 5), "Lukasz", "Wojcik", None, "pl"),
)


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    title: str
    category: DocumentCategory
    filename: str


@dataclass(frozen=True, slots=True)
class PlannedPolicy:
    """The patient's primary insurance policy (the payer by name)."""

    payer: str
    member_number: str
    plan_name: str | None


@dataclass(frozen=True, slots=True)
class PlannedPatient:
    data: PatientCreate
    insurance: PlannedPolicy | None = None
    allergies: tuple[AllergyWrite, ...] = ()
    no_known_allergies: bool = False
    medications: tuple[MedicationWrite, ...] = ()
    problems: tuple[ProblemWrite, ...] = ()
    history: tuple[HistoryWrite, ...] = ()
    documents: tuple[PlannedDocument, ...] = ()
    duplicate_of: int | None = None  # plan index of the first registration of this person


def plan_patients(count: int = DEMO_PATIENT_COUNT, *, seed: int = SEED) -> list[PlannedPatient]:
    """``count`` registrations, the same for the same arguments. Up to one planted
    near-duplicate pair per four registrations (all of them from 28 on)."""
    # Imported here: Faker takes a noticeable part of a second to load, and every other
    # command (``clinicdesk --help`` included) imports this module through the CLI.
    from faker import Faker

    fake = Faker([locale for locale, *_ in LOCALES])
    fake.seed_instance(seed)
    planner = _Planner(random.Random(seed), fake)  # noqa: S311 - demo data, not secrets
    pairs = NEAR_DUPLICATES[: count // 4]
    slots = 2 * len(pairs) + 2
    firsts = {count * (i + 1) // slots: i for i in range(len(pairs))}
    seconds = {count // 2 + count * (i + 1) // slots: i for i in range(len(pairs))}
    plan: list[PlannedPatient] = []
    first_index: dict[int, int] = {}
    for index in range(count):
        if index in firsts:
            first_index[firsts[index]] = index
            plan.append(planner.first_registration(pairs[firsts[index]]))
        elif index in seconds:
            pair = seconds[index]
            plan.append(planner.second_registration(first_index[pair], plan, pairs[pair]))
        else:
            plan.append(planner.patient())
    return plan


class _Planner:
    def __init__(self, rng: random.Random, fake: Faker) -> None:
        self.rng = rng
        self.fake = fake
        self.us = fake["en_US"]
        self.documents_planned = 0

    def patient(self) -> PlannedPatient:
        rng = self.rng
        locale, language = self._locale()
        person = self.fake[locale]
        sex = _F if rng.random() < 0.52 else _M
        given = person.first_name_female() if sex == _F else person.first_name_male()
        family = person.last_name()
        middle = None
        if locale == "en_US" and rng.random() < 0.3:
            middle = person.first_name_female() if sex == _F else person.first_name_male()
        age = self._age()
        data, policy = self._demographics(
            given=given,
            family=family,
            middle=middle,
            sex=sex,
            birth_date=self._birth_date(age),
            language=language,
            locale=locale,
        )
        return self._chart(data, age, policy)

    def first_registration(self, person: NearDuplicate) -> PlannedPatient:
        age = (AS_OF - person.birth_date).days // 365
        data, policy = self._demographics(
            given=person.given_name,
            family=person.family_name,
            middle=person.middle_name,
            sex=person.sex,
            birth_date=person.birth_date,
            language=person.preferred_language,
            locale=LANGUAGE_LOCALES.get(person.preferred_language or "", "en_US"),
        )
        return self._chart(data, age, policy)

    def second_registration(
        self, first_index: int, plan: list[PlannedPatient], person: NearDuplicate
    ) -> PlannedPatient:
        """A hurried registration: same birth date and phone, no cards, no e-mail."""
        first = plan[first_index]
        data = PatientCreate(
            given_name=person.second_given_name,
            family_name=person.second_family_name,
            birth_date=person.birth_date,
            sex_at_birth=person.sex,
            phone=first.data.phone,
            preferred_language=person.preferred_language,
            front_desk_notes="Walk-in; had no ID or insurance card with them.",
        )
        return PlannedPatient(data=data, duplicate_of=first_index)

    # -- demographics --

    def _locale(self) -> tuple[str, str | None]:
        locale, _weight, language, how_often = self.rng.choices(
            LOCALES, weights=[weight for _, weight, _, _ in LOCALES]
        )[0]
        return locale, language if language and self.rng.random() < how_often else None

    def _age(self) -> int:
        youngest, oldest, _ = self.rng.choices(AGE_BANDS, weights=[w for *_, w in AGE_BANDS])[0]
        return self.rng.randint(youngest, oldest)

    def _birth_date(self, age: int) -> date:
        return AS_OF - timedelta(days=age * 365 + age // 4 + self.rng.randint(1, 364))

    def phone(self, area_code: str | None = None) -> str:
        while True:
            exchange = self.rng.randint(200, 999)
            if exchange == 555 or exchange % 100 == 11:
                continue
            area = area_code or self.rng.choice(AREA_CODES)
            text = f"({area}) {exchange}-{self.rng.randint(0, 9999):04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(text, "US")):
                return text

    def _email(self, given: str, family: str) -> str:
        first = "".join(c for c in anyascii(given).lower() if c.isalnum())
        last = "".join(c for c in anyascii(family).lower() if c.isalnum())
        local = self.rng.choice(
            (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{self.rng.randint(1, 99)}")
        )
        return f"{local}@{self.rng.choice(EMAIL_DOMAINS)}"

    def _ssn(self) -> str:
        area = self.rng.randint(1, 898)
        area += area >= 666  # 666 is never issued
        return f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def _insurance(self, age: int) -> tuple[str, str]:
        if age >= 65 and self.rng.random() < 0.8:
            # A Medicare Beneficiary Identifier as printed on the card: "1EG4-TE5-MK73".
            alphabet = {"N": "123456789", "D": "0123456789", "L": MBI_LETTERS}
            return "Medicare", "".join(
                self.rng.choice(alphabet[p]) if p in alphabet else p for p in "NLLD-LLD-LLDD"
            )
        payer, pattern = (
            MEDICAID if self.rng.random() < 0.15 else self.rng.choice(COMMERCIAL_PAYERS)
        )
        return payer, self.us.bothify(pattern, letters="ABCDEFGHJKLMNPRSTUVWXYZ")

    def _demographics(
        self,
        *,
        given: str,
        family: str,
        middle: str | None,
        sex: SexAtBirth,
        birth_date: date,
        language: str | None,
        locale: str,
    ) -> tuple[PatientCreate, PlannedPolicy | None]:
        rng, us = self.rng, self.us
        age = (AS_OF - birth_date).days // 365
        adult = age >= 18
        area_codes, city, region, zip_prefix = rng.choice(AREAS)
        phone = self.phone(rng.choice(area_codes))
        contact: dict[str, str | None] = {}
        if not adult:
            relationship = rng.choice(("Mother", "Father"))
            contact = {
                "emergency_contact_name": self._relative(relationship, family, locale),
                "emergency_contact_relationship": relationship,
                "emergency_contact_phone": phone,
            }
        elif rng.random() < 0.65:
            relationship = rng.choice(tuple(RELATIONSHIPS))
            contact = {
                "emergency_contact_name": self._relative(relationship, family, locale),
                "emergency_contact_relationship": relationship,
                "emergency_contact_phone": self.phone(),
            }
        insured = rng.random() < 0.5
        payer, member = self._insurance(age) if insured else (None, None)
        note = rng.choice(FRONT_DESK_NOTES) if rng.random() < 0.06 else None
        if language == "es" and rng.random() < 0.5:
            note = "Prefers a Spanish-speaking interpreter."
        policy = PlannedPolicy(payer, member, PLANS.get(payer)) if payer and member else None
        return PatientCreate(
            given_name=given,
            middle_name=middle,
            family_name=family,
            preferred_name=NICKNAMES.get(given) if rng.random() < 0.6 else None,
            birth_date=birth_date,
            sex_at_birth=sex,
            phone=phone,
            phone_alt=self.phone() if adult and rng.random() < 0.15 else None,
            email=self._email(given, family) if adult and rng.random() < 0.8 else None,
            address_line1=f"{rng.randint(1, 2999)} {us.street_name()}",
            address_line2=us.secondary_address() if rng.random() < 0.25 else None,
            city=city,
            region=region,
            postal_code=f"{zip_prefix}{rng.randint(1, 99):02d}",
            country="US",
            preferred_language=language,
            front_desk_notes=note,
            national_id=self._ssn() if rng.random() < (0.55 if adult else 0.25) else None,
            **contact,
        ), policy

    def _relative(self, relationship: str, family: str, locale: str) -> str:
        """A name that fits: a woman's name for a mother, the family name for close kin."""
        person = self.fake[locale]
        sex = RELATIONSHIPS[relationship] or self.rng.choice((SexAtBirth.FEMALE, SexAtBirth.MALE))
        first = person.first_name_female() if sex == SexAtBirth.FEMALE else person.first_name_male()
        same_family = relationship != "Friend" and self.rng.random() < 0.7
        return f"{first} {family if same_family else person.last_name()}"

    # -- the chart --

    def _chart(
        self, data: PatientCreate, age: int, policy: PlannedPolicy | None = None
    ) -> PlannedPatient:
        rng = self.rng
        problems: list[ProblemWrite] = []
        medications: list[MedicationWrite] = []
        if rng.random() < 0.4:
            fitting = [
                c
                for c in CONDITIONS
                if c.min_age <= age <= c.max_age and c.sex in (None, data.sex_at_birth)
            ]
            how_many = rng.choices((1, 2, 3), weights=(6, 3, 1))[0] if age >= 40 else 1
            chosen: list[Condition] = []
            while len(chosen) < min(how_many, len(fitting)):
                condition = rng.choices(fitting, weights=[c.weight for c in fitting])[0]
                if condition not in chosen:
                    chosen.append(condition)
            for condition in chosen:
                onset = self._since(data.birth_date, age - condition.min_age)
                resolved = condition.resolves and rng.random() < 0.4
                problems.append(
                    ProblemWrite(
                        description=condition.description,
                        icd10_code=condition.icd10,
                        onset_date=onset if rng.random() < 0.8 else None,
                        resolved_date=min(onset + timedelta(days=60), AS_OF) if resolved else None,
                        status=ClinicalStatus.RESOLVED if resolved else ClinicalStatus.ACTIVE,
                    )
                )
                if not resolved and rng.random() < 0.85:
                    medications.extend(_prescribe(m, onset) for m in condition.medicines)
        if not medications and age >= 12 and rng.random() < 0.15:
            medicine = rng.choice(EVERYDAY_MEDICINES)
            medications.append(_prescribe(medicine, self._since(data.birth_date, age - 12)))
        allergies: list[AllergyWrite] = []
        no_known_allergies = False
        if rng.random() < 0.3:
            allergens = rng.choices(ALLERGENS, weights=[a[-1] for a in ALLERGENS], k=2)
            unique = {a[0]: a for a in allergens[: rng.choices((1, 2), weights=(3, 1))[0]]}
            allergies = [
                AllergyWrite(
                    substance=substance,
                    category=category,
                    reaction=reaction,
                    severity=severity,
                    is_intolerance=intolerance,
                )
                for substance, category, reaction, severity, intolerance, _ in unique.values()
            ]
        else:
            no_known_allergies = rng.random() < 0.08
        return PlannedPatient(
            data=data,
            insurance=policy,
            allergies=tuple(allergies),
            no_known_allergies=no_known_allergies,
            medications=tuple(medications),
            problems=tuple(problems),
            history=self._history(data, age),
            documents=self._documents(
                age, {p.icd10_code for p in problems}, insured=policy is not None
            ),
        )

    def _since(self, birth_date: date, years: int) -> date:
        """A date in the last ``years`` (at most 15), never before birth."""
        days_back = self.rng.randint(30, 30 + 365 * max(0, min(years, 15)))
        return max(AS_OF - timedelta(days=days_back), birth_date)

    def _history(self, data: PatientCreate, age: int) -> tuple[HistoryWrite, ...]:
        rng = self.rng
        if rng.random() >= 0.45:
            return ()
        social = ADULT_SOCIAL_HISTORY if age >= 18 else CHILD_SOCIAL_HISTORY
        lines = [HistoryWrite(kind=HistoryKind.SOCIAL, description=rng.choice(social))]
        if rng.random() < 0.5:
            description, relation = rng.choice(FAMILY_HISTORY)
            lines.append(
                HistoryWrite(kind=HistoryKind.FAMILY, description=description, relation=relation)
            )
        surgeries = [(name, youngest) for name, youngest in SURGERIES if youngest <= age]
        if surgeries and rng.random() < 0.25:
            name, youngest = rng.choice(surgeries)
            lines.append(
                HistoryWrite(
                    kind=HistoryKind.SURGICAL,
                    description=name,
                    occurred_on=self._since(data.birth_date, age - youngest),
                )
            )
        return tuple(lines)

    def _documents(
        self, age: int, codes: set[str | None], *, insured: bool
    ) -> tuple[PlannedDocument, ...]:
        # One patient in sixteen or so has a scanned report that fits them; the first two
        # insured patients also have a photo and their insurance card on file.
        planned: list[PlannedDocument] = []
        fitting = [r for r in REPORTS if r[3] <= age and r[4] in (None, *codes)]
        if self.rng.random() < 0.06:
            title, category, filename, *_ = self.rng.choice(fitting)
            planned.append(PlannedDocument(title, category, filename))
        if insured and self.documents_planned < 2:
            self.documents_planned += 1
            planned.append(PlannedDocument("Patient photo", DocumentCategory.PHOTO, "photo.png"))
            card = PlannedDocument("Insurance card", DocumentCategory.INSURANCE_CARD, "card.png")
            planned.append(card)
        return tuple(planned)


def _prescribe(name: str, start: date) -> MedicationWrite:
    medicine = MEDICINES[name]
    return MedicationWrite(
        name=medicine.name,
        dose=medicine.dose,
        frequency=medicine.frequency,
        route=medicine.route,
        start_date=start,
    )
