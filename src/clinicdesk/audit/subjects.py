"""Who or what an audit entry is about, named for people: the report shows "Ana Lima"
linked to her chart, not ``…3f9a2c``.

The audit trail knows no domain's tables. Each domain that records entries about its
records registers, per ``resource_type``, a namer that names many of them at once (one
query per kind of record and page, never one per row); the application registers them
when it is built. A record that is gone, or of a kind no one names, gets a fallback that
still says what it was."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.labels import humanize


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    href: str | None = None  # the record's page, when there is one to open
    known: bool = True  # False: deleted, or of a kind no domain names
    at: datetime | None = None  # when it takes place (an appointment), shown after the name


Namer = Callable[[AsyncSession, Actor, set[uuid.UUID]], Awaitable[dict[uuid.UUID, Subject]]]
"""Names the records of one kind among ``ids`` that still exist; the actor is the reader
(a namer that shows patient data records that read)."""

_NAMERS: dict[str, Namer] = {}


def register_namer(resource_type: str, namer: Namer) -> None:
    """Idempotent: the same kind registered again replaces its namer."""
    _NAMERS[resource_type] = namer


def fallback(resource_type: str, resource_id: uuid.UUID) -> Subject:
    """A record its domain could not name (so it is gone), or of a kind no domain names
    (settings, sessions ...: the kind and the id's end say which)."""
    gone = " (deleted or unknown)" if resource_type in _NAMERS else ""
    return Subject(name=f"{humanize(resource_type)}{gone} …{str(resource_id)[-6:]}", known=False)


def as_uuid(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def name_subjects(
    session: AsyncSession, *, actor: Actor, wanted: Iterable[tuple[str, uuid.UUID]]
) -> dict[tuple[str, uuid.UUID], Subject]:
    """A name for every ``(resource_type, id)`` in ``wanted``: one call per kind."""
    by_kind: dict[str, set[uuid.UUID]] = {}
    for kind, ident in wanted:
        by_kind.setdefault(kind, set()).add(ident)
    named: dict[tuple[str, uuid.UUID], Subject] = {}
    for kind, ids in by_kind.items():
        namer = _NAMERS.get(kind)
        found = await namer(session, actor, ids) if namer is not None else {}
        for ident in ids:
            named[(kind, ident)] = found.get(ident) or fallback(kind, ident)
    return named
