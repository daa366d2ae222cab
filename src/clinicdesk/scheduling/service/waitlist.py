"""The waitlist: patients waiting for a slot, and the offers freed time makes them.

Rules:

* When a cancellation, a no-show or a move frees a provider's time, the *first* waiting
  entry (oldest first) that a free slot in that time suits gets it offered, in the same
  transaction as the change: same location, the entry's provider if it named one, a
  local date in its range, its part of the day, and a slot of its type that fits (the
  type's duration plus buffer inside the provider's open hours, over no appointment and
  no other outstanding offer), found the way ``slots.find_slots`` finds slots. One freed
  time makes at most one offer.
* An offer does not hold the time: accepting it books it with the normal checks. If the
  time was taken meanwhile, the entry goes back to waiting (that change is kept) and the
  answer is a 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.patients.public import get_writable_patient
from clinicdesk.scheduling.availability import Interval, free_slots
from clinicdesk.scheduling.errors import (
    BookingRefused,
    OutsideHours,
    SlotTaken,
    TransitionRefused,
    WaitlistEntryNotFound,
)
from clinicdesk.scheduling.models import Appointment, AppointmentType, WaitlistEntry
from clinicdesk.scheduling.schemas import AppointmentCreate
from clinicdesk.scheduling.series_schemas import WaitlistWrite
from clinicdesk.scheduling.service import booking
from clinicdesk.scheduling.service.hours import location_zone, open_time
from clinicdesk.scheduling.service.setup import check_works_at, get_provider, get_type
from clinicdesk.scheduling.service.slots import PARTS_OF_DAY, STEP, busy_times
from clinicdesk.scheduling.signals import (
    WaitlistOfferAccepted,
    WaitlistOffered,
    waitlist_offer_accepted,
    waitlist_offered,
)
from clinicdesk.scheduling.vocabulary import WaitlistStatus

MAX_LISTED = 500


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What accepting an offer did: the booking, or why not (the entry waits again)."""

    entry: WaitlistEntry
    outcome: Appointment | ClinicError


async def get_entry(session: AsyncSession, entry_id: uuid.UUID) -> WaitlistEntry:
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise WaitlistEntryNotFound("No waitlist entry with this id.")
    return entry


async def list_entries(
    session: AsyncSession, *, actor: Actor, status: WaitlistStatus | None, limit: int = 100
) -> list[WaitlistEntry]:
    """Oldest first: the order offers are made in. Recorded as a read by ``actor``."""
    statement = select(WaitlistEntry).order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    if status is not None:
        statement = statement.where(WaitlistEntry.status == status)
    found = list((await session.scalars(statement.limit(min(limit, MAX_LISTED)))).all())
    await audit.record_list_read(
        session, actor=actor, patient_ids=[e.patient_id for e in found], view="waitlist"
    )
    return found


async def _record(
    session: AsyncSession,
    *,
    actor: Actor,
    entry: WaitlistEntry,
    before: dict[str, object] | None,
    action: str,
    details: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        action=f"waitlist.{action}",
        actor=actor,
        resource_type="waitlist_entry",
        resource_id=entry.id,
        patient_id=entry.patient_id,
        changes=audit.changes(before, audit.snapshot(entry)),
        details=details,
    )


async def add_entry(session: AsyncSession, *, actor: Actor, data: WaitlistWrite) -> WaitlistEntry:
    patient = await get_writable_patient(session, data.patient_id, actor=actor)
    await get_type(session, data.type_id)
    await identity.get_location(session, data.location_id)
    if data.provider_id is not None:
        await check_works_at(session, data.provider_id, data.location_id)
    entry = WaitlistEntry(
        patient_id=patient.id,
        provider_id=data.provider_id,
        type_id=data.type_id,
        location_id=data.location_id,
        earliest=data.earliest,
        latest=data.latest,
        part_of_day=data.part_of_day,
        notes=data.notes,
        status=WaitlistStatus.WAITING,
    )
    session.add(entry)
    await session.flush()
    await _record(session, actor=actor, entry=entry, before=None, action="added")
    return entry


