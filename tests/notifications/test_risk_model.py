"""The no-show risk kernel: it learns a known process and beats the base rate, falls back
to the prior on a short history, explains itself exactly, survives JSON, and its AUC and
calibration figures are right on cases worked by hand."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.notifications import risk_model as rm
from clinicdesk.scheduling.vocabulary import HIGH_NO_SHOW_RISK

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
START = datetime(2025, 1, 6, tzinfo=UTC)


def simulate(appointments: int, patients: int, seed: int) -> list[rm.PastAppointment]:
    """A known process: a lasting propensity per patient, longer leads and Fridays and
    late hours miss more, one type much less."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    propensity = [rng.gauss(0.0, 1.0) for _ in range(patients)]
    history = []
    for _ in range(appointments):
        patient = rng.randrange(patients)
        starts_at = START + timedelta(days=rng.randrange(600), hours=rng.randrange(8, 18))
        lead = rng.expovariate(1 / 10)
        kind = rng.choice(("consult", "follow-up", "physio"))
        z = (
            -2.6
            + propensity[patient]
            + 0.4 * math.log1p(lead)
            + (0.4 if starts_at.weekday() == 4 else 0.0)
            + (0.3 if starts_at.hour >= 16 else 0.0)
            + (-0.8 if kind == "follow-up" else 0.0)
        )
        history.append(
            rm.PastAppointment(
                patient_key=str(patient),
                starts_at=starts_at,
                booked_at=starts_at - timedelta(days=lead),
                time_zone="UTC",
                type_key=kind,
                no_show=rng.random() < rm.sigmoid(z),
            )
        )
    return history


def facts(
    visits: int = 0, no_shows: int = 0, lead: float = 7.0, weekday: int = 2, hour: int = 11
) -> rm.AppointmentFacts:
    return rm.AppointmentFacts(visits, no_shows, lead, weekday, hour, "consult")


@pytest.fixture(scope="module")
def fitted() -> tuple[rm.FittedModel, list[rm.Example]]:
    examples = rm.examples_from_history(simulate(6000, 600, seed=3))
    cut = int(len(examples) * 0.8)
    return rm.fit(examples[:cut], trained_at=NOW), examples[cut:]


def test_it_learns_a_known_process_and_beats_the_base_rate(
    fitted: tuple[rm.FittedModel, list[rm.Example]],
) -> None:
    model, later = fitted
    assert model.kind == "logistic" and not model.is_prior
    labels = [e.no_show for e in later]
    scores = [rm.predict(model, e.facts) for e in later]
    found = rm.auc(scores, labels)
    assert found is not None and found > 0.6
    judged = rm.calibration(scores, labels, base_rate=model.base_rate)
    assert judged.brier < judged.base_rate_brier
    # Its own hold-out (the latest 20 % of its training data) was judged too.
    assert model.auc is not None and model.auc > 0.6
    assert model.holdout_size == model.n_samples - int(model.n_samples * 0.8)
    weights = dict(zip(model.feature_names, model.coefficients, strict=True))
    # The signs of the process come back.
    assert weights[rm.PATIENT_HISTORY] > 0
    assert weights[rm.LEAD] > 0
    assert weights[rm.FRIDAY] > 0
    assert weights["type:follow-up"] < weights["type:consult"]


def test_a_patient_who_misses_scores_above_one_who_comes(
    fitted: tuple[rm.FittedModel, list[rm.Example]],
) -> None:
    model, _ = fitted
    assert rm.predict(model, facts(visits=6, no_shows=4)) > rm.predict(model, facts(6, 0))
    assert rm.predict(model, facts(lead=60)) > rm.predict(model, facts(lead=0.5))


def test_too_little_history_gives_the_prior() -> None:
    short = rm.examples_from_history(simulate(150, 40, seed=5))
    model = rm.fit(short, trained_at=NOW)
    assert model.kind == "prior" and model.is_prior and model.coefficients == ()
    assert model.n_samples == 150
    no_shows = sum(e.no_show for e in short)
    assert model.base_rate == pytest.approx(rm.organization_rate(no_shows, 150))
    # The patient's own record, shrunk toward the clinic's rate; the rest is ignored.
    assert rm.predict(model, facts(4, 2)) == pytest.approx(
        (2 + rm.PRIOR_STRENGTH * model.base_rate) / (4 + rm.PRIOR_STRENGTH)
    )
    assert rm.predict(model, facts(lead=90, weekday=4)) == pytest.approx(model.base_rate)
    # Enough appointments but fewer than ten no-shows: still the prior.
    few_missed = [
        rm.Example(facts(), no_show=i < 9, starts_at=START + timedelta(hours=i)) for i in range(400)
    ]
    assert rm.fit(few_missed, trained_at=NOW).kind == "prior"


def test_no_model_at_all_gives_the_default_rate() -> None:
    assert rm.predict(None, facts()) == pytest.approx(rm.DEFAULT_BASE_RATE)
    assert rm.predict(None, facts(3, 3)) > rm.predict(None, facts(3, 0))
    assert 0 < rm.predict(None, facts(3, 0)) < rm.DEFAULT_BASE_RATE


