"""How long each patient in a provider's queue will wait before being called.

Pure arithmetic, no database. The rules:

* Consultation lengths are learned from the last ``HISTORY_WEEKS`` of finished
  consultations, per (provider, appointment type); a walk-in without a type is its own
  "type" (``None``). Samples under 1 minute or over 4 hours are recording mistakes
  (a visit closed at once, or left open over lunch) and are dropped.
* A pair with fewer than ``MIN_SAMPLES`` samples falls back to the clinic-wide figure of
  the type times the provider's tendency (how much longer or shorter than the clinic they
  usually take); a type the clinic has too few samples of falls back to the caller's
  ``fallback_minutes`` (the type's booked duration) times the same tendency.
* A patient's wait is: what is left of the running consultation, plus the provider's
  absence (until the announced ETA, or a default by status when none was announced), plus
  the expected length (and a short changeover) of everyone ahead, plus the booked patients
  who have not arrived yet but will queue ahead of them (earlier appointment time) and are
  due before they are called, each weighted by the chance that they show up.
* Nobody behind a patient is called before them, so estimates never decrease along the
  queue; a patient already called waits 0.
"""

from __future__ import annotations

import math
import statistics
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

HISTORY_WEEKS = 8
MIN_SAMPLES = 5
SHORTEST_SAMPLE = 1.0  # minutes
LONGEST_SAMPLE = 240.0
TRIM_SHARE = 0.1  # cut from each end before averaging
FIT_ROUNDS = 10
MIN_REMAINING = 2.0
"""A consultation that has run past every comparable one still ends "soon", never "now"."""
CHANGEOVER_MINUTES = 1.0
"""Calling a patient, their walk to the room, settling in: not in the recorded length.
Learned from history when it has enough back-to-back consultations; this without."""
BACK_TO_BACK = 5.0
"""A longer gap between two consultations of a provider means nobody was waiting."""
OVERDUE_MINUTES = 2.0
"""A provider past their announced ETA is expected back any minute, not already back."""
UNKNOWN_ETA_MINUTES: Mapping[str, float] = {"break": 15.0, "away": 20.0, "in_transit": 15.0}
"""No ETA announced: a short break, a stretch away from the desk, a trip between sites."""
STATUSES = frozenset({"available", "in_consultation", "break", "away", "in_transit"})

Key = tuple[uuid.UUID, uuid.UUID | None]


@dataclass(frozen=True, slots=True)
class Consultation:
    """One finished consultation (aware UTC datetimes)."""

    provider_id: uuid.UUID
    type_id: uuid.UUID | None
    started_at: datetime
    finished_at: datetime


def trimmed_mean(ordered: Sequence[float]) -> float:
    """Mean of sorted values without the lowest and highest ``TRIM_SHARE`` (at least one
    each side from ``MIN_SAMPLES`` values on).

    Why not the median: a wait is a *sum* of consultations, and sums follow means; the
    median of a right-skewed length distribution is below its mean, so a queue of six
    would be underestimated every time. Why not the plain mean: one visit left open for
    90 minutes among five 15-minute ones would move it by 15 minutes. A light trim drops
    such stray records; a heavier one would also drop the long visits that really happen.
    """
    cut = max(int(len(ordered) * TRIM_SHARE), 1 if len(ordered) >= MIN_SAMPLES else 0)
    kept = ordered[cut : len(ordered) - cut]
    return math.fsum(kept) / len(kept)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