async def remove_entry(
    session: AsyncSession, *, actor: Actor, entry_id: uuid.UUID
) -> WaitlistEntry:
    """A waiting or offered entry leaves the list (an outstanding offer lapses with it)."""
    entry = await get_entry(session, entry_id)
    if entry.status not in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
        raise TransitionRefused(f"A {entry.status} waitlist entry cannot be removed.")
    before = audit.snapshot(entry)
    entry.status = WaitlistStatus.REMOVED
    await session.flush()
    await _record(session, actor=actor, entry=entry, before=before, action="removed")
    return entry


async def _offered_busy(
    session: AsyncSession, *, provider_id: uuid.UUID, start: datetime, end: datetime
) -> list[Interval]:
    """Time outstanding offers promise (with their type's buffer): not offered twice."""
    rows = await session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offered_provider_id == provider_id,
            WaitlistEntry.offered_start < end,
            WaitlistEntry.offered_end > start - timedelta(days=1),
        )
    )
    busy: list[Interval] = []
    for offer in rows:
        if offer.offered_start is None or offer.offered_end is None:
            continue
        kind = await get_type(session, offer.type_id)
        busy.append(
            (offer.offered_start, offer.offered_end + timedelta(minutes=kind.buffer_after_minutes))
        )
    return busy


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


async def _slot_for(
    session: AsyncSession,
    *,
    entry: WaitlistEntry,
    kind: AppointmentType,
    provider_id: uuid.UUID,
    freed: Interval,
    zone: ZoneInfo,
) -> Interval | None:
    """The free slot of ``kind`` nearest the freed time that uses some of it and suits the
    entry, or None."""
    freed_start, freed_end = freed
    held = timedelta(minutes=kind.duration_minutes + kind.buffer_after_minutes)
    # Whole local days, as find_slots searches, so slots sit on the same grid.
    window_start = _day_start((freed_start - held).astimezone(zone).date(), zone)
    window_end = _day_start(freed_end.astimezone(zone).date() + timedelta(days=1), zone)
    hours = await open_time(
        session,
        provider_id=provider_id,
        location_id=entry.location_id,
        start=window_start,
        end=window_end,
        zone=zone,
    )
    if not hours:
        return None
    busy = await busy_times(session, provider_id=provider_id, start=window_start, end=window_end)
    busy += await _offered_busy(
        session, provider_id=provider_id, start=window_start, end=window_end
    )
    not_before = max(utcnow(), freed_start - held + timedelta(microseconds=1))
    candidates = free_slots(
        hours,
        busy,
        duration=timedelta(minutes=kind.duration_minutes),
        buffer_after=timedelta(minutes=kind.buffer_after_minutes),
        step=STEP,
        not_before=not_before,
        limit=int((freed_end - not_before) / STEP) + 2,
        zone=zone,
        part_of_day=PARTS_OF_DAY.get(entry.part_of_day) if entry.part_of_day else None,
    )
    suitable = [
        (start, end)
        for start, end in candidates
        if start < freed_end and entry.earliest <= start.astimezone(zone).date() <= entry.latest
    ]
    # The slot nearest the freed time: a cancelled 10:00 is offered as 10:00.
    return min(suitable, key=lambda slot: abs(slot[0] - freed_start), default=None)


