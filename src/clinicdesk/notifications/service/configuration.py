"""An organization's notification settings and its own templates.

Reading never writes: without a settings row the defaults apply, and without the
organization's own template the shipped one (``kernel.defaults``). Saving a template
renders it with sample values first, so a template that cannot render is refused with
the reason, never stored to fail at 7 a.m. on a patient's reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.models import utcnow
from clinicdesk.notifications.errors import TemplateRefused
from clinicdesk.notifications.kernel.defaults import Wording, default_wording
from clinicdesk.notifications.kernel.templating import Rendered, TemplateInvalid, check
from clinicdesk.notifications.message_models import NotificationSettings, NotificationTemplate
from clinicdesk.notifications.message_schemas import (
    NotificationSettingsView,
    NotificationSettingsWrite,
    TemplateView,
    TemplateWrite,
)
from clinicdesk.notifications.vocabulary import LANGUAGES, Channel, Purpose


def _defaults() -> NotificationSettings:
    settings = NotificationSettings()
    for column in NotificationSettings.__table__.columns:
        default = column.default
        if default is not None and getattr(settings, column.key, None) is None:
            value = default.arg
            setattr(settings, column.key, value(None) if callable(value) else value)
    return settings


async def get_settings(session: AsyncSession) -> NotificationSettings:
    """The organization's settings (the defaults, not stored, when it has none)."""
    found = await session.scalar(select(NotificationSettings))
    return found if found is not None else _defaults()


def settings_view(settings: NotificationSettings) -> NotificationSettingsView:
    return NotificationSettingsView.model_validate(settings)


async def update_settings(
    session: AsyncSession,
    *,
    actor: Actor,
    data: NotificationSettingsWrite,
    expected_version: int | None,
) -> NotificationSettings:
    settings = await session.scalar(select(NotificationSettings))
    before = audit.snapshot(settings) if settings is not None else None
    if settings is None:
        settings = _defaults()
        settings.organization_id = actor.organization_id
        session.add(settings)
    elif expected_version is not None and expected_version != settings.version:
        raise PreconditionFailed(
            "Someone else changed these settings since you opened them. Reload and try again.",
            current_version=settings.version,
        )
    else:
        settings.version += 1
    settings.reminder_leads = list(data.reminder_leads)
    settings.type_leads = {str(key): leads for key, leads in data.type_leads.items()}
    settings.quiet_start = data.quiet_start
    settings.quiet_end = data.quiet_end
    settings.grace_seconds = data.grace_seconds
    settings.daily_limit = data.daily_limit
    settings.channels = [channel.value for channel in data.channels]
    settings.extra_reminder_for_high_risk = data.extra_reminder_for_high_risk
    settings.updated_at = utcnow()
    await session.flush()
    await audit.record_change(
        session,
        actor,
        "notifications.settings_updated",
        settings,
        before,
        resource_type="notification_settings",
    )
    return settings


@dataclass(frozen=True, slots=True)
class TemplateKey:
    purpose: Purpose
    channel: Channel
    language: str


def _template_query(key: TemplateKey) -> Select[Any]:
    # A text template is kept per channel, so SMS and WhatsApp can differ.
    return select(NotificationTemplate).where(
        NotificationTemplate.purpose == key.purpose.value,
        NotificationTemplate.channel == key.channel.value,
        NotificationTemplate.language == key.language,
    )


async def wording(session: AsyncSession, key: TemplateKey) -> Wording:
    """What a message of ``key`` says: the organization's own template or the default."""
    own = await session.scalar(_template_query(key))
    if own is not None:
        return Wording(subject=own.subject, body=own.body)
    return default_wording(key.purpose, key.channel, key.language)


def _view(key: TemplateKey, own: NotificationTemplate | None) -> TemplateView:
    text = (
        Wording(subject=own.subject, body=own.body)
        if own is not None
        else default_wording(key.purpose, key.channel, key.language)
    )
    return TemplateView(
        purpose=key.purpose.value,
        channel=key.channel.value,
        language=key.language,
        subject=text.subject,
        body=text.body,
        customized=own is not None,
        version=own.version if own is not None else None,
    )


async def template_view(session: AsyncSession, key: TemplateKey) -> TemplateView:
    return _view(key, await session.scalar(_template_query(key)))


async def list_templates(session: AsyncSession) -> list[TemplateView]:
    rows = {
        (row.purpose, row.channel, row.language): row
        for row in await session.scalars(select(NotificationTemplate))
    }
    return [
        _view(
            TemplateKey(purpose, channel, language),
            rows.get((purpose.value, channel.value, language)),
        )
        for purpose in Purpose
        for channel in Channel
        for language in LANGUAGES
    ]


def preview(data: TemplateWrite, channel: Channel) -> Rendered:
    """The template filled in with sample values, or ``TemplateRefused`` saying why."""
    try:
        return check(data.subject if channel == Channel.EMAIL else None, data.body)
    except TemplateInvalid as error:
        raise TemplateRefused(str(error)) from None


async def save_template(
    session: AsyncSession,
    *,
    actor: Actor,
    key: TemplateKey,
    data: TemplateWrite,
    expected_version: int | None,
) -> NotificationTemplate:
    if key.channel == Channel.EMAIL and not (data.subject or "").strip():
        raise TemplateRefused("An e-mail needs a subject.")
    preview(data, key.channel)
    own: NotificationTemplate | None = await session.scalar(_template_query(key))
    before = audit.snapshot(own) if own is not None else None
    if own is None:
        own = NotificationTemplate(
            purpose=key.purpose.value,
            channel=key.channel.value,
            language=key.language,
            version=1,
        )
        session.add(own)
    elif expected_version is not None and expected_version != own.version:
        raise PreconditionFailed(
            "Someone else changed this template since you opened it. Reload and try again.",
            current_version=own.version,
        )
    else:
        own.version += 1
    own.subject = data.subject.strip() if key.channel == Channel.EMAIL and data.subject else None
    own.body = data.body.strip()
    own.updated_at = utcnow()
    own.updated_by_id = actor.user_id
    await session.flush()
    await audit.record_change(
        session,
        actor,
        "notifications.template_saved",
        own,
        before,
        resource_type="notification_template",
    )
    return own


async def reset_template(session: AsyncSession, *, actor: Actor, key: TemplateKey) -> None:
    """Go back to the shipped wording (the organization's own is removed, audited)."""
    own = await session.scalar(_template_query(key))
    if own is None:
        return
    before = audit.snapshot(own)
    await session.execute(delete(NotificationTemplate).where(NotificationTemplate.id == own.id))
    await audit.record(
        session,
        action="notifications.template_reset",
        actor=actor,
        resource_type="notification_template",
        resource_id=own.id,
        changes=audit.changes(before, {}),
    )
