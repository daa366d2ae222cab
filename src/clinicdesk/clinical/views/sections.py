"""The consultation page's sections: each part of the consultation (reason, vitals,
note, diagnoses, prescriptions, orders) registers one, and the page shows them in order.

A section is a loader (``Desk`` → the context its template needs) and a partial whose
``{% block section %}`` is the section itself: the page includes it, and
``GET /encounters/{id}/sections/{name}`` answers htmx with that block alone, so a
section reloads itself after a change without the page. A section the actor may not see
(``permission``) is left out of the page and refused alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.models import Encounter
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission
from clinicdesk.patients.public import Patient


@dataclass(frozen=True, slots=True)
class Desk:
    """What a section is given: who asks, and the consultation open in front of them."""

    request: Request
    session: AsyncSession
    actor: Actor
    encounter: Encounter
    patient: Patient

    @property
    def writable(self) -> bool:
        """Open consultations take new entries; closed ones are read-only."""
        return self.encounter.status in ("planned", "in-progress")


Loader = Callable[[Desk], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    template: str
    order: int
    permission: Permission
    load: Loader


SECTIONS: dict[str, Section] = {}


def section(
    name: str,
    title: str,
    *,
    template: str,
    order: int,
    permission: Permission = Permission.CLINICAL_READ,
) -> Callable[[Loader], Loader]:
    """Register a consultation section (``order``: its place on the page, lowest first)."""

    def register(load: Loader) -> Loader:
        SECTIONS[name] = Section(name, title, template, order, permission, load)
        return load

    return register


def visible_sections(actor: Actor) -> list[Section]:
    return sorted((s for s in SECTIONS.values() if actor.can(s.permission)), key=lambda s: s.order)
