"""Request figures for /health/ready and Prometheus metrics for /metrics.

Both are per process. Prometheus metrics are labelled by route template
(``/api/v1/patients/{patient_id}``), never by raw path, so ids do not explode the series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class _Day:
    day: date
    requests: int = 0
    errors: int = 0
    total_seconds: float = 0.0


@dataclass
class RequestStats:
    """Requests served today (UTC), their mean response time and the share that failed.

    Probes (/health, /metrics) are left out: they are not work done for anyone.
    "Failed" means the server failed (5xx); a 4xx is the client's mistake.
    """

    started_monotonic: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _today: _Day = field(default_factory=lambda: _Day(day=datetime.now(UTC).date()))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, *, status: int, seconds: float) -> None:
        today = datetime.now(UTC).date()
        with self._lock:
            if self._today.day != today:
                self._today = _Day(day=today)
            self._today.requests += 1
            self._today.total_seconds += seconds
            if status >= 500:
                self._today.errors += 1

    def snapshot(self) -> dict[str, float | int]:
        today = datetime.now(UTC).date()
        with self._lock:
            day = self._today if self._today.day == today else _Day(day=today)
            requests, errors, total = day.requests, day.errors, day.total_seconds
        return {
            "uptime_seconds": round(time.monotonic() - self.started_monotonic, 3),
            "requests_today": requests,
            "avg_response_ms": round(total / requests * 1000, 3) if requests else 0.0,
            "error_rate": round(errors / requests, 4) if requests else 0.0,
        }


class HttpMetrics:
    """The Prometheus collectors of one application instance (own registry: several apps
    in one process, as in tests, never clash)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "clinicdesk_http_requests",
            "HTTP requests served, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "clinicdesk_http_request_duration_seconds",
            "Time from request received to response sent, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "clinicdesk_http_requests_in_flight",
            "Requests being handled right now.",
            registry=self.registry,
        )
        info = Gauge(
            "clinicdesk_build_info",
            "Always 1; the labels carry the running version.",
            ("version",),
            registry=self.registry,
        )
        info.labels(version=version).set(1)
        self._figures: dict[str, Gauge] = {}

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)

    def set_figures(self, source: BusinessFigures, values: Mapping[str, float | None]) -> None:
        """A domain's figures as gauges ``clinicdesk_<name>_<figure>`` (made on first use;
        a figure with no value, such as the age of nothing, is left out)."""
        for key, value in values.items():
            metric = f"clinicdesk_{source.name}_{key}"
            gauge = self._figures.get(metric)
            if gauge is None:
                gauge = Gauge(metric, source.help.get(key, key), registry=self.registry)
                self._figures[metric] = gauge
            if value is not None:
                gauge.set(value)


FigureReader = Callable[[AsyncSession], Awaitable[Mapping[str, float | None]]]


@dataclass(frozen=True, slots=True)
class BusinessFigures:
    """Figures a domain adds to /health/ready (under ``figures.<name>``) and /metrics
    (``clinicdesk_<name>_<figure>``), registered when the app is built
    (``Runtime.figures``). ``read`` gets a session in the system scope: the figures are
    the installation's, never one organization's, and never name anyone."""

    name: str
    read: FigureReader
    help: Mapping[str, str] = field(default_factory=dict)
