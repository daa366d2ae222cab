"""One search box: name (typo-tolerant), phone, date of birth, MRN, national ID.

How a query is answered, all through indexes, never by loading the patient list:

1. Exact channels. The whole query as a phone number (E.164 in the organization's
   country), an MRN (check digit valid), a national ID or member number (keyed hash);
   any token that is a date (organization's format) filters by date of birth.
2. The name channel. Each remaining token must meet one of the patient's name tokens
   (``patient_name_terms``) by prefix, sound (Metaphone), sorted letters (transposed
   typos) or, for longer tokens, a shared three-letter start; the per-token patient sets
   are intersected in SQL. On PostgreSQL, when no candidate has every query word as the
   start of a name word, ``pg_trgm`` similarity over the whole name adds candidates that
   differ in ways the keys miss.
3. At most ``CANDIDATE_LIMIT`` candidates are ranked in Python with RapidFuzz against
   their name tokens; weak matches are dropped.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Select, and_, func, intersect, or_, select
from sqlalchemy import text as text_sql
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.dates import parse_local_date
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.patients.models import InsurancePolicy, Patient, PatientNameTerm
from clinicdesk.patients.names import search_key
from clinicdesk.patients.phones import normalize_phone, phone_search_digits
from clinicdesk.patients.service.common import organization_locale
from clinicdesk.patients.service.records import identifier_hashes, is_valid_mrn
from clinicdesk.patients.service.terms import MIN_TOKEN, keys_of

CANDIDATE_LIMIT = 400
TRIGRAM_LIMIT = 100
# A query token whose best match among a patient's name tokens scores below this (0-100)
# rules the patient out: "smith" keeps "smyth" (80) and drops "smart" (60).
MIN_TOKEN_SCORE = 70.0
MAX_QUERY_TOKENS = 6
# A patient scoring this (every query word starts one of their name's words) is what was
# typed: the trigram step is then left out.
WHOLE_WORDS_SCORE = 95.0
_TRIGRAM_READY = "clinicdesk.trigram_ready"


@dataclass
class ParsedQuery:
    text: str
    name_tokens: list[str] = field(default_factory=list)
    birth_date: date | None = None
    phone: str | None = None
    mrn: str | None = None
    identifier: str | None = None


@dataclass
class Hit:
    patient: Patient
    score: float
    matched_on: list[str]


@dataclass
class SearchResult:
    hits: list[Hit]
    next_cursor: str | None


def parse_query(text: str, *, country: str, date_format: str) -> ParsedQuery:
    query = ParsedQuery(text=text.strip()[:200])
    raw = query.text
    if not raw:
        return query
    if phone_search_digits(raw):
        try:
            query.phone = normalize_phone(raw, default_region=country)
        except ValueError:
            query.phone = None
    compact = raw.replace(" ", "").replace("-", "")
    if compact.isdigit() and is_valid_mrn(compact):
        query.mrn = compact
    if " " not in raw and len(raw) >= 4 and any(c.isdigit() for c in raw):
        query.identifier = raw
    for token in raw.split():
        day = parse_local_date(token, date_format)
        if day is not None:
            query.birth_date = day
            continue
        for part in search_key(token).split():
            if part.isalpha() and len(part) >= MIN_TOKEN and part not in query.name_tokens:
                query.name_tokens.append(part)
    query.name_tokens = query.name_tokens[:MAX_QUERY_TOKENS]
    return query


def _token_condition(token: str) -> object:
    """The patient-name-token rows a query token may stand for (see module docstring)."""
    keys = keys_of(token)
    conditions = [and_(PatientNameTerm.token >= token, PatientNameTerm.token < token + "\uffff")]
    if len(token) >= 3:
        conditions.append(PatientNameTerm.phonetic == keys.phonetic)
    if len(token) >= 4:
        conditions.append(PatientNameTerm.letters == keys.letters)
    if len(token) >= 5:
        start = token[:3]
        conditions.append(
            and_(PatientNameTerm.token >= start, PatientNameTerm.token < start + "\uffff")
        )
    return or_(*conditions)


def _name_candidates(query: ParsedQuery, organization_id: object) -> Select[Any]:
    per_token = [
        select(PatientNameTerm.patient_id).where(
            PatientNameTerm.organization_id == organization_id,
            _token_condition(token),  # type: ignore[arg-type]
        )
        for token in query.name_tokens
    ]
    if len(per_token) == 1:
        return per_token[0]
    return select(intersect(*per_token).subquery().c[0])


def _score(query_tokens: list[str], search_name: str) -> float | None:
    """Mean over query tokens of the best match among the name's tokens (0-100); None
    when some token matches nothing well. A prefix counts as a full match (as you type)."""
    name_tokens = search_name.split()
    if not name_tokens:
        return None
    total = 0.0
    for token in query_tokens:
        best = 0.0
        for candidate in name_tokens:
            if candidate.startswith(token):
                best = 100.0 if candidate == token else 95.0
            else:
                best = max(best, fuzz.ratio(token, candidate))
                if keys_of(token).phonetic == keys_of(candidate).phonetic and len(token) >= 3:
                    best = max(best, 85.0)
                if sorted(token) == sorted(candidate) and len(token) >= 4:
                    best = max(best, 88.0)
            if best == 100.0:
                break
        if best < MIN_TOKEN_SCORE:
            return None
        total += best
    return total / len(query_tokens)


async def _exact_matches(session: AsyncSession, query: ParsedQuery) -> dict[object, Hit]:
    hits: dict[object, Hit] = {}

    async def add(condition: object, label: str) -> None:
        statement = select(Patient).where(
            Patient.merged_into_id.is_(None),
            condition,  # type: ignore[arg-type]
        )
        if query.birth_date is not None:
            statement = statement.where(Patient.birth_date == query.birth_date)
        for patient in (await session.scalars(statement.limit(50))).all():
            hit = hits.setdefault(patient.id, Hit(patient=patient, score=100.0, matched_on=[]))
            hit.matched_on.append(label)

    if query.mrn:
        await add(Patient.mrn == query.mrn, "mrn")
    if query.phone:
        await add(or_(Patient.phone == query.phone, Patient.phone_alt == query.phone), "phone")
    if query.identifier:
        hashes = identifier_hashes(query.identifier)
        await add(Patient.national_id_hash.in_(hashes), "national_id")
        policy_holders = select(InsurancePolicy.patient_id).where(
            InsurancePolicy.member_number_hash.in_(hashes)
        )
        await add(Patient.id.in_(policy_holders), "insurance_member_number")
    if query.birth_date is not None and not query.name_tokens and not hits:
        await add(Patient.birth_date == query.birth_date, "birth_date")
    return hits


async def _trigram_ready(session: AsyncSession) -> bool:
    """Whether the trigram channel can use its index: only on PostgreSQL, and only when
    pg_trgm's ``%`` operator is marked LEAKPROOF. Under row-level security PostgreSQL uses
    an index only for leakproof operators; otherwise every search would scan the whole
    table (~100 ms at 100,000 patients), so the channel is left out instead. The answer
    is kept on the pooled connection."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return False
    if _TRIGRAM_READY not in connection.info:
        leakproof = await connection.scalar(
            text_sql("SELECT proleakproof FROM pg_proc WHERE proname = 'similarity_op'")
        )
        connection.info[_TRIGRAM_READY] = bool(leakproof)
    return bool(connection.info[_TRIGRAM_READY])


