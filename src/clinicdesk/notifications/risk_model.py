"""The no-show risk of a booked appointment: a small logistic regression per organization.

Pure arithmetic, no I/O (``zoneinfo`` reads the time-zone database, nothing else). The
rules:

* The facts of an appointment (``AppointmentFacts``) are what the clinic knows when it
  is booked or rescored: the patient's finished appointments before it (kept or missed)
  and how many of those were missed, the lead time, the local weekday and hour, the type.
* The patient's own record is smoothed: their no-show rate is shrunk toward the
  organization's base rate as if they had ``PRIOR_STRENGTH`` more appointments at the
  base rate, so one missed first visit does not make a patient "always absent". The
  feature is that smoothed rate's log-odds above the base rate (0 for a new patient).
* The other features: a new patient, the log of the lead time in days, Monday / Friday /
  weekend, early (before 10:00) / late (from 16:00) local hour, and one indicator per
  appointment type with at least ``MIN_TYPE_ROWS`` finished appointments (a rarer type
  counts as "any type").
* The fit is L2-regularised logistic regression by Newton's method (IRLS) over sparse
  rows: about a dozen features, so each step solves a small dense system. The intercept
  is not penalised.
* Too little history (fewer than ``MIN_SAMPLES`` finished appointments or
  ``MIN_NO_SHOWS`` no-shows) gives no regression: the risk is then the patient's smoothed
  rate (the *prior*), around the organization's base rate, or ``DEFAULT_BASE_RATE``
  before there is any history at all.
* ``explain`` splits the log-odds into the usual level and one contribution per feature
  (coefficient times the feature's distance from its training mean); they sum to the
  log-odds of ``predict``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from clinicdesk.scheduling.vocabulary import HIGH_NO_SHOW_RISK

HIGH_RISK = HIGH_NO_SHOW_RISK
"""The calendar's mark and the extra reminder (the figure is argued where scheduling keeps
it, ``scheduling.vocabulary.HIGH_NO_SHOW_RISK``; one source for both domains)."""

DEFAULT_BASE_RATE = 0.12
"""Before a clinic has any history: a typical outpatient no-show rate (reported rates run
from about 5 to 30 %; primary care mostly 10-15 %)."""
PRIOR_STRENGTH = 3.0
"""How many appointments at the base rate a patient's own record is blended with."""
BASE_PRIOR_STRENGTH = 20.0
"""The organization's base rate is blended with ``DEFAULT_BASE_RATE`` as if with this
many appointments (a clinic with 30 finished appointments is not yet its own evidence)."""
MIN_SAMPLES = 200
MIN_NO_SHOWS = 10
MIN_TYPE_ROWS = 30
L2_PENALTY = 1.0
"""Total L2 weight (not per row): it steadies a small clinic's fit and vanishes in a big
one's."""
HOLDOUT_SHARE = 0.2
MAX_NEWTON_STEPS = 30
FORMAT = 1

INTERCEPT = "intercept"
PATIENT_HISTORY = "patient_history"
NEW_PATIENT = "new_patient"
LEAD = "log_lead_days"
MONDAY = "monday"
FRIDAY = "friday"
WEEKEND = "weekend"
EARLY = "early_hour"
LATE = "late_hour"
TYPE_PREFIX = "type:"
FIXED_FEATURES = (
    INTERCEPT,
    PATIENT_HISTORY,
    NEW_PATIENT,
    LEAD,
    MONDAY,
    FRIDAY,
    WEEKEND,
    EARLY,
    LATE,
)

LABELS: Mapping[str, str] = {
    INTERCEPT: "Usual rate",
    PATIENT_HISTORY: "Patient's own attendance",
    NEW_PATIENT: "First visit",
    LEAD: "Booked far ahead",
    MONDAY: "Monday",
    FRIDAY: "Friday",
    WEEKEND: "Weekend",
    EARLY: "Early hour (before 10:00)",
    LATE: "Late hour (from 16:00)",
}
EARLY_BEFORE = 10
LATE_FROM = 16
_CLAMP = 1e-6