class DurationModel:
    """Learned consultation lengths (minutes) per (provider, type) and per provider, and
    the ``changeover`` between two consultations."""

    def __init__(
        self,
        samples: Mapping[Key, Iterable[float]] | None = None,
        *,
        changeover: float = CHANGEOVER_MINUTES,
    ) -> None:
        self.changeover = changeover
        self._pair_samples = {key: tuple(sorted(xs)) for key, xs in (samples or {}).items()}
        self._pair_typical = {
            key: trimmed_mean(xs)
            for key, xs in self._pair_samples.items()
            if len(xs) >= MIN_SAMPLES
        }
        self._type_typical: dict[uuid.UUID | None, float] = {}
        self._tendency: dict[uuid.UUID, float] = {}
        # length ~ provider tendency x type figure, fitted by alternating: the type figures
        # given the tendencies, then the tendencies given the figures. Comparing providers
        # on the same types means a provider who mostly sees long types is not taken for
        # a slow one, and a slow provider's few samples of a type do not make it look long.
        for _ in range(FIT_ROUNDS):
            by_type: dict[uuid.UUID | None, list[float]] = defaultdict(list)
            for (provider_id, type_id), xs in self._pair_samples.items():
                by_type[type_id].extend(x / self.tendency(provider_id) for x in xs)
            self._type_typical = {
                type_id: trimmed_mean(sorted(xs))
                for type_id, xs in by_type.items()
                if len(xs) >= MIN_SAMPLES
            }
            ratios: dict[uuid.UUID, list[float]] = defaultdict(list)
            for (provider_id, type_id), xs in self._pair_samples.items():
                if type_id in self._type_typical:
                    ratios[provider_id].extend(x / self._type_typical[type_id] for x in xs)
            self._tendency = {
                provider_id: trimmed_mean(sorted(rs))
                for provider_id, rs in ratios.items()
                if len(rs) >= MIN_SAMPLES
            }
        # Every sample relative to its pair's typical length: one pooled distribution
        # shape, used for overrunning consultations of pairs with too little history.
        self._shape = sorted(
            x / typical
            for key, typical in self._pair_typical.items()
            for x in self._pair_samples[key]
        )

    @classmethod
    def learn(cls, history: Iterable[Consultation], *, now: datetime) -> DurationModel:
        """Consultations started in the ``HISTORY_WEEKS`` before ``now``; absurd lengths
        dropped. Older history describes how the clinic used to work."""
        since = now - timedelta(weeks=HISTORY_WEEKS)
        samples: dict[Key, list[float]] = defaultdict(list)
        by_provider: dict[uuid.UUID, list[Consultation]] = defaultdict(list)
        for visit in history:
            length = _minutes(visit.finished_at - visit.started_at)
            if since <= visit.started_at < now and SHORTEST_SAMPLE <= length <= LONGEST_SAMPLE:
                samples[(visit.provider_id, visit.type_id)].append(length)
                by_provider[visit.provider_id].append(visit)
        # The changeover: the median gap between back-to-back consultations (the median,
        # as a gap in which the provider sat idle for a few minutes also looks short).
        gaps = [
            gap
            for visits in by_provider.values()
            for before, after in pairwise(sorted(visits, key=lambda v: v.started_at))
            if 0 <= (gap := _minutes(after.started_at - before.finished_at)) < BACK_TO_BACK
        ]
        enough = len(gaps) >= MIN_SAMPLES
        return cls(samples, changeover=statistics.median(gaps) if enough else CHANGEOVER_MINUTES)

    def tendency(self, provider_id: uuid.UUID) -> float:
        """The provider's lengths relative to the clinic's for the same types (1.0 unknown)."""
        return self._tendency.get(provider_id, 1.0)

    def expected(
        self, provider_id: uuid.UUID, type_id: uuid.UUID | None, fallback_minutes: float
    ) -> float:
        typical = self._pair_typical.get((provider_id, type_id))
        if typical is not None:
            return typical
        reference = self._type_typical.get(type_id, fallback_minutes)
        return reference * self.tendency(provider_id)

    def remaining(
        self,
        provider_id: uuid.UUID,
        type_id: uuid.UUID | None,
        fallback_minutes: float,
        elapsed_minutes: float,
    ) -> float:
        """Minutes left of a consultation running for ``elapsed_minutes``: the typical
        length of the comparable consultations that lasted longer than that, minus the
        time already spent (at least ``MIN_REMAINING``). Its own pair's history first,
        else the pooled shape scaled to the expected length, else the expected length."""
        elapsed = max(elapsed_minutes, 0.0)
        own = self._pair_samples.get((provider_id, type_id), ())
        longer = own[bisect_right(own, elapsed) :]
        if len(longer) >= MIN_SAMPLES:
            return max(trimmed_mean(longer) - elapsed, MIN_REMAINING)
        typical = self.expected(provider_id, type_id, fallback_minutes)
        if typical > 0:
            relative = self._shape[bisect_right(self._shape, elapsed / typical) :]
            if len(relative) >= MIN_SAMPLES:
                return max(typical * trimmed_mean(relative) - elapsed, MIN_REMAINING)
        return max(typical - elapsed, MIN_REMAINING)


@dataclass(frozen=True, slots=True)
class ProviderNow:
    status: str
    eta: datetime | None = None
    current_started_at: datetime | None = None
    current_type_id: uuid.UUID | None = None
    current_fallback_minutes: float = 15.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown provider status {self.status!r}")


