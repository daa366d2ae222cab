"""Liveness, readiness (with its figures and its 503), and Prometheus metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from clinicdesk import __version__
from clinicdesk.app import create_app
from clinicdesk.config import Settings
from clinicdesk.core.sqlite_driver import sqlite_version
from tests.conftest import make_settings
from tests.support.postgres import free_port


async def test_health_says_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_figures(client: httpx.AsyncClient, backend: str) -> None:
    await client.get("/")
    await client.get("/api/v1/missing")
    await client.get("/static/app.css")
    response = await client.get("/health/ready")
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ready"
    assert report["version"] == __version__
    assert report["uptime_seconds"] >= 0
    assert report["requests_today"] == 2  # probes and static files are not counted
    assert report["avg_response_ms"] > 0
    assert report["error_rate"] == 0.0  # a 404 is the client's mistake, not a failure
    assert report["database"]["kind"] == backend
    assert report["database"]["status"] == "ok"
    if backend == "sqlite":
        assert report["database"]["sqlite_version"] == sqlite_version()


async def test_error_rate_counts_server_failures(probe_client: httpx.AsyncClient) -> None:
    await probe_client.get("/health")
    await probe_client.get("/api/v1/test/items/1")
    await probe_client.get("/api/v1/test/boom")
    report = (await probe_client.get("/health/ready")).json()
    assert report["requests_today"] == 2
    assert report["error_rate"] == 0.5


async def ready_status(settings: Settings) -> tuple[int, dict[str, object]]:
    app = create_app(settings, configure_logs=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health/ready")
            assert (await client.get("/health")).status_code == 200  # still alive
    finally:
        await app.state.runtime.db.dispose()
    return response.status_code, response.json()


async def test_ready_is_503_when_the_sqlite_database_is_gone(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    settings = make_settings(tmp_path, database_url=f"sqlite:///{db_dir / 'clinic.db'}")
    status, _ = await ready_status(settings)
    assert status == 200
    shutil.rmtree(db_dir)  # the volume went away
    status, report = await ready_status(settings)
    assert status == 503
    assert report["status"] == "unavailable"
    assert report["database"] == {
        "kind": "sqlite",
        "status": "unreachable",
        "sqlite_version": sqlite_version(),
        "error": "OperationalError",
    }


async def test_ready_is_503_when_postgresql_is_down(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    settings = make_settings(
        tmp_path, database_url=f"postgresql://nobody@127.0.0.1:{closed}/clinic"
    )
    status, report = await ready_status(settings)
    assert status == 503
    database = report["database"]
    assert isinstance(database, dict)
    assert database["kind"] == "postgresql"
    assert database["status"] == "unreachable"
    assert str(closed) not in str(report)  # no connection details leak to the public


async def test_metrics_use_route_templates_not_raw_paths(probe_client: httpx.AsyncClient) -> None:
    for item in (1, 2, 3):
        await probe_client.get(f"/api/v1/test/items/{item}")
    await probe_client.get("/api/v1/does-not-exist/42")
    response = await probe_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'clinicdesk_http_requests_total{method="GET",route="/api/v1/test/items/{item_id}",'
        'status="200"} 3.0'
    ) in text
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert "/api/v1/test/items/1" not in text
    assert "/does-not-exist/42" not in text
    assert 'clinicdesk_http_request_duration_seconds_bucket{le="0.05",method="GET"' in text
    assert f'clinicdesk_build_info{{version="{__version__}"}} 1.0' in text


async def test_metrics_can_require_a_token(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(
        tmp_path, database_url=sqlite_url, metrics_token=SecretStr("scrape-me")
    )
    app = create_app(settings, configure_logs=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            refused = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
            allowed = await client.get("/metrics", headers={"authorization": "Bearer scrape-me"})
    finally:
        await app.state.runtime.db.dispose()
    assert refused.status_code == 401
    assert "CLINICDESK_METRICS_TOKEN" in refused.json()["detail"]
    assert wrong.status_code == 401
    assert allowed.status_code == 200


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics"])
async def test_probe_routes_are_in_the_openapi_document(
    client: httpx.AsyncClient, path: str
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert path in schema["paths"]
