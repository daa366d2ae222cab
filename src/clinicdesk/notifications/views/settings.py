"""The notification settings page (``/admin/notifications``): when reminders go (lead
times in hours or days), quiet hours, the grace delay, the daily limit, the order of the
channels, the extra reminder for a high no-show risk; and a connection test per channel
whose answer shows in place. The administrator's, through the same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused, SettingsSection
from clinicdesk.core.templating import is_htmx
from clinicdesk.notifications.access import NotificationsManage
from clinicdesk.notifications.api.webhooks import SendersDep
from clinicdesk.notifications.kernel.timing import DAY_MINUTES, describe_lead
from clinicdesk.notifications.message_models import NotificationSettings
from clinicdesk.notifications.message_schemas import NotificationSettingsWrite
from clinicdesk.notifications.service import configuration, messages
from clinicdesk.notifications.vocabulary import CHANNEL_LABELS

router = APIRouter(include_in_schema=False)

PAGE = "/admin/notifications"
TEMPLATES = "/admin/notifications/templates"
SETTINGS = (
    SettingsSection(
        "Patient messages",
        PAGE,
        "When confirmations and reminders go, quiet hours, the daily limit, the channels "
        "and their connection test.",
        Permission.NOTIFICATIONS_MANAGE,
    ),
    SettingsSection(
        "Message templates",
        TEMPLATES,
        "The wording of each message per channel and language, with a preview and a test send.",
        Permission.NOTIFICATIONS_MANAGE,
    ),
)
LEAD_ROWS = 4
UNITS = (("days", "days before"), ("hours", "hours before"), ("minutes", "minutes before"))
UNIT_MINUTES = {"days": DAY_MINUTES, "hours": 60, "minutes": 1}
CHANNEL_SLOTS = 3
FIELDS = (
    *(f"lead_{i}" for i in range(LEAD_ROWS)),
    *(f"lead_{i}_unit" for i in range(LEAD_ROWS)),
    *(f"channel_{i}" for i in range(CHANNEL_SLOTS)),
    "quiet_start",
    "quiet_end",
    "grace_minutes",
    "daily_limit",
    "extra_reminder_for_high_risk",
)
LABELS = {
    "reminder_leads": "reminders",
    "quiet_start": "quiet hours from",
    "quiet_end": "quiet hours until",
    "grace_seconds": "grace delay",
    "daily_limit": "messages a day",
    "channels": "channels",
}


def _lead_parts(minutes: int) -> tuple[str, str]:
    for unit in ("days", "hours"):
        if minutes % UNIT_MINUTES[unit] == 0:
            return str(minutes // UNIT_MINUTES[unit]), unit
    return str(minutes), "minutes"


def form_values(settings: NotificationSettings) -> dict[str, Any]:
    """The settings as the form shows them (leads as a number and a unit)."""
    values: dict[str, Any] = {
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "grace_minutes": f"{settings.grace_seconds / 60:g}",
        "daily_limit": str(settings.daily_limit),
        "extra_reminder_for_high_risk": settings.extra_reminder_for_high_risk,
    }
    for i in range(LEAD_ROWS):
        leads = settings.reminder_leads
        number, unit = _lead_parts(leads[i]) if i < len(leads) else ("", "hours")
        values[f"lead_{i}"], values[f"lead_{i}_unit"] = number, unit
    for i in range(CHANNEL_SLOTS):
        values[f"channel_{i}"] = settings.channels[i] if i < len(settings.channels) else ""
    return values


class _Typed(ClinicError):
    status_code = 422
    title = "The submitted data is not valid"
    code = "validation"


def _number(raw: str, what: str) -> float:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        raise _Typed(f"The {what} must be a number.") from None


def write_from_form(
    raw: dict[str, str], current: NotificationSettings
) -> NotificationSettingsWrite:
    leads = []
    for i in range(LEAD_ROWS):
        if raw[f"lead_{i}"]:
            unit = raw[f"lead_{i}_unit"] if raw[f"lead_{i}_unit"] in UNIT_MINUTES else "hours"
            leads.append(round(_number(raw[f"lead_{i}"], "reminder time") * UNIT_MINUTES[unit]))
    grace = raw["grace_minutes"]
    body = {
        "reminder_leads": leads,
        "quiet_start": raw["quiet_start"],
        "quiet_end": raw["quiet_end"],
        "grace_seconds": round(_number(grace, "grace delay") * 60) if grace else "",
        "daily_limit": raw["daily_limit"],
        "channels": [raw[f"channel_{i}"] for i in range(CHANNEL_SLOTS) if raw[f"channel_{i}"]],
        "extra_reminder_for_high_risk": raw["extra_reminder_for_high_risk"] == "true",
        "type_leads": current.type_leads,
    }
    return parse_form(NotificationSettingsWrite, body, labels=LABELS, keep_empty=("channels",))


async def _page(
    request: Request,
    session: SessionDep,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = await configuration.get_settings(session)
    context = {
        "settings": settings,
        "values": form_values(settings),
        "failed": failed,
        "lead_rows": range(LEAD_ROWS),
        "channel_slots": range(CHANNEL_SLOTS),
        "units": UNITS,
        "channel_labels": CHANNEL_LABELS,
        "describe_lead": describe_lead,
    }
    return render(request, "notifications/settings.html", context, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
async def settings_page(
    request: Request, session: SessionDep, actor: NotificationsManage
) -> HTMLResponse:
    return await _page(request, session)


@router.post(PAGE, response_class=HTMLResponse)
async def save_settings(
    request: Request, session: SessionDep, actor: NotificationsManage, version: FormVersion
) -> Response:
    raw = form_text(await request.form(), FIELDS)
    try:
        current = await configuration.get_settings(session)
        data = write_from_form(raw, current)
        async with all_or_nothing(session):
            await configuration.update_settings(
                session, actor=actor, data=data, expected_version=version
            )
    except ClinicError as error:
        refused = Refused.of("settings", error, raw)
        if "grace_seconds" in refused.errors:  # the form asks for minutes
            errors = {**refused.errors, "grace_minutes": refused.errors["grace_seconds"]}
            refused = Refused("settings", refused.message, errors, raw)
        return await _page(request, session, failed=refused, status_code=error.status_code)
    response = redirect(PAGE)
    flash(request, response, "The settings were saved; messages planned from now on follow them.")
    return response


@router.post(PAGE + "/channels/{channel}/check", response_class=HTMLResponse)
async def check_channel(
    channel: str, request: Request, actor: NotificationsManage, senders: SendersDep
) -> Response:
    """The connection test's answer, in place (or on the page again without htmx)."""
    found = messages.channel_named(channel)
    try:
        detail, ok = await messages.check_channel(senders, found), True
    except ClinicError as error:
        detail, ok = error.detail, False
    if not is_htmx(request):
        response = redirect(PAGE)
        flash(request, response, detail, "success" if ok else "error")
        return response
    context = {"channel": found.value, "ok": ok, "detail": detail}
    return render(request, "notifications/_check.html", context)
