"""Who sees which queue event on a live screen (registered with ``core.live`` when the app
is built; the stream itself is ``clinicdesk.web.live``):

* staff who may read the schedule: every queue and provider-status event of their
  organization; events carry ids, tokens, statuses and rooms, never names;
* a waiting-room display: its location's queue events, reduced to token, status and room;
* a patient (by their private link, or signed in to the portal): their own visit's
  events, and a content-free ``queue.changed`` when a queue they wait in moved (their
  position may have changed; the page asks for it again).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.events import Event
from clinicdesk.core.live import Listener, LiveRules, Shown, only, requires
from clinicdesk.core.models import utcnow
from clinicdesk.core.permissions import Permission
from clinicdesk.queue.models import Visit
from clinicdesk.queue.service.common import EVENT_PREFIX
from clinicdesk.queue.service.providers import PROVIDER_STATUS_EVENT
from clinicdesk.queue.vocabulary import OPEN_STATUSES

QUEUE_CHANGED = "queue.changed"
# listener.facts[WAITING_AT]: the patient's open visits, where they wait and for whom
# (their position moves when these queues move).
WAITING_AT = "queue.waiting_at"
_DISPLAY_FIELDS = ("token", "status", "room", "provider_id", "location_id")
_PATIENT_FIELDS = ("visit_id", "token", "status", "room")

Queues = set[tuple[uuid.UUID, uuid.UUID | None]]


def _for_display(listener: Listener, event: Event) -> Shown:
    if event.data.get("location_id") != str(listener.location_id):
        return None
    return event.type, only(event.data, _DISPLAY_FIELDS)


def _waiting_in(listener: Listener) -> set[tuple[str, str | None]]:
    queues: Queues = listener.facts.get(WAITING_AT, set())
    return {(str(location), str(provider) if provider else None) for location, provider in queues}


def _for_patient(listener: Listener, event: Event) -> Shown:
    data = event.data
    own = data.get("patient_id") == str(listener.patient_id) and (
        listener.visit_id is None or data.get("visit_id") == str(listener.visit_id)
    )
    if own:
        return event.type, only(data, _PATIENT_FIELDS)
    touched = {
        (data.get("location_id"), data.get("provider_id")),
        (data.get("location_id"), None),
    }
    return (QUEUE_CHANGED, {}) if _waiting_in(listener) & touched else None


def _status_for_patient(listener: Listener, event: Event) -> Shown:
    waited_for = {provider for _location, provider in _waiting_in(listener)}
    return (QUEUE_CHANGED, {}) if event.data.get("provider_id") in waited_for else None


async def _waiting_at(session: AsyncSession, listener: Listener) -> None:
    if listener.kind != "patient" or listener.patient_id is None:
        return
    statement = select(Visit.location_id, Visit.provider_id).where(
        Visit.patient_id == listener.patient_id,
        Visit.status.in_(OPEN_STATUSES),
        Visit.status_link_expires_at > utcnow(),
    )
    if listener.visit_id is not None:
        statement = statement.where(Visit.id == listener.visit_id)
    found: Queues = {
        (location, provider) for location, provider in await session.execute(statement)
    }
    listener.facts[WAITING_AT] = found


def register(rules: LiveRules) -> None:
    """The queue's events, and the provider's status that moves every wait."""
    rules.register(
        EVENT_PREFIX,
        staff=requires(Permission.SCHEDULING_READ),
        display=_for_display,
        patient=_for_patient,
    )
    rules.register(
        PROVIDER_STATUS_EVENT,
        staff=requires(Permission.SCHEDULING_READ),
        patient=_status_for_patient,
    )
    rules.add_facts(_waiting_at)
