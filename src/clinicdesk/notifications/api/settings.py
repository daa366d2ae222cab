"""JSON API of how messages are timed and worded: the settings, the templates (with a
preview), a test send and each channel's connection test (the administrator's)."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.access import NotificationsManage
from clinicdesk.notifications.api.webhooks import SendersDep
from clinicdesk.notifications.message_schemas import (
    ChannelCheck,
    MessageView,
    NotificationSettingsView,
    NotificationSettingsWrite,
    PreviewView,
    TemplateView,
    TemplateWrite,
    TestSend,
)
from clinicdesk.notifications.service import configuration, messages

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

TEMPLATE = "/templates/{purpose}/{channel}/{language}"


@router.get("/settings", response_model=NotificationSettingsView)
async def read_settings(
    response: Response, session: SessionDep, actor: NotificationsManage
) -> NotificationSettingsView:
    """Reminder lead times (minutes before), quiet hours, the grace delay, the daily
    limit per patient, the channels in the order they are tried."""
    settings = await configuration.get_settings(session)
    with_etag(response, settings.version)
    return configuration.settings_view(settings)


@router.put("/settings", response_model=NotificationSettingsView)
async def change_settings(
    response: Response,
    session: SessionDep,
    actor: NotificationsManage,
    body: NotificationSettingsWrite,
    if_match: IfMatch,
) -> NotificationSettingsView:
    """Replace the settings (send ``If-Match`` with the ETag you read)."""
    settings = await configuration.update_settings(
        session, actor=actor, data=body, expected_version=if_match
    )
    with_etag(response, settings.version)
    return configuration.settings_view(settings)


@router.get("/templates", response_model=list[TemplateView])
async def list_templates(session: SessionDep, actor: NotificationsManage) -> list[TemplateView]:
    """Every purpose x channel x language, the organization's own or the shipped one
    (``customized``)."""
    return await configuration.list_templates(session)


@router.get(TEMPLATE, response_model=TemplateView)
async def read_template(
    purpose: str,
    channel: str,
    language: str,
    response: Response,
    session: SessionDep,
    actor: NotificationsManage,
) -> TemplateView:
    """The wording in use; its ETag is ``W/"0"`` while it is the shipped one."""
    view = await configuration.template_view(
        session, messages.template_key(purpose, channel, language)
    )
    with_etag(response, view.version or 0)
    return view


@router.put(TEMPLATE, response_model=TemplateView)
async def save_template(
    purpose: str,
    channel: str,
    language: str,
    response: Response,
    session: SessionDep,
    actor: NotificationsManage,
    body: TemplateWrite,
    if_match: IfMatch,
) -> TemplateView:
    """The organization's own wording; refused (422) when it cannot be filled in (an
    unknown field, a syntax error, anything the sandbox forbids) or is too long."""
    key = messages.template_key(purpose, channel, language)
    await configuration.save_template(
        session, actor=actor, key=key, data=body, expected_version=if_match or None
    )
    view = await configuration.template_view(session, key)
    with_etag(response, view.version or 0)
    return view


@router.delete(TEMPLATE, status_code=204)
async def reset_template(
    purpose: str, channel: str, language: str, session: SessionDep, actor: NotificationsManage
) -> Response:
    """Back to the shipped wording."""
    key = messages.template_key(purpose, channel, language)
    await configuration.reset_template(session, actor=actor, key=key)
    return Response(status_code=204)


@router.post(TEMPLATE + "/preview", response_model=PreviewView)
async def preview_template(
    purpose: str, channel: str, language: str, actor: NotificationsManage, body: TemplateWrite
) -> PreviewView:
    """The wording filled in with sample values (nothing is saved); 422 says why not."""
    key = messages.template_key(purpose, channel, language)
    rendered = configuration.preview(body, key.channel)
    return PreviewView(subject=rendered.subject, body=rendered.body)


@router.post(
    "/test-send",
    response_model=MessageView,
    status_code=201,
    summary="Send a test message to an address (send Idempotency-Key to retry safely)",
)
async def send_test_message(
    session: SessionDep,
    actor: NotificationsManage,
    body: TestSend,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The organization's test wording for the channel and language, to ``to`` (a phone
    number with its country code, or an e-mail address); follow it in the messages log."""

    async def create() -> MessageView:
        return MessageView.model_validate(await messages.send_test(session, actor=actor, data=body))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/notifications/test-send",
        body=body,
        create=create,
    )


@router.post("/channels/{channel}/check", response_model=ChannelCheck)
async def check_channel(
    channel: str, actor: NotificationsManage, senders: SendersDep
) -> ChannelCheck:
    """Test the channel's connection (Twilio: the account and its credentials); 502
    with the provider's words when it does not work."""
    found = messages.channel_named(channel)
    detail = await messages.check_channel(senders, found)
    return ChannelCheck(channel=found, ok=True, detail=detail)