@dataclass(frozen=True, slots=True)
class AppointmentFacts:
    """What the model reads of one appointment. ``patient_prior_visits`` counts the
    patient's finished appointments before it, kept or missed; ``weekday`` 0 is Monday
    and ``local_hour`` 0-23, both in the location's time zone."""

    patient_prior_visits: int
    patient_prior_no_shows: int
    lead_days: float
    weekday: int
    local_hour: int
    type_key: str


@dataclass(frozen=True, slots=True)
class PastAppointment:
    """One finished appointment of the history (aware datetimes)."""

    patient_key: str
    starts_at: datetime
    booked_at: datetime
    time_zone: str
    type_key: str
    no_show: bool


@dataclass(frozen=True, slots=True)
class Example:
    facts: AppointmentFacts
    no_show: bool
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class FittedModel:
    """One organization's model (``kind`` "logistic"), or only its base rate when the
    history was too short (``kind`` "prior"). ``auc`` is measured on the latest
    ``holdout_size`` appointments by a fit on the ones before them."""

    kind: str
    feature_names: tuple[str, ...]
    coefficients: tuple[float, ...]
    means: tuple[float, ...]
    base_rate: float
    n_samples: int
    n_no_shows: int
    trained_at: datetime
    auc: float | None = None
    holdout_size: int = 0
    prior_strength: float = PRIOR_STRENGTH

    @property
    def is_prior(self) -> bool:
        return (
            self.kind != "logistic"
            or self.n_samples < MIN_SAMPLES
            or self.n_no_shows < MIN_NO_SHOWS
        )

    @property
    def type_keys(self) -> frozenset[str]:
        return frozenset(
            n.removeprefix(TYPE_PREFIX) for n in self.feature_names if n.startswith(TYPE_PREFIX)
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "kind": self.kind,
                "feature_names": list(self.feature_names),
                "coefficients": list(self.coefficients),
                "means": list(self.means),
                "base_rate": self.base_rate,
                "n_samples": self.n_samples,
                "n_no_shows": self.n_no_shows,
                "trained_at": self.trained_at.isoformat(),
                "auc": self.auc,
                "holdout_size": self.holdout_size,
                "prior_strength": self.prior_strength,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FittedModel:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown no-show model format {data.get('format')!r}")
        names = tuple(str(n) for n in data["feature_names"])
        coefficients = tuple(float(c) for c in data["coefficients"])
        means = tuple(float(m) for m in data["means"])
        if not len(names) == len(coefficients) == len(means):
            raise ValueError("feature names, coefficients and means differ in length")
        trained_at = datetime.fromisoformat(data["trained_at"])
        if trained_at.tzinfo is None:
            raise ValueError("trained_at has no time zone")
        return cls(
            kind=str(data["kind"]),
            feature_names=names,
            coefficients=coefficients,
            means=means,
            base_rate=float(data["base_rate"]),
            n_samples=int(data["n_samples"]),
            n_no_shows=int(data["n_no_shows"]),
            trained_at=trained_at,
            auc=None if data.get("auc") is None else float(data["auc"]),
            holdout_size=int(data.get("holdout_size", 0)),
            prior_strength=float(data.get("prior_strength", PRIOR_STRENGTH)),
        )


# --- features ------------------------------------------------------------------------


def logit(p: float) -> float:
    p = min(max(p, _CLAMP), 1 - _CLAMP)
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def smoothed_rate(
    no_shows: int, visits: int, base_rate: float, strength: float = PRIOR_STRENGTH
) -> float:
    """The patient's no-show rate shrunk toward ``base_rate``."""
    visits = max(visits, 0)
    no_shows = min(max(no_shows, 0), visits)
    return (no_shows + strength * base_rate) / (visits + strength)


def organization_rate(no_shows: int, finished: int) -> float:
    """The organization's base rate, blended with the default while its history is short."""
    return (no_shows + BASE_PRIOR_STRENGTH * DEFAULT_BASE_RATE) / (finished + BASE_PRIOR_STRENGTH)


def features(
    facts: AppointmentFacts,
    *,
    base_rate: float,
    type_keys: Collection[str],
    strength: float = PRIOR_STRENGTH,
) -> dict[str, float]:
    """The non-zero features of one appointment (the intercept included)."""
    rate = smoothed_rate(
        facts.patient_prior_no_shows, facts.patient_prior_visits, base_rate, strength
    )
    found: dict[str, float] = {INTERCEPT: 1.0}
    history = logit(rate) - logit(base_rate)
    if history:
        found[PATIENT_HISTORY] = history
    if facts.patient_prior_visits <= 0:
        found[NEW_PATIENT] = 1.0
    lead = math.log1p(max(facts.lead_days, 0.0))
    if lead:
        found[LEAD] = lead
    if facts.weekday == 0:
        found[MONDAY] = 1.0
    elif facts.weekday == 4:
        found[FRIDAY] = 1.0
    elif facts.weekday >= 5:
        found[WEEKEND] = 1.0
    if facts.local_hour < EARLY_BEFORE:
        found[EARLY] = 1.0
    elif facts.local_hour >= LATE_FROM:
        found[LATE] = 1.0
    if facts.type_key in type_keys:
        found[TYPE_PREFIX + facts.type_key] = 1.0
    return found


def examples_from_history(history: Iterable[PastAppointment]) -> list[Example]:
    """Each finished appointment with the facts known before it: the patient's finished
    appointments that started earlier. Ordered by start."""
    ordered = sorted(history, key=lambda a: a.starts_at)
    seen: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    zones: dict[str, ZoneInfo] = {}
    examples = []
    for past in ordered:
        zone = zones.get(past.time_zone) or zones.setdefault(
            past.time_zone, ZoneInfo(past.time_zone)
        )
        local = past.starts_at.astimezone(zone)
        counts = seen[past.patient_key]
        lead = (past.starts_at - past.booked_at).total_seconds() / 86400
        facts = AppointmentFacts(
            patient_prior_visits=counts[0],
            patient_prior_no_shows=counts[1],
            lead_days=max(lead, 0.0),
            weekday=local.weekday(),
            local_hour=local.hour,
            type_key=past.type_key,
        )
        examples.append(Example(facts, past.no_show, past.starts_at))
        counts[0] += 1
        counts[1] += int(past.no_show)
    return examples


# --- fitting -------------------------------------------------------------------------


@dataclass
class _Design:
    names: list[str]
    rows: list[list[tuple[int, float]]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


def _design(examples: Sequence[Example], base_rate: float) -> _Design:
    counts = Counter(e.facts.type_key for e in examples)
    type_keys = frozenset(k for k, n in counts.items() if n >= MIN_TYPE_ROWS)
    names = [*FIXED_FEATURES, *(TYPE_PREFIX + k for k in sorted(type_keys))]
    index = {n: i for i, n in enumerate(names)}
    design = _Design(names)
    for example in examples:
        found = features(example.facts, base_rate=base_rate, type_keys=type_keys)
        design.rows.append([(index[n], v) for n, v in found.items()])
        design.labels.append(int(example.no_show))
    return design


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is small and, with the
    penalty, positive definite)."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            a[col][col] = 1e-12
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                row, top = a[r], a[col]
                for c in range(col, n + 1):
                    row[c] -= factor * top[c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        total = a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))
        solution[r] = total / a[r][r]
    return solution


