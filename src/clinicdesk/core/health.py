"""Liveness, readiness with business figures, and Prometheus metrics.

These three routes are public by design (probes and scrapers have no user); /metrics can
be closed with ``CLINICDESK_METRICS_TOKEN``. They reveal no patient data.
"""

from __future__ import annotations

import hmac
from typing import Any, Literal

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import Runtime, RuntimeDep

log = structlog.get_logger(__name__)

router = APIRouter(tags=["operations"])


class MetricsTokenRequired(ClinicError):
    status_code = 401
    title = "Unauthorized"
    code = "unauthorized"


class Alive(BaseModel):
    status: Literal["ok"]


class DatabaseReport(BaseModel):
    kind: str
    status: Literal["ok", "unreachable", "full"]
    sqlite_version: str | None = None
    error: str | None = None  # the kind of error only


class ReadinessReport(BaseModel):
    status: Literal["ready", "unavailable"]
    version: str
    uptime_seconds: float
    requests_today: int
    avg_response_ms: float
    error_rate: float
    database: DatabaseReport


async def readiness(runtime: Runtime) -> dict[str, Any]:
    """The readiness report: is the database answering, can it take writes, and how is
    the day going.

    A database error is reported by its kind only; its message may name hosts or paths.
    A full disk does not stop ``SELECT 1``: it is reported ("full") while a write has met
    it recently (``FaultLog``), since every write would fail the same way.
    """
    db = runtime.db
    database: dict[str, Any] = {"kind": db.kind, "status": "ok"}
    if db.kind == "sqlite":
        database["sqlite_version"] = db.sqlite_version
    try:
        await db.ping(runtime.settings.readiness_timeout_seconds)
    except Exception as exc:
        log.warning("health.database_unreachable", error_type=type(exc).__name__)
        database["status"] = "unreachable"
        database["error"] = type(exc).__name__
    else:
        if db.faults.recent("full"):
            database["status"] = "full"
            database["error"] = "the database or its disk is full"
    ready = database["status"] == "ok"
    return {
        "status": "ready" if ready else "unavailable",
        "version": runtime.version,
        **runtime.stats.snapshot(),
        "database": database,
    }


@router.get("/health", summary="The process is alive")
async def health() -> Alive:
    return Alive(status="ok")


@router.get(
    "/health/ready",
    summary="Ready to serve: database reachable, with the day's figures",
    # The report is answered as built (a key appears only when it applies); its shape:
    response_model=ReadinessReport,
    responses={
        503: {
            "description": "The database cannot be reached, or is full",
            "model": ReadinessReport,
        }
    },
)
async def health_ready(runtime: RuntimeDep) -> JSONResponse:
    report = await readiness(runtime)
    if report["status"] == "ready":
        return JSONResponse(report)
    return JSONResponse(report, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    token = runtime.settings.metrics_token
    if token is not None:
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), token.get_secret_value().encode()):
            raise MetricsTokenRequired(
                "This server protects /metrics: send 'Authorization: Bearer <token>' "
                "with the token from CLINICDESK_METRICS_TOKEN.",
            )
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
