"""Errors as RFC 9457 problem documents, request ids, security headers, body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support import routes

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    for member in ("type", "title", "detail", "instance", "request_id"):
        assert body[member], member
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_api_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    assert "/api/v1/no-such-thing" in str(body["detail"])


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    body = assert_problem(response, 405)
    assert "DELETE" in str(body["detail"])
    assert "GET" in response.headers["allow"]


async def test_validation_errors_name_the_fields_and_do_not_echo_values(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post(
        "/api/v1/test/bookings", json={"patient_name": "", "minutes": 9000}
    )
    body = assert_problem(response, 422)
    assert body["type"] == "urn:clinicdesk:problem:validation"
    assert "minutes" in str(body["detail"]) and "patient_name" in str(body["detail"])
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {e["field"] for e in errors} == {"patient_name", "minutes"}
    assert "9000" not in response.text  # submitted values may be patient data


async def test_malformed_json_is_a_422_problem_not_a_500(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/api/v1/test/bookings",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422)


async def test_bad_path_parameter_is_a_422_problem(probe_client: httpx.AsyncClient) -> None:
    body = assert_problem(await probe_client.get("/api/v1/test/items/abc"), 422)
    assert "item_id" in str(body["detail"])


async def test_domain_errors_carry_their_status_and_extensions(
    probe_client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await probe_client.get("/api/v1/test/conflict"), 409)
    assert body["type"] == "urn:clinicdesk:problem:conflict"
    assert body["detail"] == "Dr Lee already has an appointment at 10:00."
    assert body["slot"] == "10:00"


async def test_unexpected_errors_are_a_500_problem_without_internals(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.get("/api/v1/test/boom")
    body = assert_problem(response, 500)
    assert "a bug" not in response.text
    assert "Traceback" not in response.text
    assert "request id" in str(body["detail"])
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_browsers_get_an_error_page(probe_client: httpx.AsyncClient) -> None:
    html = {"accept": "text/html,application/xhtml+xml"}
    missing = await probe_client.get("/no/such/page", headers=html)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Back to the home page" in missing.text
    assert missing.headers["x-request-id"] in missing.text

    broken = await probe_client.get("/test/boom", headers=html)
    assert broken.status_code == 500
    assert "nothing was saved" in broken.text
    assert "a bug" not in broken.text


async def test_api_clients_get_json_even_when_they_accept_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert_problem(response, 404)


async def test_every_response_gets_a_request_id(client: httpx.AsyncClient) -> None:
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert first != second
    assert len(first) >= 16


async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"x-request-id": "proxy-abc-12345"})
    assert response.headers["x-request-id"] == "proxy-abc-12345"


@pytest.mark.parametrize(
    "bad", ["short", "x" * 300, "has spaces in it", "<script>alert(1)</script>"]
)
async def test_an_unsafe_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, bad: str
) -> None:
    response = await client.get("/health", headers={"x-request-id": bad})
    assert response.headers["x-request-id"] != bad


@pytest.mark.parametrize("path", ["/", "/health", "/api/v1/missing", "/static/app.css"])
async def test_security_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # plain http: no HSTS


async def test_hsts_is_sent_over_https(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://clinic.example") as c:
        response = await c.get("/health")
    assert "max-age=" in response.headers["strict-transport-security"]


async def test_declared_oversized_body_is_refused_with_413(
    probe_client: httpx.AsyncClient, app: object
) -> None:
    limit = app.state.runtime.settings.max_request_body_bytes  # type: ignore[attr-defined]
    response = await probe_client.post("/api/v1/test/upload", content=b"x" * (limit + 1))
    body = assert_problem(response, 413)
    assert str(limit) in str(body["detail"])


async def test_streamed_oversized_body_is_refused_with_413(
    probe_client: httpx.AsyncClient, app: object
) -> None:
    limit = app.state.runtime.settings.max_request_body_bytes  # type: ignore[attr-defined]
    chunk = b"x" * 1024 * 1024

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    response = await probe_client.post("/api/v1/test/upload", content=stream())
    assert_problem(response, 413)


async def test_body_within_the_limit_is_accepted(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post("/api/v1/test/upload", content=b"x" * 4096)
    assert response.json() == {"received": 4096}


async def test_request_unit_of_work_commits_then_runs_side_effects(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/api/v1/test/work")
    assert response.json() == {"in_transaction": True}
    assert routes.events == ["committed"]


async def test_failed_request_rolls_back_and_drops_side_effects(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/api/v1/test/work", params={"fail": "true"})
    assert response.status_code == 409
    assert routes.events == []
