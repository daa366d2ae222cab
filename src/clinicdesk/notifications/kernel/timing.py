"""When a message is due, in the clinic's own time.

* A reminder lead of whole days keeps the local clock time: "2 days before a 10:00
  appointment" is 10:00 local two days earlier, also across a daylight-saving change
  (47 or 49 real hours then). A lead with hours or minutes is real elapsed time ("2 h
  before" is two hours before, whatever the clock does).
* Quiet hours are a local clock window ("21:00"-"08:00", may cross midnight); a message
  due inside it waits for its end, computed on the local calendar so a DST night is
  neither skipped nor doubled. A non-existent local time (the hour skipped in spring) is
  resolved forward by ``zoneinfo``'s fold rules through a UTC round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60


def parse_clock(value: str) -> time:
    """ "HH:MM" as a time; ValueError with a message a person can act on."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day: write it as HH:MM, e.g. 21:00") from None


def reminder_due(starts_at: datetime, lead_minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant a reminder ``lead_minutes`` before ``starts_at`` is due."""
    if lead_minutes > 0 and lead_minutes % DAY_MINUTES == 0:
        local = starts_at.astimezone(zone)
        wall = local.replace(tzinfo=None) - timedelta(days=lead_minutes // DAY_MINUTES)
        return _from_wall(wall, zone)
    return starts_at - timedelta(minutes=lead_minutes)


def _from_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant (a skipped time moves forward)."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        # The wall time does not exist (spring forward): take the same offset as before
        # the gap, which lands just after it.
        instant = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return instant


def in_quiet_hours(moment: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    if start == end:
        return False
    clock = moment.astimezone(zone).time()
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def after_quiet_hours(moment: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """``moment`` if it is outside quiet hours, else the end of the quiet window it is in."""
    if not in_quiet_hours(moment, zone, start, end):
        return moment
    local = moment.astimezone(zone)
    day = local.date()
    if local.time() >= start and start > end:
        day = day + timedelta(days=1)
    return _from_wall(datetime.combine(day, end), zone)


def local_day_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds of the local day ``moment`` falls on (23 or 25 hours on DST days)."""
    day = moment.astimezone(zone).date()
    start = _from_wall(datetime.combine(day, time()), zone)
    end = _from_wall(datetime.combine(day + timedelta(days=1), time()), zone)
    return start, end


def describe_lead(minutes: int) -> str:
    if minutes % DAY_MINUTES == 0:
        days = minutes // DAY_MINUTES
        return f"{days} day{'s' if days != 1 else ''} before"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''} before"
    return f"{minutes} minutes before"