@dataclass(frozen=True, slots=True)
class Waiting:
    """A patient in the provider's queue, in queue order."""

    visit_id: uuid.UUID
    type_id: uuid.UUID | None
    fallback_minutes: float
    called: bool = False


@dataclass(frozen=True, slots=True)
class Upcoming:
    """Booked for today, not yet arrived."""

    starts_at: datetime
    type_id: uuid.UUID | None
    fallback_minutes: float
    show_probability: float = 0.9


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    visit_id: uuid.UUID
    position: int
    minutes: int


def minutes_until_free(
    *, now: datetime, provider_id: uuid.UUID, provider: ProviderNow, model: DurationModel
) -> float:
    """When the provider can start the next consultation: the rest of the running one,
    then their return from a break, an absence or a trip."""
    busy = 0.0
    if provider.current_started_at is not None:
        elapsed = _minutes(now - provider.current_started_at)
        busy = model.remaining(
            provider_id, provider.current_type_id, provider.current_fallback_minutes, elapsed
        )
    elif provider.status == "in_consultation":  # started, but the start was not recorded
        busy = model.expected(
            provider_id, provider.current_type_id, provider.current_fallback_minutes
        )
    if provider.status in UNKNOWN_ETA_MINUTES:
        if provider.eta is None:
            busy += UNKNOWN_ETA_MINUTES[provider.status]
        else:
            busy += max(_minutes(provider.eta - now), OVERDUE_MINUTES)
    return busy


def estimate_queue(
    *,
    now: datetime,
    provider_id: uuid.UUID,
    provider: ProviderNow,
    queue: Sequence[Waiting],
    model: DurationModel,
    order_keys: Sequence[datetime] | None = None,
    upcoming: Sequence[Upcoming] = (),
    priorities: Sequence[int] | None = None,
    changeover_minutes: float | None = None,
) -> list[WaitEstimate]:
    """Minutes until each patient of ``queue`` (in queue order) is called.

    ``upcoming`` counts only with ``order_keys`` (each patient's appointment time, or
    arrival for a walk-in): a booked patient not yet here queues ahead of patient *i* when
    their appointment is before ``order_keys[i]`` and they are due before *i* is called.
    Bookings have normal priority, so with ``priorities`` they never go ahead of an
    urgent patient.
    """
    if order_keys is not None and len(order_keys) != len(queue):
        raise ValueError("order_keys must match the queue")
    if priorities is not None and len(priorities) != len(queue):
        raise ValueError("priorities must match the queue")

    changeover = model.changeover if changeover_minutes is None else changeover_minutes

    def length(type_id: uuid.UUID | None, fallback: float) -> float:
        return model.expected(provider_id, type_id, fallback) + changeover

    bookings = sorted(upcoming, key=lambda booking: booking.starts_at)
    booking_lengths = [
        booking.show_probability * length(booking.type_id, booking.fallback_minutes)
        for booking in bookings
    ]
    ahead = minutes_until_free(now=now, provider_id=provider_id, provider=provider, model=model)
    estimates: list[WaitEstimate] = []
    floor = 0.0
    for index, patient in enumerate(queue):
        wait = 0.0
        if not patient.called:
            wait = ahead
            urgent = priorities is not None and priorities[index] > 0
            if order_keys is not None and not urgent:
                # Bookings in appointment order: each one counted moves this patient's
                # call later, so a later booking can only qualify if an earlier one did.
                for booking, weighted in zip(bookings, booking_lengths, strict=True):
                    due = booking.starts_at <= now + timedelta(minutes=wait)
                    if booking.starts_at >= order_keys[index] or not due:
                        break
                    wait += weighted
            wait = floor = max(wait, floor)
        estimates.append(WaitEstimate(patient.visit_id, index + 1, round(wait)))
        ahead += length(patient.type_id, patient.fallback_minutes)
    return estimates


def naive_estimate(queue: Sequence[Waiting]) -> list[WaitEstimate]:
    """The baseline: the booked durations of everyone ahead, nothing else."""
    estimates: list[WaitEstimate] = []
    ahead = 0.0
    for index, patient in enumerate(queue):
        estimates.append(WaitEstimate(patient.visit_id, index + 1, round(ahead)))
        ahead += patient.fallback_minutes
    return estimates
