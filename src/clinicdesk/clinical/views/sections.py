"""The consultation page's sections: each part of the consultation (reason, vitals,
note, diagnoses, prescriptions, orders) registers one, and the page shows them in order.

A section is a loader (``Desk`` → the context its template needs) and a partial whose
``{% block section %}`` is the section itself: the page includes it, and
``GET /encounters/{id}/sections/{name}`` answers htmx with that block alone, so a
section reloads itself after a change without the page. A section the actor may not see
(``permission``) is left out of the page and refused alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.service import encounters
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.pages import all_or_nothing, render
from clinicdesk.core.permissions import Permission
from clinicdesk.patients import public as patients
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


async def answer_section(
    name: str,
    request: Request,
    session: AsyncSession,
    actor: Actor,
    encounter_id: uuid.UUID,
    *,
    error: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """The section ``name`` alone (its ``section`` block), as a form's htmx answer, with
    the refusal (``error``) or what was done (``done``) in words."""
    encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
    patient = await patients.get_patient(session, encounter.patient_id, actor=actor)
    desk = Desk(request, session, actor, encounter, patient)
    shown = SECTIONS[name]
    context = {
        "encounter": encounter,
        "writable": desk.writable,
        "section": shown,
        "error": error,
        "done": done,
        **(await shown.load(desk)),
    }
    return render(request, shown.template, context, block="section")


async def attempt_in_section(
    name: str,
    request: Request,
    session: AsyncSession,
    actor: Actor,
    encounter_id: uuid.UUID,
    step: Callable[[], Awaitable[object]],
    done: str,
) -> HTMLResponse:
    """Run a form's ``step`` all or nothing, then answer with the section: ``done`` when
    it went through, the service's refusal in words when it did not."""
    try:
        async with all_or_nothing(session):
            await step()
    except ClinicError as refused:
        return await answer_section(
            name, request, session, actor, encounter_id, error=refused.detail
        )
    return await answer_section(name, request, session, actor, encounter_id, done=done)
