"""The pages where doctors keep the note templates (the organization's, general or per
appointment type) and the quick phrases (their own, or shared with everyone). Doctors
rather than the admin: templates are clinical text, and the admin role reads no notes.
Thin pages over ``service.note_templates`` and ``service.phrases``."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.clinical.access import ClinicalWrite
from clinicdesk.clinical.models import NoteTemplate
from clinicdesk.clinical.schemas.notes import NoteTemplateWrite, QuickPhraseWrite
from clinicdesk.clinical.service import note_templates, phrases
from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused
from clinicdesk.scheduling import public as scheduling

router = APIRouter(include_in_schema=False)

TEMPLATES = "/note-templates"
PHRASES = "/quick-phrases"
TEMPLATE_FIELDS = (
    "name",
    "appointment_type_id",
    "subjective",
    "objective",
    "assessment",
    "plan",
    "body",
)
TEMPLATE_LABELS = {"appointment_type_id": "Appointment type", "body": "Free text"}


async def _template_values(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = dict(form_text(form, TEMPLATE_FIELDS))
    values["is_active"] = form.get("is_active", "true") == "true"
    return values


async def _templates_page(
    request: Request,
    session: SessionDep,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "clinical/note_templates.html",
        {
            "templates": await note_templates.list_templates(session, active_only=False),
            "types": {t.id: t for t in await scheduling.list_types(session, active_only=False)},
            "failed": failed,
        },
        status_code=status_code,
    )


@router.get(TEMPLATES, response_class=HTMLResponse)
async def templates_page(
    request: Request, actor: ClinicalWrite, session: SessionDep
) -> HTMLResponse:
    return await _templates_page(request, session)


@router.post(TEMPLATES, response_class=HTMLResponse)
async def create_template(request: Request, actor: ClinicalWrite, session: SessionDep) -> Response:
    values = await _template_values(request)
    try:
        data = parse_form(NoteTemplateWrite, values, labels=TEMPLATE_LABELS)
        async with all_or_nothing(session):
            template = await note_templates.create_template(session, actor=actor, data=data)
    except ClinicError as error:
        failed = Refused.of("new-template", error, values)
        return await _templates_page(request, session, failed=failed, status_code=error.status_code)
    response = redirect(TEMPLATES)
    flash(request, response, f"Template {template.name} added.")
    return response


async def _template_page(
    request: Request,
    session: SessionDep,
    template: NoteTemplate,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "clinical/note_template.html",
        {
            "template": template,
            "types": {t.id: t for t in await scheduling.list_types(session, active_only=False)},
            "failed": failed,
        },
        status_code=status_code,
    )


@router.get(TEMPLATES + "/{note_template_id}", response_class=HTMLResponse)
async def template_page(
    request: Request, note_template_id: uuid.UUID, actor: ClinicalWrite, session: SessionDep
) -> HTMLResponse:
    template = await note_templates.get_template(session, note_template_id)
    return await _template_page(request, session, template)


@router.post(TEMPLATES + "/{note_template_id}", response_class=HTMLResponse)
async def update_template(
    request: Request,
    note_template_id: uuid.UUID,
    actor: ClinicalWrite,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    template = await note_templates.get_template(session, note_template_id)  # 404 first
    values = await _template_values(request)
    try:
        data = parse_form(NoteTemplateWrite, values, labels=TEMPLATE_LABELS)
        async with all_or_nothing(session):
            await note_templates.update_template(
                session,
                actor=actor,
                template_id=template.id,
                data=data,
                expected_version=version,
            )
    except NotFound:
        raise
    except ClinicError as error:
        await session.refresh(template)
        failed = Refused.of("template", error, values)
        return await _template_page(
            request, session, template, failed=failed, status_code=error.status_code
        )
    response = redirect(TEMPLATES)
    flash(request, response, f"Template {data.name} saved.")
    return response


# --- quick phrases --------------------------------------------------------------------------


async def _phrases_page(
    request: Request,
    session: SessionDep,
    actor: Any,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "clinical/quick_phrases.html",
        {
            "phrases": await phrases.list_phrases(session, actor=actor),
            "builtins": phrases.builtin_list(),
            "failed": failed,
        },
        status_code=status_code,
    )


@router.get(PHRASES, response_class=HTMLResponse)
async def phrases_page(request: Request, actor: ClinicalWrite, session: SessionDep) -> HTMLResponse:
    return await _phrases_page(request, session, actor)


@router.post(PHRASES, response_class=HTMLResponse)
async def create_phrase(request: Request, actor: ClinicalWrite, session: SessionDep) -> Response:
    form = await request.form()
    values: dict[str, Any] = dict(form_text(form, ("trigger", "expansion")))
    values["shared"] = form.get("shared") == "true"
    try:
        data = parse_form(QuickPhraseWrite, values, labels={"expansion": "Text"})
        async with all_or_nothing(session):
            phrase = await phrases.create_phrase(session, actor=actor, data=data)
    except ClinicError as error:
        failed = Refused.of("new-phrase", error, values)
        return await _phrases_page(
            request, session, actor, failed=failed, status_code=error.status_code
        )
    response = redirect(PHRASES)
    flash(request, response, f"Quick phrase .{phrase.trigger} added.")
    return response


@router.post(PHRASES + "/{phrase_id}/delete", response_class=HTMLResponse)
async def delete_phrase(
    request: Request,
    phrase_id: uuid.UUID,
    actor: ClinicalWrite,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    response = redirect(PHRASES)
    try:
        async with all_or_nothing(session):
            await phrases.delete_phrase(
                session, actor=actor, phrase_id=phrase_id, expected_version=version
            )
    except NotFound:
        raise
    except ClinicError as error:
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, "Quick phrase removed.")
    return response