async def _trigram_candidates(session: AsyncSession, query: ParsedQuery) -> list[uuid.UUID]:
    """PostgreSQL only: names whose trigrams are close to the whole query."""
    text = " ".join(query.name_tokens)
    if len(text) < 4 or not await _trigram_ready(session):
        return []
    statement = (
        select(Patient.id)
        .where(Patient.search_name.op("%")(text), Patient.merged_into_id.is_(None))
        .order_by(func.similarity(Patient.search_name, text).desc())
        .limit(TRIGRAM_LIMIT)
    )
    return list((await session.scalars(statement)).all())


@dataclass
class _Ranked:
    """A name match before its patient is loaded: only the page's patients are."""

    id: uuid.UUID
    score: float
    family_name: str
    given_name: str


async def _name_matches(session: AsyncSession, query: ParsedQuery) -> list[_Ranked]:
    if not query.name_tokens:
        return []
    candidates = _name_candidates(query, current_tenant(session))
    if query.birth_date is not None:
        # The date of birth is the selective part: its index leads, names filter.
        return await _ranked(
            session,
            query,
            Patient.birth_date == query.birth_date,
            Patient.id.in_(candidates),
        )
    # Ids first, then rows by primary key: an IN over the subquery lets planners
    # (PostgreSQL's especially) scan the whole patients table for common names.
    ids = set(await session.scalars(candidates.limit(CANDIDATE_LIMIT)))
    ranked = await _ranked(session, query, among=ids) if ids else []
    if any(match.score >= WHOLE_WORDS_SCORE for match in ranked):
        # Every word of the query starts a word of some name: the name keys found what
        # was typed, and the trigram step (the search's costliest statement: it compares
        # the query with every name) would only add names further off.
        return ranked
    more = set(await _trigram_candidates(session, query)) - ids
    if more:
        ranked.extend(await _ranked(session, query, among=more))
    return ranked


