"""Pure ASGI middleware: request context, security headers and the body size limit.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streamed responses such as server-sent
events pass through untouched.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicdesk.core.context import RequestInfo, reset_current_request, set_current_request
from clinicdesk.core.errors import PayloadTooLarge, ProblemRenderer, problem_body
from clinicdesk.core.observability import HttpMetrics, RequestStats

log = structlog.get_logger("clinicdesk.http")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Probes and static files are counted by Prometheus, but they are not "requests served"
# in the business figures: those count work done for people.
PROBE_PATHS = frozenset({"/health", "/health/ready", "/metrics"})


def counts_as_served(path: str) -> bool:
    return path not in PROBE_PATHS and not path.startswith("/static/")


UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The matched route's path template, e.g. ``/api/v1/patients/{patient_id}``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static/{path}"
    return UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when it is sane), binds it to
    the log context, answers unexpected exceptions with a problem document, and records
    the request in the log, the readiness figures and the Prometheus metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        stats: RequestStats,
        metrics: HttpMetrics,
        renderer: ProblemRenderer,
    ) -> None:
        self.app = app
        self.stats = stats
        self.metrics = metrics
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request = Request(scope)
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        context_token = set_current_request(
            RequestInfo(
                request_id=request_id,
                client_addr=request.client.host if request.client else None,
                user_agent=(request.headers.get("user-agent") or "")[:300] or None,
            )
        )

        status = 500
        response_started = False
        started = time.perf_counter()
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("request.unhandled_error", error_type=type(exc).__name__)
            if response_started:
                raise  # too late for a clean answer; the server closes the connection
            response = self.renderer.unexpected(Request(scope))
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight.dec()
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method=method, route=route, status=status, seconds=elapsed)
            if counts_as_served(scope["path"]):
                self.stats.record(status=status, seconds=elapsed)
            log.info(
                "http.request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            reset_current_request(context_token)


def content_security_policy() -> str:
    """No inline script, no framing, nothing from other origins."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; a route may set its own CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.csp = content_security_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether declared up front by
    ``Content-Length`` or discovered while streaming a chunked upload."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, renderer: ProblemRenderer) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope["headers"])
        if declared is not None and declared > self.max_bytes:
            request = Request(scope)
            exc = PayloadTooLarge(self.max_bytes)
            response = self.renderer.respond(request, _too_large_body(request, exc))
            await response(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large_body(request: Request, exc: PayloadTooLarge) -> dict[str, Any]:
    return problem_body(
        status=413,
        title="Content Too Large",
        detail=str(exc.detail),
        code="content-too-large",
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )
