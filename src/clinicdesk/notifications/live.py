"""Who sees which alert event on a live screen (registered with ``core.live`` when the
app is built): the staff member an alert is for, or everyone holding the role it is
addressed to. The event carries that address and nothing else (no title, no patient):
the header's bell asks for its own count when it hears one."""

from __future__ import annotations

from clinicdesk.core.events import Event
from clinicdesk.core.live import Listener, LiveRules, Shown

EVENT_PREFIX = "alert."


def for_staff(listener: Listener, event: Event) -> Shown:
    user_id, role = event.data.get("user_id"), event.data.get("role")
    if user_id is not None and listener.user_id is not None and user_id == str(listener.user_id):
        return event.type, {}
    if role is not None and role in listener.roles:
        return event.type, {}
    return None


def register(rules: LiveRules) -> None:
    rules.register(EVENT_PREFIX, staff=for_staff)
