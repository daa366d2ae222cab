"""Who sees which notification event on a live screen (registered with ``core.live`` when
the app is built):

* ``message.status``: a message's new status goes to staff who may read the messages log,
  in their organization, as its id and status only (no address, no text, no patient);
* ``alert.*``: the staff member an alert is for, or everyone holding the role it is
  addressed to. The event carries that address and nothing else (no title, no patient):
  the header's bell asks for its own count when it hears one.
"""

from __future__ import annotations

from clinicdesk.core.events import Event
from clinicdesk.core.live import Listener, LiveRules, Shown, only
from clinicdesk.core.permissions import Permission

MESSAGE_PREFIX = "message."
STATUS_EVENT = "message.status"
ALERT_PREFIX = "alert."


def message_for_staff(listener: Listener, event: Event) -> Shown:
    if Permission.NOTIFICATIONS_READ not in listener.permissions:
        return None
    return event.type, only(event.data, ("message_id", "status"))


def alert_for_staff(listener: Listener, event: Event) -> Shown:
    user_id, role = event.data.get("user_id"), event.data.get("role")
    if user_id is not None and listener.user_id is not None and user_id == str(listener.user_id):
        return event.type, {}
    if role is not None and role in listener.roles:
        return event.type, {}
    return None


def register(rules: LiveRules) -> None:
    rules.register(MESSAGE_PREFIX, staff=message_for_staff)
    rules.register(ALERT_PREFIX, staff=alert_for_staff)
