"""Shared pieces of the calendar pages: the location's wall clock, the providers shown,
and appointments shaped for the browser calendar.

Time zones: the browser calendar (EventCalendar) is fed *local wall-clock* ISO strings
without an offset, in the location's time zone, and sends wall-clock strings back. The
server alone converts between the location's zone and UTC, so the calendar shows the
clinic's hours whatever time zone the browser is in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.dates import format_local_date, in_window
from clinicdesk.core.errors import InvalidField
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import Location
from clinicdesk.patients.public import Patient, patients_by_id
from clinicdesk.scheduling.models import Appointment, AppointmentType, Provider
from clinicdesk.scheduling.policies import high_no_show_risk
from clinicdesk.scheduling.service import setup
from clinicdesk.scheduling.service.hours import location_zone, open_time
from clinicdesk.scheduling.vocabulary import LABELS, AppointmentStatus

ACTIVE = {AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.BOOKED}
STATUS_WORDS: dict[str, str] = LABELS["appointment_status"]
# The calendar's visible day when no provider has hours here.
DEFAULT_DAY = ("07:00:00", "19:00:00")


def wall_clock(value: datetime, zone: ZoneInfo) -> str:
    """``2026-11-23T09:00:00``: the location's local time, no offset."""
    return value.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def from_wall_clock(text: str, zone: ZoneInfo, field_name: str = "starts_at") -> datetime:
    """A wall-clock time typed or dragged in the location's zone, as an aware datetime.
    An offset sent along is ignored: the calendar works in the location's time."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidField(field_name, "Give a date and time such as 2026-11-23T09:00.") from None
    if not in_window(parsed):
        raise InvalidField(field_name, "Check the year: that date is not one the calendar keeps.")
    return parsed.replace(tzinfo=zone)


def parse_day(text: str | None, zone: ZoneInfo) -> date:
    """The day a calendar address names; today when it names none we can show."""
    if text:
        try:
            day = date.fromisoformat(text[:10])
        except ValueError:
            pass
        else:
            if in_window(day):
                return day
    return datetime.now(zone).date()


@dataclass
class Book:
    """What a calendar page at one location needs: the place, its zone, who works there."""

    location: Location
    locations: list[Location]
    zone: ZoneInfo
    providers: list[Provider]
    types: list[AppointmentType]
    slot_min: str = DEFAULT_DAY[0]
    slot_max: str = DEFAULT_DAY[1]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time_zone(self) -> str:
        return self.zone.key


async def open_book(session: AsyncSession, location_id: uuid.UUID | None) -> Book:
    """The chosen location (the first active one by default) and its providers."""
    locations = await identity.active_locations(session)
    if location_id is not None:
        location = await identity.get_location(session, location_id)
    elif locations:
        location = locations[0]
    else:
        raise InvalidField("location_id", "Add a location first (Organization settings).")
    zone = await location_zone(session, location.id)
    providers = await setup.providers_at(session, location.id)
    types = await setup.list_types(session)
    book = Book(location, locations, zone, providers, types)
    starts: list[time] = []
    ends: list[time] = []
    for provider in providers:
        for block in await setup.weekly_hours(session, provider.id):
            if block.location_id == location.id:
                starts.append(block.start_time)
                ends.append(block.end_time)
    if starts:
        last = max(ends)
        book.slot_min = f"{max(min(starts).hour - 1, 0):02d}:00:00"
        book.slot_max = f"{min(last.hour + (2 if last.minute else 1), 24):02d}:00:00"
    return book


RISK_MARK = "High no-show risk"


def risk_note(appointment: Appointment) -> str | None:
    """The high-risk mark's tooltip ("Predicted no-show risk: 34 %"), or None when the
    appointment is not marked (``policies.high_no_show_risk``)."""
    if not high_no_show_risk(appointment) or appointment.no_show_risk is None:
        return None
    return f"Predicted no-show risk: {round(appointment.no_show_risk * 100)} %"


# Events this short (one or two 15-minute rows) get one line: the name, cut with an
# ellipsis; the time and the rest are in the tooltip and the accessible name.
SHORT = timedelta(minutes=20)


def _title(appointment: Appointment, patient: Patient | None, kind: AppointmentType | None) -> str:
    """The patient's name first, so the shortest event still shows whose it is."""
    name = patient.display_name if patient else "Patient"
    words = [name, "·", kind.name if kind else "Appointment"]
    if appointment.status != AppointmentStatus.BOOKED:
        words.append(f"[{STATUS_WORDS.get(appointment.status, appointment.status)}]")
    if appointment.overbooked:
        words.insert(0, "⚑")
    if high_no_show_risk(appointment):
        words.insert(0, "⚠")
    return " ".join(words)