@pytest.mark.parametrize("which", ["logistic", "prior", "none"])
def test_the_explanation_sums_to_the_prediction(
    fitted: tuple[rm.FittedModel, list[rm.Example]], which: str
) -> None:
    model: rm.FittedModel | None
    if which == "logistic":
        model = fitted[0]
    elif which == "prior":
        model = rm.fit(rm.examples_from_history(simulate(100, 30, seed=1)), trained_at=NOW)
    else:
        model = None
    for case in (facts(), facts(5, 3, lead=40, weekday=4, hour=17), facts(1, 0, 0.1, 0, 8)):
        parts = rm.explain(model, case, {"consult": "Consultation"})
        assert parts[0][0] == "Usual rate"
        assert sum(v for _, v in parts) == pytest.approx(rm.logit(rm.predict(model, case)))
    if which == "logistic":
        labels = [label for label, _ in rm.explain(model, facts(), {"consult": "Consultation"})]
        assert "Type: Consultation" in labels and "Patient's own attendance" in labels


def test_a_model_survives_json(fitted: tuple[rm.FittedModel, list[rm.Example]]) -> None:
    model, later = fitted
    again = rm.FittedModel.from_json(model.to_json())
    assert again == model
    assert [rm.predict(again, e.facts) for e in later[:50]] == [
        rm.predict(model, e.facts) for e in later[:50]
    ]
    with pytest.raises(ValueError, match="format"):
        rm.FittedModel.from_json(model.to_json().replace('"format": 1', '"format": 99'))


def test_history_becomes_facts_known_before_each_appointment() -> None:
    first = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # Monday 09:30 in New York (EST)
    rows = [
        rm.PastAppointment("p", first + timedelta(days=14), first, "America/New_York", "t", False),
        rm.PastAppointment("p", first, first - timedelta(days=3), "America/New_York", "t", True),
        rm.PastAppointment("q", first + timedelta(days=1), first, "UTC", "t", False),
    ]
    examples = rm.examples_from_history(rows)
    assert [e.starts_at for e in examples] == sorted(r.starts_at for r in rows)
    one, other, two = examples
    assert (one.facts.patient_prior_visits, one.facts.patient_prior_no_shows) == (0, 0)
    assert (one.facts.weekday, one.facts.local_hour, one.facts.lead_days) == (0, 9, 3.0)
    assert (other.facts.weekday, other.facts.local_hour) == (1, 14)
    # Two weeks later New York is on daylight time: 14:30 UTC is 10:30 there.
    assert (two.facts.patient_prior_visits, two.facts.patient_prior_no_shows) == (1, 1)
    assert (two.facts.local_hour, two.facts.lead_days) == (10, 14.0)


def test_auc_of_cases_worked_by_hand() -> None:
    assert rm.auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert rm.auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert rm.auc([0.5, 0.5, 0.5], [True, False, False]) == 0.5
    # Pairs (positive, negative): (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, *) yes: 3 of 4.
    assert rm.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # A tie between a positive and a negative counts half: (0.4 vs 0.4) 0.5 + 1 = 1.5 / 2.
    assert rm.auc([0.1, 0.4, 0.4], [False, False, True]) == 0.75
    assert rm.auc([0.2, 0.3], [True, True]) is None
    with pytest.raises(ValueError, match="differ in length"):
        rm.auc([0.1], [True, False])


@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]), st.booleans()),
        min_size=2,
        max_size=40,
    )
)
def test_auc_is_the_share_of_correctly_ordered_pairs(pairs: list[tuple[float, bool]]) -> None:
    scores = [s for s, _ in pairs]
    labels = [y for _, y in pairs]
    positives = [s for s, y in pairs if y]
    negatives = [s for s, y in pairs if not y]
    found = rm.auc(scores, labels)
    if not positives or not negatives:
        assert found is None
        return
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    assert found == pytest.approx(wins / (len(positives) * len(negatives)))


def test_calibration_bins_and_brier_scores() -> None:
    scores = [0.1] * 5 + [0.6] * 5
    labels = [False] * 4 + [True] + [True] * 3 + [False] * 2
    judged = rm.calibration(scores, labels, base_rate=0.4, bins=2)
    low, high = judged.bins
    assert (low.count, low.observed, high.count, high.observed) == (5, 0.2, 5, 0.6)
    assert low.mean_predicted == pytest.approx(0.1)
    assert high.mean_predicted == pytest.approx(0.6)
    # Brier: (4 * 0.01 + 0.81 + 3 * 0.16 + 2 * 0.36) / 10; naive: (4 * 0.36 + 6 * 0.16) / 10
    assert judged.brier == pytest.approx(0.205)
    assert judged.base_rate_brier == pytest.approx(0.24)
    assert judged.skill == pytest.approx(1 - 0.205 / 0.24)


def test_the_high_risk_mark_reads_scheduling_s_figure() -> None:
    assert rm.HIGH_RISK == HIGH_NO_SHOW_RISK
    assert 0 < rm.HIGH_RISK < 1 and rm.HIGH_RISK > rm.DEFAULT_BASE_RATE