def _loss(design: _Design, weights: list[float], penalty: float) -> float:
    total = 0.0
    for row, y in zip(design.rows, design.labels, strict=True):
        z = sum(weights[i] * v for i, v in row)
        # log(1 + e^z) - y z, computed without overflow
        total += (z if z > 0 else 0.0) + math.log1p(math.exp(-abs(z))) - y * z
    return total + 0.5 * penalty * sum(w * w for w in weights[1:])


def _newton(design: _Design, base_rate: float, penalty: float) -> list[float]:
    p = len(design.names)
    weights = [0.0] * p
    weights[0] = logit(base_rate)
    loss = _loss(design, weights, penalty)
    for _ in range(MAX_NEWTON_STEPS):
        gradient = [0.0] * p
        hessian = [[0.0] * p for _ in range(p)]
        for row, y in zip(design.rows, design.labels, strict=True):
            mu = sigmoid(sum(weights[i] * v for i, v in row))
            residual = mu - y
            curvature = mu * (1 - mu)
            for i, v in row:
                gradient[i] += residual * v
                hessian_i = hessian[i]
                cv = curvature * v
                for j, u in row:
                    hessian_i[j] += cv * u
        for i in range(1, p):
            gradient[i] += penalty * weights[i]
            hessian[i][i] += penalty
        hessian[0][0] += 1e-9
        step = _solve(hessian, gradient)
        scale = 1.0
        while True:  # damped: a full step that raises the loss is halved
            trial = [w - scale * s for w, s in zip(weights, step, strict=True)]
            trial_loss = _loss(design, trial, penalty)
            if trial_loss <= loss + 1e-12 or scale < 1e-4:
                break
            scale /= 2
        weights, improvement, loss = trial, loss - trial_loss, trial_loss
        if max(abs(scale * s) for s in step) < 1e-7 or improvement < 1e-10:
            break
    return weights


