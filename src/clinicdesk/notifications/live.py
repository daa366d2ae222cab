"""Who sees which notification event on a live screen (registered with ``core.live`` when
the app is built): a message's new status goes to staff who may read the messages log,
in their organization, as its id and status only (no address, no text, no patient)."""

from __future__ import annotations

from clinicdesk.core.events import Event
from clinicdesk.core.live import Listener, LiveRules, Shown, only
from clinicdesk.core.permissions import Permission

EVENT_PREFIX = "message."
STATUS_EVENT = "message.status"


def for_staff(listener: Listener, event: Event) -> Shown:
    if Permission.NOTIFICATIONS_READ not in listener.permissions:
        return None
    return event.type, only(event.data, ("message_id", "status"))


def register(rules: LiveRules) -> None:
    rules.register(EVENT_PREFIX, staff=for_staff)