async def _ranked(
    session: AsyncSession,
    query: ParsedQuery,
    *conditions: Any,
    among: set[uuid.UUID] | None = None,
) -> list[_Ranked]:
    """The patients meeting ``conditions`` (and among the ids given) that match the
    query's words well enough, scored on four columns: a patient's whole row (decrypted
    identifiers and all) is read only when it lands on the page, and a common prefix has
    400 candidates."""
    statement = select(Patient.id, Patient.search_name, Patient.family_name, Patient.given_name)
    if among is not None:
        statement = _among(session, statement, among)
    statement = statement.where(Patient.merged_into_id.is_(None), *conditions)
    ranked = []
    for row in (await session.execute(statement.limit(CANDIDATE_LIMIT))).all():
        score = _score(query.name_tokens, row.search_name)
        if score is not None:
            ranked.append(_Ranked(row.id, round(score, 1), row.family_name, row.given_name))
    return ranked


_Columns = Select[uuid.UUID, str, str, str]


def _among(session: AsyncSession, statement: _Columns, ids: set[uuid.UUID]) -> _Columns:
    """``statement`` narrowed to the patients with these ids, looked up by primary key.

    SQLite's statistics are sampled (``PRAGMA analysis_limit``, core/db.py): they rate
    ``organization_id = ?`` (the tenant's criterion) as matching about 400 rows, as
    selective as 400 ids, so for ``id IN (...400 ids)`` the planner read the whole
    organization's patients instead (60 ms at 100,000). Joined as a table of ids (a JSON
    array through ``json_each``), it looks each one up (2.6 ms)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return statement.where(Patient.id.in_(ids))
    stored = Patient.__table__.c.id.type.bind_processor(bind.dialect)
    keys = [stored(i) if stored else str(i) for i in sorted(ids)]
    wanted = func.json_each(json.dumps(keys)).table_valued("value", name="wanted")
    return statement.join_from(wanted, Patient, Patient.id == wanted.c.value)


async def search_patients(
    session: AsyncSession,
    *,
    actor: Actor,
    text: str,
    limit: int = 20,
    cursor: str | None = None,
    view: str = "search",
) -> SearchResult:
    """Ranked matches for the search box; an empty query lists recent registrations. The
    patients on the page are recorded as read by ``actor`` (one entry for the page)."""
    result = await _search(session, text=text, limit=limit, cursor=cursor)
    await audit.record_list_read(
        session, actor=actor, patient_ids=[h.patient.id for h in result.hits], view=view
    )
    return result


async def _search(
    session: AsyncSession, *, text: str, limit: int, cursor: str | None
) -> SearchResult:
    offset = decode_cursor(cursor)
    locale = await organization_locale(session)
    query = parse_query(text, country=locale.country, date_format=locale.date_format)
    if not query.text:
        return await _recent(session, limit=limit, offset=offset)
    exact = await _exact_matches(session, query)
    ranked: list[Hit | _Ranked] = list(exact.values())
    for match in await _name_matches(session, query):
        if match.id in exact:
            exact[match.id].matched_on.append("name")
        else:
            ranked.append(match)
    ranked.sort(key=_rank_order)
    page = await _loaded(session, ranked[offset : offset + limit], query)
    more = len(ranked) > offset + limit
    return SearchResult(hits=page, next_cursor=encode_cursor(offset + limit) if more else None)


def _rank_order(match: Hit | _Ranked) -> tuple[float, str, str]:
    if isinstance(match, Hit):
        return (-match.score, match.patient.family_name, match.patient.given_name)
    return (-match.score, match.family_name, match.given_name)


async def _loaded(
    session: AsyncSession, page: list[Hit | _Ranked], query: ParsedQuery
) -> list[Hit]:
    """The page's hits with their patients, in rank order."""
    wanted = [match.id for match in page if isinstance(match, _Ranked)]
    found = {}
    if wanted:
        statement = select(Patient).where(Patient.id.in_(wanted))
        found = {patient.id: patient for patient in await session.scalars(statement)}
    matched = ["name", "birth_date"] if query.birth_date else ["name"]
    hits = []
    for match in page:
        if isinstance(match, Hit):
            hits.append(match)
        elif match.id in found:  # gone since it was ranked (another request, committed meanwhile)
            hits.append(Hit(patient=found[match.id], score=match.score, matched_on=list(matched)))
    return hits


async def _recent(session: AsyncSession, *, limit: int, offset: int) -> SearchResult:
    statement = (
        select(Patient)
        .where(Patient.merged_into_id.is_(None))
        .order_by(Patient.created_at.desc(), Patient.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    patients = list((await session.scalars(statement)).all())
    more = len(patients) > limit
    hits = [Hit(patient=p, score=0.0, matched_on=[]) for p in patients[:limit]]
    return SearchResult(hits=hits, next_cursor=encode_cursor(offset + limit) if more else None)
