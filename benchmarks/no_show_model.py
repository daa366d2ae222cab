"""The no-show risk model on a simulated clinic history: how well it ranks and how well
its figures match what happens, against the naive base rate.

The history comes from a known process, so the model's figures can be judged against
the truth as well as against the naive guess:

* ``--patients`` patients (default 2,000), each with a lasting propensity to miss
  (normal on the log-odds scale, sd ``--patient-sd``), and ``--appointments``
  appointments (default 40,000) spread over two years, each at a random patient
  (some patients come far more often than others: a gamma-distributed visit rate);
* lead time: a mix of same-week bookings and bookings weeks ahead (exponential, mean 3
  and 30 days); local weekday (Mon-Sat, fewer on Saturday) and hour (08:00-18:00);
  five appointment types;
* the true log-odds of a no-show: a base, plus the patient's propensity, plus 0.35 per
  unit of log(1 + lead days), Monday +0.15, Friday +0.2, Saturday +0.3, before 10:00
  +0.15, from 16:00 +0.25, a type effect (-0.4 to +0.5), plus noise (normal, sd 0.3),
  which no model can learn.

The model is ``clinicdesk.notifications.risk_model`` as the nightly job runs it: facts
from the history before each appointment (``examples_from_history``), trained on the
first 80 % by start time and judged on the last 20 %: AUC, calibration by deciles of the
predicted risk (mean predicted vs observed rate), Brier score against the Brier score of
always predicting the training base rate, how many appointments the calendar would mark
(risk >= ``HIGH_RISK``) and how many of those were no-shows, and the training time. The
true probabilities' own AUC and Brier score are shown as the ceiling.

Run: uv run python benchmarks/no_show_model.py [--patients 2000] [--appointments 40000]
     [--seed 17]
Bounded: pure Python in this process, a few seconds to a minute.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta

from clinicdesk.notifications import risk_model as rm

TYPES = {"consult": 0.0, "follow-up": -0.4, "vaccination": -0.2, "physio": 0.3, "new-intake": 0.5}
TYPE_SHARES = [0.35, 0.3, 0.1, 0.15, 0.1]
WEEKDAY_EFFECT = {0: 0.15, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.2, 5: 0.3}
WEEKDAY_SHARES = [0.2, 0.19, 0.19, 0.19, 0.17, 0.06]
START = datetime(2024, 12, 2, tzinfo=UTC)
DAYS = 730
ZONE = "UTC"


def hour_effect(hour: int) -> float:
    if hour < 10:
        return 0.15
    if hour >= 16:
        return 0.25
    return 0.0


def simulate(
    patients: int, appointments: int, seed: int, patient_sd: float, base: float
) -> tuple[list[rm.PastAppointment], dict[int, float]]:
    """The history, and each appointment's true probability (by index in start order)."""
    rng = random.Random(seed)
    propensity = [rng.gauss(0.0, patient_sd) for _ in range(patients)]
    visit_rate = [rng.gammavariate(1.5, 1.0) for _ in range(patients)]
    type_keys = list(TYPES)
    rows: list[tuple[rm.PastAppointment, float]] = []
    for _ in range(appointments):
        patient = rng.choices(range(patients), weights=visit_rate)[0]
        day = rng.randrange(DAYS)
        weekday = rng.choices(range(6), weights=WEEKDAY_SHARES)[0]
        day -= (START + timedelta(days=day)).weekday() - weekday  # the chosen weekday
        hour = rng.randrange(8, 18)
        starts_at = START + timedelta(days=max(day, 0), hours=hour, minutes=rng.choice((0, 30)))
        lead = rng.expovariate(1 / 3) if rng.random() < 0.55 else rng.expovariate(1 / 30)
        kind = rng.choices(type_keys, weights=TYPE_SHARES)[0]
        z = (
            base
            + propensity[patient]
            + 0.35 * math.log1p(lead)
            + WEEKDAY_EFFECT[starts_at.weekday()]
            + hour_effect(hour)
            + TYPES[kind]
            + rng.gauss(0.0, 0.3)
        )
        p = rm.sigmoid(z)
        rows.append(
            (
                rm.PastAppointment(
                    patient_key=str(patient),
                    starts_at=starts_at,
                    booked_at=starts_at - timedelta(days=lead),
                    time_zone=ZONE,
                    type_key=kind,
                    no_show=rng.random() < p,
                ),
                p,
            )
        )
    rows.sort(key=lambda r: r[0].starts_at)
    return [r[0] for r in rows], {i: r[1] for i, r in enumerate(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--appointments", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--patient-sd", type=float, default=1.0)
    parser.add_argument("--base", type=float, default=-2.9, help="the process's base log-odds")
    args = parser.parse_args()

    began = time.perf_counter()
    history, truth = simulate(
        args.patients, args.appointments, args.seed, args.patient_sd, args.base
    )
    examples = rm.examples_from_history(history)
    prepared = time.perf_counter() - began
    cut = int(len(examples) * 0.8)
    train, test = examples[:cut], examples[cut:]

    began = time.perf_counter()
    model = rm.fit(train, trained_at=datetime.now(UTC), holdout_share=0.0)
    trained = time.perf_counter() - began

    labels = [e.no_show for e in test]
    scores = [rm.predict(model, e.facts) for e in test]
    prior_scores = [rm.predict(None, e.facts) for e in test]
    true_scores = [truth[cut + i] for i in range(len(test))]
    found = rm.calibration(scores, labels, base_rate=model.base_rate)
    ceiling = rm.calibration(true_scores, labels, base_rate=model.base_rate)
    marked = [y for s, y in zip(scores, labels, strict=True) if s >= rm.HIGH_RISK]

    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {python}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, seed {args.seed}")
    print(
        f"history: {len(examples):,} appointments, {args.patients:,} patients; "
        f"train {len(train):,} (no-shows {sum(e.no_show for e in train):,}), "
        f"test {len(test):,} (no-shows {sum(labels):,}); simulated in {prepared:.1f} s"
    )
    print(
        f"training: {trained:.2f} s, {len(model.feature_names)} features, "
        f"base rate {model.base_rate:.3f}"
    )
    print(
        f"AUC (test): model {rm.auc(scores, labels):.3f}, "
        f"prior only (patient's smoothed rate) {rm.auc(prior_scores, labels):.3f}, "
        f"true probabilities {rm.auc(true_scores, labels):.3f}"
    )
    print(
        f"Brier (test): model {found.brier:.4f}, naive base rate {found.base_rate_brier:.4f} "
        f"(skill {found.skill:.3f}); true probabilities {ceiling.brier:.4f} "
        f"(skill {ceiling.skill:.3f})"
    )
    share = len(marked) / len(test)
    hit = sum(marked) / len(marked) if marked else float("nan")
    print(
        f"marked high risk (>= {rm.HIGH_RISK:.2f}): {len(marked):,} of {len(test):,} "
        f"({share:.1%}), of which no-shows {hit:.1%}"
    )
    print("\ncalibration by deciles of predicted risk (test):")
    print("| decile | n | predicted range | mean predicted | observed |")
    print("|---|---|---|---|---|")
    for i, b in enumerate(found.bins, 1):
        print(
            f"| {i} | {b.count} | {b.lowest:.3f}-{b.highest:.3f} | "
            f"{b.mean_predicted:.3f} | {b.observed:.3f} |"
        )
    print("\ncoefficients (log-odds):")
    for name, weight in zip(model.feature_names, model.coefficients, strict=True):
        print(f"  {name:24s} {weight:+.3f}")


if __name__ == "__main__":
    main()
