"""Note templates: the organization's prefilled note text, general or for one
appointment type. Written by doctors (clinical text is theirs: the admin role reads no
notes), offered on the consultation's note, the appointment type's first."""

from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import NoteTemplateNotFound
from clinicdesk.clinical.models import Encounter, NoteTemplate
from clinicdesk.clinical.schemas.notes import NoteTemplateWrite
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField, NotFound
from clinicdesk.core.models import check_version
from clinicdesk.scheduling import public as scheduling

RESOURCE = "note_template"


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> NoteTemplate:
    template = await session.get(NoteTemplate, template_id)
    if template is None:
        raise NoteTemplateNotFound("No note template with this id.")
    return template


async def list_templates(session: AsyncSession, *, active_only: bool = True) -> list[NoteTemplate]:
    statement = select(NoteTemplate).order_by(NoteTemplate.name, NoteTemplate.id)
    if active_only:
        statement = statement.where(NoteTemplate.is_active.is_(True))
    return list(await session.scalars(statement))


async def templates_for(session: AsyncSession, encounter: Encounter) -> list[NoteTemplate]:
    """The active templates to offer on this encounter's note: those for its
    appointment's type first (the first of them is the one to suggest), then the rest."""
    templates = await list_templates(session)
    type_id = None
    if encounter.appointment_id is not None:
        type_id = (await scheduling.get_appointment(session, encounter.appointment_id)).type_id
    return sorted(templates, key=lambda t: t.appointment_type_id != type_id or type_id is None)


# The audit entry of a change: ``_record(session, actor, action, row, before)``.
_record = partial(audit.record_change, resource_type=RESOURCE)


async def _check_type(session: AsyncSession, type_id: uuid.UUID | None) -> None:
    if type_id is None:
        return
    try:
        await scheduling.get_type(session, type_id)
    except NotFound:
        raise InvalidField(
            "appointment_type_id", "No such appointment type: pick one from the list."
        ) from None


async def create_template(
    session: AsyncSession, *, actor: Actor, data: NoteTemplateWrite
) -> NoteTemplate:
    await _check_type(session, data.appointment_type_id)
    template = NoteTemplate(created_by_id=actor.user_id, **data.model_dump())
    session.add(template)
    await session.flush()
    await _record(session, actor, "note_template.created", template, None)
    return template


async def update_template(
    session: AsyncSession,
    *,
    actor: Actor,
    template_id: uuid.UUID,
    data: NoteTemplateWrite,
    expected_version: int | None,
) -> NoteTemplate:
    """Change a template (unticking "active" takes it off the notes' picker; notes
    written from it keep their text)."""
    template = await get_template(session, template_id)
    check_version(template, expected_version)
    await _check_type(session, data.appointment_type_id)
    before = audit.snapshot(template)
    for name, value in data.model_dump().items():
        setattr(template, name, value)
    await session.flush()
    diff = audit.changes(before, audit.snapshot(template))
    if diff:
        await _record(session, actor, "note_template.updated", template, before)
    return template
