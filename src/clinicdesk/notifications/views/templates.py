"""The message templates (``/admin/notifications/templates``): every purpose x channel x
language, the organization's own or the shipped wording; an editor per template with a
live preview (the text filled in with sample values as the administrator types), Save,
Reset to the shipped wording, the fields a template may use, and a test send whose
status follows live on the page (queued -> sent -> delivered)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused
from clinicdesk.notifications.access import NotificationsManage
from clinicdesk.notifications.kernel.templating import BODY_MAX, FIELDS, SUBJECT_MAX
from clinicdesk.notifications.message_schemas import TemplateWrite, TestSend
from clinicdesk.notifications.service import configuration, messages
from clinicdesk.notifications.service.configuration import TemplateKey
from clinicdesk.notifications.views.messages import status_tone, words
from clinicdesk.notifications.views.settings import TEMPLATES
from clinicdesk.notifications.vocabulary import (
    CHANNEL_LABELS,
    LANGUAGES,
    PURPOSE_LABELS,
    Channel,
)

router = APIRouter(include_in_schema=False)

EDITOR = TEMPLATES + "/{purpose}/{channel}/{language}"
LANGUAGE_LABELS = {"en": "English", "es": "Spanish"}


def _address(key: TemplateKey) -> str:
    return f"{TEMPLATES}/{key.purpose.value}/{key.channel.value}/{key.language}"


@router.get(TEMPLATES, response_class=HTMLResponse)
async def templates_page(
    request: Request, session: SessionDep, actor: NotificationsManage
) -> HTMLResponse:
    views = await configuration.list_templates(session)
    grouped: dict[str, list[Any]] = {}
    for view in views:
        grouped.setdefault(view.purpose, []).append(view)
    context = {
        "by_purpose": grouped,
        "purpose_labels": PURPOSE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "language_labels": LANGUAGE_LABELS,
    }
    return render(request, "notifications/templates.html", context)


async def _editor(
    request: Request,
    session: SessionDep,
    key: TemplateKey,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await configuration.template_view(session, key)
    subject = failed.values.get("subject") if failed else view.subject
    body = failed.values.get("body") if failed else view.body
    try:
        preview: Any = configuration.preview(
            TemplateWrite(subject=str(subject or "") or None, body=str(body or " ")), key.channel
        )
        problem = None
    except ClinicError as error:
        preview, problem = None, error.detail
    context = {
        **words(),
        "t": view,
        "key": key,
        "address": _address(key),
        "subject": subject,
        "body": body,
        "failed": failed,
        "preview": preview,
        "problem": problem,
        "fields": FIELDS,
        "is_email": key.channel == Channel.EMAIL,
        "languages": [(code, LANGUAGE_LABELS.get(code, code)) for code in LANGUAGES],
        "body_max": BODY_MAX,
        "subject_max": SUBJECT_MAX,
    }
    return render(request, "notifications/template.html", context, status_code=status_code)


@router.get(EDITOR, response_class=HTMLResponse)
async def template_editor(
    purpose: str,
    channel: str,
    language: str,
    request: Request,
    session: SessionDep,
    actor: NotificationsManage,
) -> HTMLResponse:
    key = messages.template_key(purpose, channel, language)
    return await _editor(request, session, key)


@router.post(EDITOR, response_class=HTMLResponse)
async def save_template(
    purpose: str,
    channel: str,
    language: str,
    request: Request,
    session: SessionDep,
    actor: NotificationsManage,
    version: FormVersion,
) -> Response:
    key = messages.template_key(purpose, channel, language)
    raw = form_text(await request.form(), ("subject", "body"))
    try:
        data = parse_form(TemplateWrite, raw, labels={"body": "text"})
        async with all_or_nothing(session):
            await configuration.save_template(
                session, actor=actor, key=key, data=data, expected_version=version or None
            )
    except ClinicError as error:
        refused = Refused.of("template", error, raw)
        return await _editor(request, session, key, failed=refused, status_code=error.status_code)
    response = redirect(_address(key))
    flash(request, response, "The template was saved; messages sent from now on use it.")
    return response


@router.post(EDITOR + "/reset", response_class=HTMLResponse)
async def reset_template(
    purpose: str,
    channel: str,
    language: str,
    request: Request,
    session: SessionDep,
    actor: NotificationsManage,
) -> Response:
    key = messages.template_key(purpose, channel, language)
    await configuration.reset_template(session, actor=actor, key=key)
    response = redirect(_address(key))
    flash(request, response, "Back to ClinicDesk's wording.")
    return response


@router.post(EDITOR + "/preview", response_class=HTMLResponse)
async def preview_template(
    purpose: str,
    channel: str,
    language: str,
    request: Request,
    actor: NotificationsManage,
) -> HTMLResponse:
    """The text as typed, filled in with sample values (nothing is saved); a template
    that cannot be filled in shows why, in place."""
    key = messages.template_key(purpose, channel, language)
    raw = form_text(await request.form(), ("subject", "body"))
    preview: Any = None
    problem = None
    try:
        data = parse_form(TemplateWrite, raw, labels={"body": "text"})
        preview = configuration.preview(data, key.channel)
    except ClinicError as error:
        problem = error.detail
    context = {"preview": preview, "problem": problem, "is_email": key.channel == Channel.EMAIL}
    return render(request, "notifications/_preview.html", context)


@router.post(TEMPLATES + "/test-send", response_class=HTMLResponse)
async def send_test(request: Request, session: SessionDep, actor: NotificationsManage) -> Response:
    """A test to the address typed; the answer is its status line, kept live."""
    raw = form_text(await request.form(), ("channel", "to", "language"))
    try:
        data = parse_form(TestSend, raw, labels={"to": "address"})
        async with all_or_nothing(session):
            message = await messages.send_test(session, actor=actor, data=data)
    except ClinicError as error:
        said = error.first_message if isinstance(error, FormInvalid) else error.detail
        refused: dict[str, Any] = {"error": said}
        return render(
            request, "notifications/_test_refused.html", refused, status_code=error.status_code
        )
    shown = await messages.read_message(session, actor=actor, message_id=message.id)
    context = {**words(), "m": shown, "tone": status_tone}
    return render(request, "notifications/_message_status.html", context)
