"""Who sees which appointment event on a live screen (registered with ``core.live`` when
the app is built): staff who may read the schedule, in their organization. Displays and
patients' screens get none (a patient's own appointments are read from the portal)."""

from __future__ import annotations

from clinicdesk.core.live import LiveRules, requires
from clinicdesk.core.permissions import Permission

EVENT_PREFIX = "appointment."


def register(rules: LiveRules) -> None:
    rules.register(EVENT_PREFIX, staff=requires(Permission.SCHEDULING_READ))