async def offer_freed_time(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    freed: Interval,
) -> WaitlistEntry | None:
    """Offer time just freed to the first waiting entry it suits (see the module rules);
    records the offer on the entry, its audit entry and the live event
    ``waitlist.offered``. Returns the entry offered to, or None.

    The signal ``waitlist_offered`` follows in this transaction: notifications tells the
    patient (a reply ``C`` takes the time); the front desk sees the offer live as well.
    """
    if freed[1] <= utcnow():
        return None
    try:
        await check_works_at(session, provider_id, location_id)
    except BookingRefused:
        return None
    zone = await location_zone(session, location_id)
    first_day = freed[0].astimezone(zone).date() - timedelta(days=1)
    last_day = freed[1].astimezone(zone).date() + timedelta(days=1)
    waiting = await session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.status == WaitlistStatus.WAITING,
            WaitlistEntry.location_id == location_id,
            WaitlistEntry.provider_id.is_(None) | (WaitlistEntry.provider_id == provider_id),
            WaitlistEntry.earliest <= last_day,
            WaitlistEntry.latest >= first_day,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    for entry in list(waiting):
        kind = await get_type(session, entry.type_id)
        if not kind.is_active:
            continue
        slot = await _slot_for(
            session, entry=entry, kind=kind, provider_id=provider_id, freed=freed, zone=zone
        )
        if slot is None:
            continue
        before = audit.snapshot(entry)
        entry.status = WaitlistStatus.OFFERED
        entry.offered_provider_id = provider_id
        entry.offered_start, entry.offered_end = slot
        entry.offered_at = utcnow()
        await session.flush()
        await _record(session, actor=actor, entry=entry, before=before, action="offered")
        publish_after_commit(
            session,
            Event(
                organization_id=entry.organization_id,
                type="waitlist.offered",
                data={
                    "entry_id": str(entry.id),
                    "patient_id": str(entry.patient_id),
                    "provider_id": str(provider_id),
                    "location_id": str(location_id),
                    "type_id": str(entry.type_id),
                    "starts_at": slot[0].isoformat(),
                    "ends_at": slot[1].isoformat(),
                },
            ),
        )
        await waitlist_offered.send(
            session, WaitlistOffered(actor=actor, entry_id=entry.id, patient_id=entry.patient_id)
        )
        return entry
    return None


async def accept_offer(session: AsyncSession, *, actor: Actor, entry_id: uuid.UUID) -> Acceptance:
    """Book the offered slot through ``booking.book`` (all its checks). When the time is
    no longer bookable the entry waits again and the outcome is the error saying why; the
    caller answers with it without rolling that back."""
    entry = await get_entry(session, entry_id)
    if (
        entry.status != WaitlistStatus.OFFERED
        or entry.offered_provider_id is None
        or entry.offered_start is None
    ):
        raise TransitionRefused(f"Only an offer can be accepted; this entry is {entry.status}.")
    await get_provider(session, entry.offered_provider_id)
    data = AppointmentCreate(
        patient_id=entry.patient_id,
        provider_id=entry.offered_provider_id,
        location_id=entry.location_id,
        type_id=entry.type_id,
        starts_at=entry.offered_start,
        reason=entry.notes[:500] if entry.notes else None,
    )
    before = audit.snapshot(entry)
    try:
        if entry.offered_start <= utcnow():
            raise OutsideHours("The offered time has passed.")
        async with session.begin_nested():
            appointment = await booking.book(session, actor=actor, data=data, via="waitlist")
    except (SlotTaken, OutsideHours) as refused:
        entry.status = WaitlistStatus.WAITING
        entry.offered_provider_id = None
        entry.offered_start = entry.offered_end = entry.offered_at = None
        await session.flush()
        await _record(
            session,
            actor=actor,
            entry=entry,
            before=before,
            action="offer_lapsed",
            details={"reason": refused.code},
        )
        return Acceptance(entry=entry, outcome=refused)
    entry.status = WaitlistStatus.BOOKED
    await session.flush()
    await _record(
        session,
        actor=actor,
        entry=entry,
        before=before,
        action="booked",
        details={"appointment_id": str(appointment.id)},
    )
    await waitlist_offer_accepted.send(
        session,
        WaitlistOfferAccepted(
            actor=actor,
            entry_id=entry.id,
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            provider_id=appointment.provider_id,
            starts_at=appointment.starts_at,
        ),
    )
    return Acceptance(entry=entry, outcome=appointment)