def _details(
    appointment: Appointment,
    patient: Patient | None,
    kind: AppointmentType | None,
    provider: str,
    zone: ZoneInfo,
) -> str:
    """Everything the event says, for its tooltip and its accessible name."""
    starts = wall_clock(appointment.starts_at, zone)
    parts = [
        f"{starts[11:16]}-{wall_clock(appointment.ends_at, zone)[11:16]}",
        patient.display_name if patient else "Patient",
        kind.name if kind else "Appointment",
        provider,
        STATUS_WORDS.get(appointment.status, appointment.status),
    ]
    if appointment.overbooked:
        parts.append("overbooked")
    note = risk_note(appointment)
    if note:
        parts.append(f"{RISK_MARK} ({note.rsplit(': ', 1)[-1]})")
    return " · ".join(p for p in parts if p)


async def calendar_events(
    session: AsyncSession,
    *,
    book: Book,
    appointments: list[Appointment],
    providers: list[Provider],
    start: datetime,
    end: datetime,
    editable: bool,
) -> list[dict[str, Any]]:
    """EventCalendar event objects: the appointments, and each provider's open hours
    as background events (the grid outside them is shaded)."""
    patients = await patients_by_id(session, {a.patient_id for a in appointments})
    types = {t.id: t for t in book.types}
    for appointment in appointments:
        if appointment.type_id not in types:  # an inactive type still shows
            types[appointment.type_id] = await setup.get_type(session, appointment.type_id)
    events: list[dict[str, Any]] = []
    names = {p.id: p.display_name for p in book.providers}
    for provider in providers:
        hours = await open_time(
            session,
            provider_id=provider.id,
            location_id=book.location.id,
            start=start,
            end=end,
            zone=book.zone,
        )
        events.extend(
            {
                "start": wall_clock(opens, book.zone),
                "end": wall_clock(closes, book.zone),
                "display": "background",
                "resourceId": str(provider.id),
                "classNames": ["cal-open"],
            }
            for opens, closes in hours
        )
    for appointment in appointments:
        kind = types.get(appointment.type_id)
        active = appointment.status in ACTIVE
        classes = [f"cal-status-{appointment.status}"]
        if appointment.overbooked:
            classes.append("cal-overbooked")
        if high_no_show_risk(appointment):
            classes.append("cal-risk-high")
        if appointment.ends_at - appointment.starts_at <= SHORT:
            classes.append("cal-short")
        patient = patients.get(appointment.patient_id)
        events.append(
            {
                "id": str(appointment.id),
                "resourceId": str(appointment.provider_id),
                "start": wall_clock(appointment.starts_at, book.zone),
                "end": wall_clock(appointment.ends_at, book.zone),
                "title": _title(appointment, patient, kind),
                "backgroundColor": kind.color if kind else "#475569",
                "classNames": classes,
                "startEditable": editable and active,
                "durationEditable": False,
                "extendedProps": {
                    "version": appointment.version,
                    "status": appointment.status,
                    "providerId": str(appointment.provider_id),
                    "details": _details(
                        appointment,
                        patient,
                        kind,
                        names.get(appointment.provider_id, ""),
                        book.zone,
                    ),
                },
            }
        )
    return events


def day_range(day: date, zone: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    """The UTC-aware bounds of ``days`` local days from ``day``."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=days), time(), tzinfo=zone)
    return start, end


async def clinic_day(session: AsyncSession, day: date) -> str:
    """A date as the organization writes it (its date format), for messages."""
    organization = await identity.get_organization(session)
    return format_local_date(day, organization.date_format)
