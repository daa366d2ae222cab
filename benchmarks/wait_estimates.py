"""Front-desk wait estimates against the naive baseline, on simulated clinic days.

No database: clinic days are replayed in pure Python with a seeded random generator.

The clinic: three providers with their own pace (A takes 30 % longer than the booked
durations, B 15 % less, C about the booked time) and four appointment types (follow-up 10,
sick visit 15, check-up 20, new patient 30 minutes). Each weekday every provider is booked
from 08:00 to 13:00 back to back, with a free slot now and then (15 %). Booked patients
arrive around their time (7 minutes early on average, from 30 early to 25 late); 10 % do
not come, and the desk marks them no-show 30 minutes after their time. About two walk-ins
an hour come to the whole clinic and are given to the provider with the shortest queue;
15 % of them are urgent (seen first), 40 % are sick visits, the rest have no type (booked
as the provider's default 15 minutes). A consultation lasts the provider's pace x the
type's duration (12 minutes for a walk-in without a type) x a lognormal factor (sigma
0.35). Calling a patient and their walk to the room takes 0.5 to 2.5 minutes.

Absences: on a fifth of the days a provider starts late, in transit with an announced
ETA (10-30 minutes after 08:00) that they miss by 3 minutes on average; on half the days a
provider takes a break (10 or 15 minutes announced) once free after a random time between
09:45 and 11:15, back slightly early or, 40 % of the time, late (6 minutes on average); on
15 % of the days a provider steps away once for 3-15 minutes without saying for how long.
Before 08:00 every provider is "in transit" with their start as the ETA.

The queue follows the clinic's rules: priority first, then the order key (appointment
time, or arrival for a walk-in), then arrival; a provider calls the first patient only
when available.

Training: the consultations of ``--training-weeks`` weeks of simulated weekdays before the
first evaluation day. Evaluation: ``--days`` weekdays; every morning the model is learned
again from the finished consultations before that day (``DurationModel.learn``; it keeps
the last 8 weeks). Every 5 simulated minutes, each waiting patient (not yet called) gets
an estimate from ``estimate_queue`` (the provider's status and ETA as announced, the
running consultation's start and type, the queue with its order keys and priorities, the
bookings not yet arrived and not yet marked no-show, each with the chance that it still
comes given how late it already is, from the check-in records of past days) and from
``naive_estimate``. When the patient is called, each sample's true wait is known. The
estimator sees only what a front desk sees: never the drawn lengths, lateness or no-shows.

Run: uv run python benchmarks/wait_estimates.py [--days 20] [--training-weeks 8] [--seed N]
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import random
import statistics
import time
import uuid
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from harness import percentile

from clinicdesk.queue.estimates import (
    Consultation,
    DurationModel,
    ProviderNow,
    Upcoming,
    Waiting,
    estimate_queue,
    naive_estimate,
)

SEED = 20261122
FIRST_EVALUATION_DAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
OPENS = 8 * 60.0  # minutes after midnight
LAST_BOOKING_ENDS = 13 * 60.0
FIRST_TICK = OPENS - 30
SAMPLE_EVERY = 5.0
FREE_SLOT_SHARE = 0.15
NO_SHOW_SHARE = 0.10
NO_SHOW_AFTER = 30.0
WALK_INS_PER_HOUR = 2.0
URGENT_SHARE = 0.15
SPREAD = 0.35
WALK_IN_DEFAULT = 15.0
WALK_IN_TRUE_MINUTES = 12.0


@dataclass(frozen=True)
class VisitType:
    name: str
    id: uuid.UUID
    minutes: float
    weight: float


TYPES = (
    VisitType("follow-up", uuid.UUID(int=1), 10, 30),
    VisitType("sick visit", uuid.UUID(int=2), 15, 30),
    VisitType("check-up", uuid.UUID(int=3), 20, 25),
    VisitType("new patient", uuid.UUID(int=4), 30, 15),
)
SICK_VISIT = TYPES[1]


@dataclass(frozen=True)
class Provider:
    name: str
    id: uuid.UUID
    pace: float


PROVIDERS = (
    Provider("A (+30 %)", uuid.UUID(int=101), 1.30),
    Provider("B (-15 %)", uuid.UUID(int=102), 0.85),
    Provider("C (on time)", uuid.UUID(int=103), 1.00),
)


@dataclass(eq=False)
class Patient:
    visit_id: uuid.UUID
    type: VisitType | None
    fallback: float
    booked_at: float | None  # appointment start, minutes after midnight; None: walk-in
    arrives_at: float | None  # None: does not come
    priority: int
    spread: float  # the simulator's secret: this visit's length factor
    arrived: bool = False
    samples: list[tuple[float, int, int, int, str]] = field(default_factory=list)

    @property
    def order_key(self) -> float:
        assert self.arrives_at is not None
        return self.booked_at if self.booked_at is not None else self.arrives_at

    def true_minutes(self, provider: Provider) -> float:
        nominal = self.type.minutes if self.type is not None else WALK_IN_TRUE_MINUTES
        return provider.pace * nominal * self.spread


@dataclass(eq=False)
class Desk:
    """A provider's day as the front desk sees it (plus the simulator's plans)."""

    provider: Provider
    bookings: list[Patient]
    state: str = "in_transit"  # or available, calling, in_consultation, break, away
    eta: float | None = OPENS
    queue: list[Patient] = field(default_factory=list)
    current: Patient | None = None
    started: float | None = None
    break_at: float | None = None
    away_at: float | None = None


@dataclass(frozen=True)
class Error:
    provider: str
    position: int
    state: str
    ours: float  # estimate minus true wait, minutes
    naive: float


class CheckIns:
    """When booked patients came, from past days' records (minutes after their time, or
    a no-show): the chance that a booking not here yet still comes."""

    def __init__(self) -> None:
        self.offsets: list[float] = []  # sorted
        self.no_shows = 0

    def record(self, bookings: Iterable[Patient]) -> None:
        for booking in bookings:
            assert booking.booked_at is not None
            if booking.arrives_at is None:
                self.no_shows += 1
            else:
                insort(self.offsets, booking.arrives_at - booking.booked_at)

    def show_probability(self, minutes_past: float) -> float:
        later = len(self.offsets) - bisect_right(self.offsets, minutes_past)
        return later / (later + self.no_shows) if later + self.no_shows else 0.9


class Day:
    """One simulated weekday: an event queue in minutes after midnight."""

    def __init__(self, date: datetime, rng: random.Random) -> None:
        self.date, self.rng = date, rng
        self.events: list[tuple[float, int, Callable[[float], None]]] = []
        self.sequence = 0
        self.history: list[Consultation] = []
        self.errors: list[Error] = []
        self.unseen = 0  # patients who will come and have not been called yet
        self.walk_ins = 0
        self.desks = [Desk(provider, self.book(provider)) for provider in PROVIDERS]
        for desk in self.desks:
            self.plan_absences(desk)
        self.plan_walk_ins()
        self.model: DurationModel | None = None
        self.check_ins: CheckIns | None = None

    def at(self, minutes: float) -> datetime:
        return self.date + timedelta(minutes=minutes)

    def schedule(self, when: float, action: Callable[[float], None]) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, self.sequence, action))

    # --- the day's plan -------------------------------------------------------------

    def book(self, provider: Provider) -> list[Patient]:
        rng, start = self.rng, OPENS
        bookings: list[Patient] = []
        while True:
            kind = rng.choices(TYPES, weights=[t.weight for t in TYPES])[0]
            if start + kind.minutes > LAST_BOOKING_ENDS:
                return bookings
            if rng.random() < FREE_SLOT_SHARE:
                start += rng.choice([10, 15])
                continue
            arrives = None
            if rng.random() >= NO_SHOW_SHARE:
                arrives = start + min(25.0, max(-30.0, rng.gauss(-7, 8)))
            patient = Patient(uuid.uuid4(), kind, kind.minutes, start, arrives, 0, self.spread())
            bookings.append(patient)
            if arrives is not None:
                self.unseen += 1
                self.schedule(arrives, partial(self.arrive, patient=patient, provider=provider))
            start += kind.minutes

    def spread(self) -> float:
        return self.rng.lognormvariate(0, SPREAD)

    def plan_walk_ins(self) -> None:
        t = OPENS + self.rng.expovariate(WALK_INS_PER_HOUR / 60)
        while t < LAST_BOOKING_ENDS - 30:
            sick = self.rng.random() < 0.4
            kind = SICK_VISIT if sick else None
            fallback = SICK_VISIT.minutes if sick else WALK_IN_DEFAULT
            urgent = 1 if self.rng.random() < URGENT_SHARE else 0
            patient = Patient(uuid.uuid4(), kind, fallback, None, t, urgent, self.spread())
            self.unseen += 1
            self.walk_ins += 1
            self.schedule(t, partial(self.arrive, patient=patient, provider=None))
            t += self.rng.expovariate(WALK_INS_PER_HOUR / 60)

    def plan_absences(self, desk: Desk) -> None:
        rng = self.rng
        if rng.random() < 0.2:
            desk.eta = OPENS + rng.uniform(10, 30)
            self.schedule(max(OPENS, desk.eta + rng.gauss(3, 5)), partial(self.back, desk=desk))
        else:
            self.schedule(OPENS, partial(self.back, desk=desk))
        if rng.random() < 0.5:
            desk.break_at = rng.uniform(9.75 * 60, 11.25 * 60)
            self.schedule(desk.break_at, partial(self.when_free, desk=desk))
        if rng.random() < 0.15:
            desk.away_at = rng.uniform(OPENS + 30, LAST_BOOKING_ENDS - 30)
            self.schedule(desk.away_at, partial(self.when_free, desk=desk))

    # --- what happens ---------------------------------------------------------------

    def arrive(self, t: float, patient: Patient, provider: Provider | None) -> None:
        patient.arrived = True
        if provider is None:  # a walk-in: the desk picks the shortest queue
            desk = min(self.desks, key=lambda d: (len(d.queue), self.rng.random()))
        else:
            desk = next(d for d in self.desks if d.provider is provider)
        desk.queue.append(patient)
        # Priority, then order key, then arrival: the clinic's queue order.
        desk.queue.sort(key=lambda p: (-p.priority, p.order_key, p.arrives_at))
        self.call_next(t, desk)

    def call_next(self, t: float, desk: Desk) -> None:
        if desk.state != "available" or not desk.queue:
            return
        patient = desk.queue.pop(0)
        self.unseen -= 1
        for sampled_at, ours, naive, position, state in patient.samples:
            truth = t - sampled_at
            name = desk.provider.name
            self.errors.append(Error(name, position, state, ours - truth, naive - truth))
        desk.state, desk.current = "calling", patient
        self.schedule(t + self.rng.uniform(0.5, 2.5), partial(self.reach_room, desk=desk))

    def reach_room(self, t: float, desk: Desk) -> None:
        assert desk.current is not None
        desk.state, desk.started = "in_consultation", t
        length = desk.current.true_minutes(desk.provider)
        self.schedule(t + length, partial(self.finish, desk=desk))

    def finish(self, t: float, desk: Desk) -> None:
        assert desk.current is not None
        assert desk.started is not None
        kind = desk.current.type
        self.history.append(
            Consultation(
                desk.provider.id, kind.id if kind else None, self.at(desk.started), self.at(t)
            )
        )
        desk.state, desk.current, desk.started = "available", None, None
        self.when_free(t, desk)

    def when_free(self, t: float, desk: Desk) -> None:
        """A planned break or absence starts once the provider is free after its time."""
        if desk.state != "available":
            return
        rng = self.rng
        if desk.break_at is not None and t >= desk.break_at:
            desk.break_at = None
            desk.state, desk.eta = "break", t + rng.choice([10, 15])
            late = rng.expovariate(1 / 6) if rng.random() < 0.4 else -rng.uniform(0, 2)
            self.schedule(desk.eta + late, partial(self.back, desk=desk))
        elif desk.away_at is not None and t >= desk.away_at:
            desk.away_at = None
            desk.state, desk.eta = "away", None
            self.schedule(t + rng.uniform(3, 15), partial(self.back, desk=desk))
        else:
            self.call_next(t, desk)

    def back(self, t: float, desk: Desk) -> None:
        desk.state, desk.eta = "available", None
        self.when_free(t, desk)

    # --- measuring ------------------------------------------------------------------

    def sample(self, t: float) -> None:
        assert self.model is not None
        check_ins = self.check_ins
        now = self.at(t)
        for desk in self.desks:
            if not desk.queue:
                continue
            queue = [
                Waiting(p.visit_id, p.type.id if p.type else None, p.fallback) for p in desk.queue
            ]
            keys = [self.at(p.order_key) for p in desk.queue]
            priorities = [p.priority for p in desk.queue]
            if desk.state == "calling":  # the called patient is walking to the room
                assert desk.current is not None
                current = desk.current
                called = Waiting(
                    current.visit_id,
                    current.type.id if current.type else None,
                    current.fallback,
                    called=True,
                )
                queue, keys = [called, *queue], [now, *keys]
                priorities = [current.priority, *priorities]
            running = desk.current if desk.state == "in_consultation" else None
            provider = ProviderNow(
                status="available" if desk.state == "calling" else desk.state,
                eta=self.at(desk.eta) if desk.eta is not None else None,
                current_started_at=self.at(desk.started) if desk.started is not None else None,
                current_type_id=running.type.id if running and running.type else None,
                current_fallback_minutes=running.fallback if running else 15.0,
            )
            upcoming = [
                Upcoming(
                    self.at(b.booked_at),
                    b.type.id if b.type else None,
                    b.fallback,
                    check_ins.show_probability(t - b.booked_at),
                )
                for b in desk.bookings
                if check_ins is not None
                and not b.arrived
                and b.booked_at is not None
                and t < b.booked_at + NO_SHOW_AFTER
            ]
            ours = estimate_queue(
                now=now,
                provider_id=desk.provider.id,
                provider=provider,
                queue=queue,
                model=self.model,
                order_keys=keys,
                upcoming=upcoming,
                priorities=priorities,
            )
            naive = naive_estimate(queue)
            offset = len(queue) - len(desk.queue)
            state = {"calling": "calling next patient", "in_consultation": "in consultation"}.get(
                desk.state, "break, away, in transit"
            )
            for index, patient in enumerate(desk.queue):
                estimate = ours[index + offset]
                patient.samples.append(
                    (t, estimate.minutes, naive[index + offset].minutes, estimate.position, state)
                )

    def tick(self, t: float) -> None:
        self.sample(t)
        if self.unseen > 0:
            self.schedule(t + SAMPLE_EVERY, self.tick)

    def run(self, model: DurationModel | None, check_ins: CheckIns | None = None) -> None:
        """Samples estimates when given a model; ignores bookings not here yet without
        ``check_ins``."""
        self.model, self.check_ins = model, check_ins
        if model is not None:
            self.schedule(FIRST_TICK, self.tick)
        while self.events:
            when, _, action = heapq.heappop(self.events)
            action(when)


def weekdays(start: datetime, count: int, step: int) -> list[datetime]:
    """``count`` weekdays from ``start`` (included), ``step`` days apart, in date order."""
    days: list[datetime] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=step)
    return sorted(days)


@dataclass(frozen=True)
class Summary:
    n: int
    mae: float
    median: float
    p90: float
    bias: float


def summarize(errors: list[float]) -> Summary:
    absolute = [abs(e) for e in errors]
    return Summary(
        len(errors),
        statistics.fmean(absolute),
        percentile(absolute, 0.5),
        percentile(absolute, 0.9),
        statistics.fmean(errors),
    )


def slices_of(error: Error) -> list[str]:
    position = "1" if error.position == 1 else "2-3" if error.position <= 3 else "4+"
    return ["all", f"provider {error.provider}", f"position {position}", f"status: {error.state}"]


def order_of(name: str) -> tuple[int, str]:
    kinds = ("all", "provider", "position", "status")
    return next(i for i, kind in enumerate(kinds) if name.startswith(kind)), name


def print_table(errors: list[Error]) -> None:
    slices: dict[str, list[Error]] = {}
    for error in errors:
        for name in slices_of(error):
            slices.setdefault(name, []).append(error)
    header = (
        f"{'slice':<34}{'n':>7}  {'ours MAE':>8}{'median':>8}{'p90':>7}{'bias':>7}"
        f"  {'naive MAE':>9}{'median':>8}{'p90':>7}{'bias':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, chosen in sorted(slices.items(), key=lambda item: order_of(item[0])):
        ours = summarize([e.ours for e in chosen])
        naive = summarize([e.naive for e in chosen])
        print(
            f"{name:<34}{ours.n:>7}  {ours.mae:>8.1f}{ours.median:>8.1f}{ours.p90:>7.1f}"
            f"{ours.bias:>+7.1f}  {naive.mae:>9.1f}{naive.median:>8.1f}{naive.p90:>7.1f}"
            f"{naive.bias:>+7.1f}"
        )
    print("(minutes; error = estimate - true wait until called; bias = mean error)")


VARIANTS = {
    "full": "as above",
    "no learning": "booked durations instead of learned lengths (status, ETA, bookings kept)",
    "no bookings on their way": "learned lengths, without the upcoming bookings",
}


@dataclass
class Replay:
    errors: list[Error] = field(default_factory=list)
    booked: int = 0
    no_shows: int = 0
    walk_ins: int = 0


def replay(days: int, training_weeks: int, seed: int, variant: str) -> Replay:
    """The same days for every variant: the estimates never change what happens."""
    rng = random.Random(seed)
    history: list[Consultation] = []
    check_ins = CheckIns()
    training = weekdays(FIRST_EVALUATION_DAY - timedelta(days=1), training_weeks * 5, -1)
    for date in training:
        day = Day(date, random.Random(rng.random()))
        day.run(None)
        history += day.history
        check_ins.record(b for desk in day.desks for b in desk.bookings)
    result = Replay()
    for date in weekdays(FIRST_EVALUATION_DAY, days, 1):
        day = Day(date, random.Random(rng.random()))
        learned = DurationModel.learn(history, now=day.at(0))
        day.run(
            DurationModel() if variant == "no learning" else learned,
            None if variant == "no bookings on their way" else check_ins,
        )
        history += day.history
        bookings = [b for desk in day.desks for b in desk.bookings]
        check_ins.record(bookings)
        result.errors += day.errors
        result.booked += len(bookings)
        result.no_shows += sum(1 for b in bookings if b.arrives_at is None)
        result.walk_ins += day.walk_ins
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=20, help="evaluation weekdays")
    parser.add_argument("--training-weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    started = time.perf_counter()
    replays = {v: replay(args.days, args.training_weeks, args.seed, v) for v in VARIANTS}
    seconds = time.perf_counter() - started
    full = replays["full"]

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        f"seed {args.seed}; {len(PROVIDERS)} providers, {len(TYPES)} types; training "
        f"{args.training_weeks * 5} weekdays; evaluation {args.days} weekdays from "
        f"{FIRST_EVALUATION_DAY:%Y-%m-%d}: {full.booked} booked ({full.no_shows} no-show), "
        f"{full.walk_ins} walk-ins; a sample every {SAMPLE_EVERY:.0f} min per waiting "
        f"patient; {len(VARIANTS)} replays in {seconds:.1f} s"
    )
    print()
    print_table(full.errors)
    print()
    header = f"{'estimator':<26}{'MAE':>6}{'median':>8}{'p90':>7}{'bias':>7}  what"
    print(header)
    print("-" * len(header))
    rows = [(v, summarize([e.ours for e in r.errors]), VARIANTS[v]) for v, r in replays.items()]
    rows.append(("naive", summarize([e.naive for e in full.errors]), "position x booked"))
    for name, summary, what in rows:
        print(
            f"{name:<26}{summary.mae:>6.1f}{summary.median:>8.1f}{summary.p90:>7.1f}"
            f"{summary.bias:>+7.1f}  {what}"
        )


if __name__ == "__main__":
    main()
