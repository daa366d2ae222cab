"""Which statements a name search runs: the trigram step only when the name keys found
no one with every typed word, and whole patient rows only for the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.patients.service.search import search_patients
from tests.support.patients import register_patient


@contextmanager
def statements_of(session: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.bind.sync_engine  # type: ignore[union-attr]

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def names_found(session: AsyncSession, text: str, *, limit: int = 20) -> list[str]:
    result = await search_patients(session, actor=SYSTEM, text=text, limit=limit)
    return [f"{h.patient.given_name} {h.patient.family_name}" for h in result.hits]


async def test_a_name_typed_in_full_skips_the_trigram_step(
    session: AsyncSession, clinic: Organization
) -> None:
    await scope_to_tenant(session, clinic.id)
    await register_patient(session, given_name="Bartholomew", family_name="Kowalczyk")
    with statements_of(session) as seen:
        assert await names_found(session, "bartholomew kowalczyk") == ["Bartholomew Kowalczyk"]
    assert not [s for s in seen if "similarity" in s]


async def test_a_typo_the_name_keys_miss_is_found_by_trigrams_on_postgresql(
    session: AsyncSession, clinic: Organization
) -> None:
    """ "kovalczyk" shares no prefix, sound or letters with "kowalczyk": only the trigram
    step (PostgreSQL's pg_trgm) finds it; SQLite has the keys alone."""
    await scope_to_tenant(session, clinic.id)
    await register_patient(session, given_name="Bartholomew", family_name="Kowalczyk")
    with statements_of(session) as seen:
        found = await names_found(session, "bartholomew kovalczyk")
    if session.get_bind().dialect.name == "postgresql":
        assert found == ["Bartholomew Kowalczyk"]
        assert [s for s in seen if "similarity" in s]
    else:
        assert found == []


async def test_only_the_page_s_patients_are_read_whole(
    session: AsyncSession, clinic: Organization
) -> None:
    await scope_to_tenant(session, clinic.id)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in range(30):
        await register_patient(
            session,
            given_name=f"Ann{letters[n % 26]}{letters[n // 26]}",
            family_name="Whitmore",
            birth_date=date(1950 + n, 1, 1),
        )
    with statements_of(session) as seen:
        page = await names_found(session, "whitmore", limit=5)
    assert len(page) == 5
    whole_rows = [s for s in seen if s.startswith("SELECT patients.mrn")]
    assert len(whole_rows) == 1  # the page's five, by id
    assert page == sorted(page)  # equal scores: by family name, then given name