def _prior_model(examples: Sequence[Example], trained_at: datetime) -> FittedModel:
    no_shows = sum(e.no_show for e in examples)
    return FittedModel(
        kind="prior",
        feature_names=(),
        coefficients=(),
        means=(),
        base_rate=organization_rate(no_shows, len(examples)),
        n_samples=len(examples),
        n_no_shows=no_shows,
        trained_at=trained_at,
    )


def _fit_once(examples: Sequence[Example], trained_at: datetime, penalty: float) -> FittedModel:
    no_shows = sum(e.no_show for e in examples)
    if len(examples) < MIN_SAMPLES or no_shows < MIN_NO_SHOWS:
        return _prior_model(examples, trained_at)
    base_rate = organization_rate(no_shows, len(examples))
    design = _design(examples, base_rate)
    weights = _newton(design, base_rate, penalty)
    sums = [0.0] * len(design.names)
    for row in design.rows:
        for i, v in row:
            sums[i] += v
    return FittedModel(
        kind="logistic",
        feature_names=tuple(design.names),
        coefficients=tuple(weights),
        means=tuple(s / len(design.rows) for s in sums),
        base_rate=base_rate,
        n_samples=len(examples),
        n_no_shows=no_shows,
        trained_at=trained_at,
    )


def fit(
    examples: Sequence[Example],
    *,
    trained_at: datetime,
    holdout_share: float = HOLDOUT_SHARE,
    penalty: float = L2_PENALTY,
) -> FittedModel:
    """The model of all ``examples``, with its AUC measured on the latest
    ``holdout_share`` of them by a fit on the earlier ones (time-ordered: the model is
    judged on appointments after those it learned from, as it will be used)."""
    ordered = sorted(examples, key=lambda e: e.starts_at)
    model = _fit_once(ordered, trained_at, penalty)
    if model.is_prior or not 0 < holdout_share < 1:
        return model
    cut = int(len(ordered) * (1 - holdout_share))
    earlier, later = ordered[:cut], ordered[cut:]
    judge = _fit_once(earlier, trained_at, penalty)
    labels = [e.no_show for e in later]
    score = auc([predict(judge, e.facts) for e in later], labels) if later else None
    return FittedModel(
        kind=model.kind,
        feature_names=model.feature_names,
        coefficients=model.coefficients,
        means=model.means,
        base_rate=model.base_rate,
        n_samples=model.n_samples,
        n_no_shows=model.n_no_shows,
        trained_at=trained_at,
        auc=score,
        holdout_size=len(later),
    )


# --- use -----------------------------------------------------------------------------


