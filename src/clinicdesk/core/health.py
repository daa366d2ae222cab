"""Liveness, readiness with business figures, and Prometheus metrics.

These three routes are public by design (probes and scrapers have no user); /metrics can
be closed with ``CLINICDESK_METRICS_TOKEN``. They reveal no patient data.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from typing import Any, Literal

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from clinicdesk.core.db import unit_of_work
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.observability import BusinessFigures
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import Runtime, RuntimeDep
from clinicdesk.core.tenancy import use_system_scope

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
    # Each domain's figures by its name (``Runtime.figures``), when the database answers.
    figures: dict[str, dict[str, float | int | None]] | None = None


async def read_figures(
    runtime: Runtime, source: BusinessFigures
) -> Mapping[str, float | int | None] | None:
    """One domain's figures, or None when they cannot be read now (logged by kind)."""
    try:
        async with runtime.db.read_session() as session, unit_of_work(session):
            await use_system_scope(session)
            return await asyncio.wait_for(
                source.read(session), runtime.settings.readiness_timeout_seconds
            )
    except Exception as exc:
        log.warning(
            "health.figures_unavailable", figures=source.name, error_type=type(exc).__name__
        )
        return None


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
    report: dict[str, Any] = {
        "status": "ready" if ready else "unavailable",
        "version": runtime.version,
        **runtime.stats.snapshot(),
        "database": database,
    }
    if database["status"] != "unreachable" and runtime.figures:
        report["figures"] = {
            source.name: await read_figures(runtime, source) for source in runtime.figures
        }
    return report


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
    for source in runtime.figures:
        values = await read_figures(runtime, source)
        if values is not None:
            runtime.metrics.set_figures(source, values)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
