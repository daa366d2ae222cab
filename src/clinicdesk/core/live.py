"""Who sees which live event: the visibility rules each domain registers for its events.

The event stream (``/api/v1/events``, in ``clinicdesk.web.live``) knows no domain. A
domain that publishes events registers, for its event-type prefix, a filter per kind of
listener when the app is built::

    live.register(
        "queue.",
        staff=for_staff,        # (listener, event) -> (type, data) | None
        display=for_display,
        patient=for_patient,
    )

A kind without a filter gets nothing of that prefix, and an event no prefix claims goes
to nobody: deny by default. Events of another organization never reach a filter.

Some filters need facts about the listener that only their domain can look up (the
queues a patient waits in). The domain registers a ``facts`` loader; it runs when the
listener is resolved and again at every re-check of the credential, and keeps its
answer in ``listener.facts`` under a key of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.events import Event

ListenerKind = Literal["staff", "display", "patient"]
Shown = tuple[str, dict[str, Any]] | None
"""What a listener gets of an event: its type (or another) and the data, or nothing."""


@dataclass(slots=True)
class Listener:
    """Who holds a stream; refreshed at every re-check of its credential."""

    organization_id: uuid.UUID
    kind: ListenerKind
    permissions: frozenset[str] = frozenset()
    location_id: uuid.UUID | None = None  # display: its location
    patient_id: uuid.UUID | None = None  # patient (portal or link)
    visit_id: uuid.UUID | None = None  # patient link: that visit only
    facts: dict[str, Any] = field(default_factory=dict)  # filled by the domains' loaders
    user_id: uuid.UUID | None = None  # staff: who (their own alerts)
    roles: frozenset[str] = frozenset()  # staff: their roles (a role's alerts)


Filter = Callable[[Listener, Event], Shown]
FactsLoader = Callable[[AsyncSession, Listener], Awaitable[None]]


def only(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of an event's data (a projection for a less trusted screen)."""
    return {key: data.get(key) for key in fields}


def requires(permission: str) -> Filter:
    """A staff filter: the whole event, to listeners who hold ``permission``."""

    def rule(listener: Listener, event: Event) -> Shown:
        return (event.type, event.data) if permission in listener.permissions else None

    return rule


@dataclass(frozen=True, slots=True)
class _Rules:
    prefix: str
    filters: Mapping[ListenerKind, Filter]


class LiveRules:
    """The registry: one owner per prefix, a filter per listener kind."""

    def __init__(self) -> None:
        self._rules: list[_Rules] = []
        self._loaders: list[FactsLoader] = []

    def register(
        self,
        prefix: str,
        *,
        staff: Filter | None = None,
        display: Filter | None = None,
        patient: Filter | None = None,
    ) -> None:
        """Claim the events whose type starts with ``prefix``. A prefix has one owner;
        the most specific prefix claiming an event decides alone."""
        if not prefix or any(rules.prefix == prefix for rules in self._rules):
            raise ValueError(f"live events {prefix!r} are already claimed (or the prefix is empty)")
        given: tuple[tuple[ListenerKind, Filter | None], ...] = (
            ("staff", staff),
            ("display", display),
            ("patient", patient),
        )
        filters = {kind: rule for kind, rule in given if rule is not None}
        self._rules.append(_Rules(prefix, filters))
        self._rules.sort(key=lambda rules: len(rules.prefix), reverse=True)

    def add_facts(self, loader: FactsLoader) -> None:
        """Look up, per listener, what a domain's filters need to know about it."""
        self._loaders.append(loader)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(rules.prefix for rules in self._rules)

    async def load_facts(self, session: AsyncSession, listener: Listener) -> None:
        for loader in self._loaders:
            await loader(session, listener)

    def selector(self, listener: Listener) -> Callable[[Event], Shown]:
        """What of an event this listener gets: ``(event type, data)``, or None."""

        def select_event(event: Event) -> Shown:
            if event.organization_id != listener.organization_id:
                return None
            owner = next((r for r in self._rules if event.type.startswith(r.prefix)), None)
            if owner is None:
                return None
            rule = owner.filters.get(listener.kind)
            return rule(listener, event) if rule is not None else None

        return select_event