def _log_odds(model: FittedModel, facts: AppointmentFacts) -> list[tuple[str, float]]:
    found = features(
        facts,
        base_rate=model.base_rate,
        type_keys=model.type_keys,
        strength=model.prior_strength,
    )
    parts = []
    baseline = 0.0
    for name, weight, mean in zip(
        model.feature_names, model.coefficients, model.means, strict=True
    ):
        baseline += weight * mean
        if name != INTERCEPT:
            parts.append((name, weight * (found.get(name, 0.0) - mean)))
    return [(INTERCEPT, baseline), *parts]


def predict(model: FittedModel | None, facts: AppointmentFacts) -> float:
    """The probability that the appointment is missed. Without a model, or with too
    little history, the patient's own rate smoothed toward the base rate."""
    if model is None or model.is_prior:
        base = DEFAULT_BASE_RATE if model is None else model.base_rate
        return smoothed_rate(facts.patient_prior_no_shows, facts.patient_prior_visits, base)
    return sigmoid(sum(part for _, part in _log_odds(model, facts)))


def explain(
    model: FittedModel | None,
    facts: AppointmentFacts,
    type_names: Mapping[str, str] | None = None,
) -> list[tuple[str, float]]:
    """(label, contribution to the log-odds), the usual level first, then the features
    by size; the contributions sum to ``logit(predict(model, facts))``."""
    if model is None or model.is_prior:
        base = DEFAULT_BASE_RATE if model is None else model.base_rate
        risk = predict(model, facts)
        return [
            (LABELS[INTERCEPT], logit(base)),
            (LABELS[PATIENT_HISTORY], logit(risk) - logit(base)),
        ]
    parts = _log_odds(model, facts)
    names = type_names or {}

    def label(name: str) -> str:
        if name.startswith(TYPE_PREFIX):
            key = name.removeprefix(TYPE_PREFIX)
            return f"Type: {names.get(key, key)}"
        return LABELS.get(name, name)

    usual, rest = parts[0], sorted(parts[1:], key=lambda p: -abs(p[1]))
    return [(label(usual[0]), usual[1]), *((label(n), v) for n, v in rest)]


# --- judging -------------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The area under the ROC curve (the chance that a random no-show scores above a
    random kept appointment, ties counting half); None without both kinds."""
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if labels[order[k]])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    count: int
    lowest: float
    highest: float
    mean_predicted: float
    observed: float


@dataclass(frozen=True, slots=True)
class Calibration:
    bins: tuple[ReliabilityBin, ...]
    brier: float
    base_rate: float
    base_rate_brier: float
    """The Brier score of predicting ``base_rate`` for every appointment (the naive
    model a useful one must beat)."""

    @property
    def skill(self) -> float:
        """1 - brier / base_rate_brier: the share of the naive model's error removed."""
        return 1 - self.brier / self.base_rate_brier if self.base_rate_brier else 0.0


def calibration(
    scores: Sequence[float], labels: Sequence[bool], *, base_rate: float, bins: int = 10
) -> Calibration:
    """Reliability by equal-count bins of the scores (deciles by default), the Brier
    score, and the Brier score of the naive ``base_rate`` (the training data's rate)."""
    if len(scores) != len(labels) or not scores:
        raise ValueError("give as many labels as scores, at least one")
    pairs = sorted(zip(scores, labels, strict=True))
    n = len(pairs)
    found = []
    for b in range(bins):
        chunk = pairs[b * n // bins : (b + 1) * n // bins]
        if not chunk:
            continue
        found.append(
            ReliabilityBin(
                count=len(chunk),
                lowest=chunk[0][0],
                highest=chunk[-1][0],
                mean_predicted=sum(s for s, _ in chunk) / len(chunk),
                observed=sum(1 for _, y in chunk if y) / len(chunk),
            )
        )
    brier = sum((s - y) ** 2 for s, y in pairs) / n
    naive = sum((base_rate - y) ** 2 for _, y in pairs) / n
    return Calibration(tuple(found), brier, base_rate, naive)
