"""Wait-time estimates: learned lengths, overrunning consultations, provider status,
booked patients still on their way, and the invariants of a queue."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.queue.estimates import (
    CHANGEOVER_MINUTES,
    HISTORY_WEEKS,
    MIN_REMAINING,
    OVERDUE_MINUTES,
    UNKNOWN_ETA_MINUTES,
    Consultation,
    DurationModel,
    ProviderNow,
    Upcoming,
    WaitEstimate,
    Waiting,
    estimate_queue,
    naive_estimate,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DOCTOR = uuid.UUID(int=1)
NURSE = uuid.UUID(int=2)
FOLLOW_UP = uuid.UUID(int=10)
NEW_PATIENT = uuid.UUID(int=11)
AVAILABLE = ProviderNow(status="available")


def visits(
    provider: uuid.UUID,
    type_id: uuid.UUID | None,
    lengths: Sequence[float],
    *,
    days_ago: float = 1,
) -> list[Consultation]:
    """Consultations of the given lengths, one an hour, ending ``days_ago`` before NOW."""
    end = NOW - timedelta(days=days_ago)
    out = []
    for index, length in enumerate(lengths):
        started = end - timedelta(hours=index + 1)
        out.append(Consultation(provider, type_id, started, started + timedelta(minutes=length)))
    return out


def model_of(*groups: list[Consultation]) -> DurationModel:
    return DurationModel.learn([visit for group in groups for visit in group], now=NOW)


def waiting(*types: uuid.UUID | None, fallback: float = 15.0) -> list[Waiting]:
    return [Waiting(uuid.UUID(int=100 + i), type_id, fallback) for i, type_id in enumerate(types)]


def minutes(estimates: list[WaitEstimate]) -> list[int]:
    return [e.minutes for e in estimates]


# --- learning ----------------------------------------------------------------------------


def test_learns_a_robust_typical_length_per_provider_and_type() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10, 11, 12, 13, 95]))
    # One 95-minute visit among five moves a mean by 17 minutes; the trimmed mean by none.
    assert model.expected(DOCTOR, FOLLOW_UP, 15) == pytest.approx(12)


def test_trimmed_mean_sits_above_the_median_of_a_right_skewed_sample() -> None:
    lengths = [10, 10, 11, 11, 12, 12, 14, 16, 20, 26]
    expected = model_of(visits(DOCTOR, FOLLOW_UP, lengths)).expected(DOCTOR, FOLLOW_UP, 15)
    assert 12 < expected < sum(lengths) / len(lengths)


def test_absurd_lengths_are_ignored() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [20] * 5 + [0.5, 0.2, 241, 600]))
    assert model.expected(DOCTOR, FOLLOW_UP, 15) == pytest.approx(20)


def test_history_older_than_the_window_or_after_now_is_ignored() -> None:
    old_days = HISTORY_WEEKS * 7 + 2
    model = model_of(
        visits(DOCTOR, FOLLOW_UP, [40] * 20, days_ago=old_days),
        visits(DOCTOR, FOLLOW_UP, [12] * 5),
        visits(DOCTOR, FOLLOW_UP, [90] * 20, days_ago=-2),
    )
    assert model.expected(DOCTOR, FOLLOW_UP, 15) == pytest.approx(12)


def test_no_history_gives_the_fallback() -> None:
    assert DurationModel().expected(DOCTOR, FOLLOW_UP, 17) == 17
    assert model_of(visits(DOCTOR, FOLLOW_UP, [30] * 4)).expected(DOCTOR, FOLLOW_UP, 17) == 17


def test_too_few_samples_use_the_clinic_figure_times_the_provider_tendency() -> None:
    # The nurse takes 1.5 times as long as the doctor on follow-ups, and has seen only
    # three new patients: their new-patient length is the doctor's scaled by 1.5.
    model = model_of(
        visits(DOCTOR, FOLLOW_UP, [20] * 10),
        visits(DOCTOR, NEW_PATIENT, [40] * 10),
        visits(NURSE, FOLLOW_UP, [30] * 10),
        visits(NURSE, NEW_PATIENT, [60, 60, 60], days_ago=2),
    )
    assert model.expected(NURSE, NEW_PATIENT, 30) == pytest.approx(60, rel=0.02)
    assert model.tendency(NURSE) / model.tendency(DOCTOR) == pytest.approx(1.5, rel=0.02)
    # A type nobody has enough history of: the booked duration, scaled the same way.
    unknown = uuid.UUID(int=99)
    ratio = model.expected(NURSE, unknown, 20) / model.expected(DOCTOR, unknown, 20)
    assert ratio == pytest.approx(1.5, rel=0.02)


def test_walk_ins_without_a_type_are_learned_like_a_type() -> None:
    model = model_of(visits(DOCTOR, None, [8] * 6), visits(DOCTOR, FOLLOW_UP, [25] * 6))
    assert model.expected(DOCTOR, None, 15) == pytest.approx(8)


def test_the_changeover_is_learned_from_back_to_back_consultations() -> None:
    start = NOW - timedelta(days=1)
    history = []
    # Ten visits of 10 minutes, each called 2 or 3 minutes after the previous one ended,
    # and two after the provider sat idle for half an hour (nobody was waiting).
    for gap in [2, 2, 3, 2, 30, 2, 3, 2, 30, 2]:
        history.append(Consultation(DOCTOR, FOLLOW_UP, start, start + timedelta(minutes=10)))
        start += timedelta(minutes=10 + gap)
    model = DurationModel.learn(history, now=NOW)
    assert model.changeover == 2
    result = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=AVAILABLE,
        queue=waiting(FOLLOW_UP, FOLLOW_UP),
        model=model,
    )
    assert minutes(result) == [0, 12]
    assert DurationModel.learn(history[:4], now=NOW).changeover == CHANGEOVER_MINUTES


# --- remaining time ------------------------------------------------------------------------


def test_remaining_at_the_start_is_the_expected_length() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10, 12, 14, 16, 18, 20]))
    expected = model.expected(DOCTOR, FOLLOW_UP, 15)
    assert model.remaining(DOCTOR, FOLLOW_UP, 15, 0) == pytest.approx(expected)
    assert model.remaining(DOCTOR, FOLLOW_UP, 15, 5) == pytest.approx(expected - 5)


def test_an_overrunning_consultation_is_taken_for_a_long_one() -> None:
    # Half the visits take 15 minutes, half 40: at 20 minutes it is one of the long ones,
    # so 20 minutes are left, not "typical minus elapsed" (27.5 - 20).
    model = model_of(visits(DOCTOR, FOLLOW_UP, [15] * 10 + [40] * 10))
    assert model.remaining(DOCTOR, FOLLOW_UP, 15, 20) == pytest.approx(20)


def test_past_every_comparable_consultation_it_still_ends_soon_not_now() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [15] * 10))
    assert model.remaining(DOCTOR, FOLLOW_UP, 15, 60) == MIN_REMAINING
    assert DurationModel().remaining(DOCTOR, FOLLOW_UP, 15, 45) == MIN_REMAINING


def test_without_own_history_an_overrun_borrows_the_pooled_shape() -> None:
    # Follow-ups are either half or one and a half times their typical 20 minutes. The
    # nurse has no new-patient history (booked 40): at 30 minutes the shape says "one of
    # the long ones", 1.5 x 40 = 60 minutes in all, not 40 - 30.
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10] * 10 + [30] * 10))
    assert model.remaining(NURSE, NEW_PATIENT, 40, 30) == pytest.approx(30)


# --- the queue ---------------------------------------------------------------------------


def test_naive_estimate_adds_the_booked_durations_of_those_ahead() -> None:
    queue = [*waiting(FOLLOW_UP, fallback=10), *waiting(None, fallback=15)]
    queue.append(Waiting(uuid.uuid4(), NEW_PATIENT, 30))
    result = naive_estimate(queue)
    assert [e.position for e in result] == [1, 2, 3]
    assert minutes(result) == [0, 10, 25]


def test_an_available_provider_adds_nothing_and_positions_follow_the_queue() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [12] * 6))
    queue = waiting(FOLLOW_UP, FOLLOW_UP, FOLLOW_UP)
    result = estimate_queue(
        now=NOW, provider_id=DOCTOR, provider=AVAILABLE, queue=queue, model=model
    )
    assert [(e.visit_id, e.position) for e in result] == [
        (w.visit_id, i + 1) for i, w in enumerate(queue)
    ]
    step = 12 + CHANGEOVER_MINUTES
    assert minutes(result) == [0, round(step), round(2 * step)]


def test_in_transit_waits_until_the_announced_eta() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [12] * 6))
    queue = waiting(FOLLOW_UP, FOLLOW_UP)

    def first_wait(provider: ProviderNow) -> int:
        return estimate_queue(
            now=NOW, provider_id=DOCTOR, provider=provider, queue=queue, model=model
        )[0].minutes

    assert first_wait(ProviderNow("in_transit", eta=NOW + timedelta(minutes=18))) == 18
    assert first_wait(ProviderNow("break", eta=NOW - timedelta(minutes=5))) == OVERDUE_MINUTES
    assert first_wait(ProviderNow("away")) == UNKNOWN_ETA_MINUTES["away"]


def test_a_running_consultation_delays_everyone_by_its_remaining_time() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [20] * 6))
    provider = ProviderNow(
        "in_consultation",
        current_started_at=NOW - timedelta(minutes=5),
        current_type_id=FOLLOW_UP,
    )
    result = estimate_queue(
        now=NOW, provider_id=DOCTOR, provider=provider, queue=waiting(FOLLOW_UP), model=model
    )
    assert minutes(result) == [15]


def test_a_called_patient_waits_no_more_but_holds_up_the_next() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [12] * 6))
    queue = [Waiting(uuid.uuid4(), FOLLOW_UP, 15, called=True), *waiting(FOLLOW_UP)]
    result = estimate_queue(
        now=NOW, provider_id=DOCTOR, provider=AVAILABLE, queue=queue, model=model
    )
    assert minutes(result) == [0, round(12 + CHANGEOVER_MINUTES)]


def test_bookings_still_on_their_way_count_when_they_will_queue_ahead() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10] * 6))
    queue = waiting(FOLLOW_UP, None)
    keys = [NOW - timedelta(minutes=5), NOW + timedelta(minutes=30)]  # booked 9:55, walk-in
    soon = Upcoming(NOW + timedelta(minutes=5), FOLLOW_UP, 15, show_probability=0.5)
    after_both = Upcoming(NOW + timedelta(minutes=40), FOLLOW_UP, 15)
    result = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=AVAILABLE,
        queue=queue,
        model=model,
        order_keys=keys,
        upcoming=[after_both, soon],
    )
    # The 10:05 booking goes ahead of the walk-in (key 10:30) but not of the 9:55 one; the
    # 10:40 booking goes ahead of nobody.
    step = 10 + CHANGEOVER_MINUTES
    assert minutes(result) == [0, round(step + 0.5 * step)]
    # An urgent patient is seen before any normal booking.
    urgent = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=AVAILABLE,
        queue=queue,
        model=model,
        order_keys=keys,
        upcoming=[soon],
        priorities=[0, 1],
    )
    assert minutes(urgent) == [0, round(step)]


def test_a_booking_not_due_before_the_call_is_not_counted() -> None:
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10] * 6))
    # The patient is called in 11 minutes; a booking at +20 that sorts ahead of them
    # (their order key is +60) will most likely not be here yet.
    result = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=AVAILABLE,
        queue=waiting(FOLLOW_UP, FOLLOW_UP),
        model=model,
        order_keys=[NOW, NOW + timedelta(minutes=60)],
        upcoming=[Upcoming(NOW + timedelta(minutes=20), FOLLOW_UP, 15)],
    )
    assert minutes(result) == [0, 11]


def test_a_patient_moved_up_by_hand_is_never_called_after_those_behind() -> None:
    # The desk moved a 10:30 patient ahead of a 10:00 one. Three late bookings would queue
    # ahead of the 10:30 patient but not of the 10:00 one; the one behind still cannot be
    # called first, so their estimate is not shorter.
    model = model_of(visits(DOCTOR, FOLLOW_UP, [10] * 6))
    late = [Upcoming(NOW - timedelta(minutes=m), FOLLOW_UP, 15, 1.0) for m in (20, 15, 10)]
    result = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=AVAILABLE,
        queue=waiting(FOLLOW_UP, FOLLOW_UP),
        model=model,
        order_keys=[NOW + timedelta(minutes=30), NOW - timedelta(minutes=30)],
        upcoming=late,
    )
    assert minutes(result) == [33, 33]


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="order_keys"):
        estimate_queue(
            now=NOW,
            provider_id=DOCTOR,
            provider=AVAILABLE,
            queue=waiting(FOLLOW_UP),
            model=DurationModel(),
            order_keys=[],
        )
    with pytest.raises(ValueError, match="status"):
        ProviderNow("lunch")


# --- properties --------------------------------------------------------------------------

TYPES = st.sampled_from([FOLLOW_UP, NEW_PATIENT, None])
LENGTHS = st.lists(st.floats(min_value=0.5, max_value=300), min_size=0, max_size=30)


@st.composite
def models(draw: st.DrawFn) -> DurationModel:
    history = []
    for provider in (DOCTOR, NURSE):
        for type_id in (FOLLOW_UP, NEW_PATIENT, None):
            history += visits(provider, type_id, draw(LENGTHS))
    return DurationModel.learn(history, now=NOW)


@st.composite
def providers(draw: st.DrawFn) -> ProviderNow:
    status = draw(st.sampled_from(["available", "in_consultation", "break", "away", "in_transit"]))
    eta = draw(st.none() | st.integers(-30, 60).map(lambda m: NOW + timedelta(minutes=m)))
    started = draw(st.none() | st.integers(0, 120).map(lambda m: NOW - timedelta(minutes=m)))
    if status != "in_consultation":
        started = None
    return ProviderNow(status, eta=eta, current_started_at=started, current_type_id=FOLLOW_UP)


@st.composite
def queues(draw: st.DrawFn) -> tuple[list[Waiting], list[datetime], list[int]]:
    size = draw(st.integers(0, 8))
    called = draw(st.integers(0, min(size, 1)))
    queue = [
        Waiting(
            uuid.UUID(int=i), draw(TYPES), draw(st.sampled_from([10.0, 15.0, 30.0])), i < called
        )
        for i in range(size)
    ]
    # Urgent patients first, then the rest by order key: the queue's own order.
    priorities = sorted((draw(st.sampled_from([0, 0, 0, 1])) for _ in range(size)), reverse=True)
    offsets = [draw(st.integers(-60, 120)) for _ in range(size)]
    urgent = sum(1 for p in priorities if p > 0)
    offsets[urgent:] = sorted(offsets[urgent:])
    return queue, [NOW + timedelta(minutes=m) for m in offsets], priorities


UPCOMING = st.lists(
    st.builds(
        Upcoming,
        starts_at=st.integers(-30, 180).map(lambda m: NOW + timedelta(minutes=m)),
        type_id=TYPES,
        fallback_minutes=st.sampled_from([10.0, 20.0]),
        show_probability=st.floats(0, 1),
    ),
    max_size=6,
)


@given(models(), providers(), queues(), UPCOMING)
def test_estimates_never_decrease_along_the_queue(
    model: DurationModel,
    provider: ProviderNow,
    queued: tuple[list[Waiting], list[datetime], list[int]],
    upcoming: list[Upcoming],
) -> None:
    queue, keys, priorities = queued
    result = estimate_queue(
        now=NOW,
        provider_id=DOCTOR,
        provider=provider,
        queue=queue,
        model=model,
        order_keys=keys,
        upcoming=upcoming,
        priorities=priorities,
    )
    assert [e.position for e in result] == list(range(1, len(queue) + 1))
    assert [e.visit_id for e in result] == [w.visit_id for w in queue]
    waits = [e.minutes for e, w in zip(result, queue, strict=True) if not w.called]
    assert all(m >= 0 for m in waits)
    assert waits == sorted(waits)
    assert all(e.minutes == 0 for e, w in zip(result, queue, strict=True) if w.called)


@given(models(), providers(), queues(), UPCOMING, UPCOMING)
def test_more_bookings_on_their_way_never_shorten_a_wait(
    model: DurationModel,
    provider: ProviderNow,
    queued: tuple[list[Waiting], list[datetime], list[int]],
    upcoming: list[Upcoming],
    more: list[Upcoming],
) -> None:
    queue, keys, priorities = queued

    def waits(bookings: list[Upcoming]) -> list[int]:
        estimates = estimate_queue(
            now=NOW,
            provider_id=DOCTOR,
            provider=provider,
            queue=queue,
            model=model,
            order_keys=keys,
            upcoming=bookings,
            priorities=priorities,
        )
        return [e.minutes for e in estimates]

    before, after = waits(upcoming), waits(upcoming + more)
    assert all(a >= b for a, b in zip(after, before, strict=True))


@given(st.lists(st.floats(min_value=1, max_value=240), min_size=5, max_size=40), st.randoms())
def test_learning_ignores_history_order_and_stays_within_the_samples(
    lengths: list[float], rng: random.Random
) -> None:
    history = visits(DOCTOR, FOLLOW_UP, lengths)
    shuffled = list(history)
    rng.shuffle(shuffled)
    model = DurationModel.learn(history, now=NOW)
    again = DurationModel.learn(shuffled, now=NOW)
    expected = model.expected(DOCTOR, FOLLOW_UP, 15)
    assert again.expected(DOCTOR, FOLLOW_UP, 15) == pytest.approx(expected)
    assert min(lengths) - 1e-6 <= expected <= max(lengths) + 1e-6


@given(models(), TYPES, st.floats(min_value=0, max_value=300))
def test_remaining_is_never_zero(
    model: DurationModel, type_id: uuid.UUID | None, elapsed: float
) -> None:
    assert model.remaining(NURSE, type_id, 15, elapsed) >= MIN_REMAINING
