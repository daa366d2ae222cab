"""Request throttling for every page and API call, per caller and per client address.

Each request belongs to one class (``general``, or a stricter ``search``, ``export`` or
``mail``), chosen by one table of path rules (``ThrottleRules``, the app's is in
``clinicdesk.app``). Each class has a limit per caller -- the signed-in session or API
token, hashed -- and a looser one per client address, for many people behind one clinic
router and for callers who are not signed in. A request over either gets 429 with
``Retry-After``: a problem document for the API, a page for the browser.

Counts live where the sign-in throttle keeps its own (``core/ratelimit.py``): Redis when
``CLINICDESK_REDIS_URL`` is set, shared by every process; otherwise this process.
Probes (``/health``...) and static files are never throttled. An unreachable Redis lets
requests through (logged): throttling must not take the clinic down with it. Sign-in,
password reset and MFA attempts keep their own stricter rules on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from limits import parse
from limits.errors import StorageError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from clinicdesk.core.errors import ProblemRenderer, problem_for
from clinicdesk.core.ratelimit import RateLimited, RateLimiter, Rule, describe_wait

log = structlog.get_logger("clinicdesk.throttle")

GENERAL = "general"
UNTHROTTLED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})


class TooManyRequests(RateLimited):
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int) -> None:
        seconds = max(1, retry_after_seconds)
        super().__init__(
            seconds, f"Too many requests. Wait {describe_wait(seconds)} and try again."
        )


def scaled(limit: str, factor: int) -> str:
    """``scaled("600/minute", 4)`` -> ``"2400/1 minute"``."""
    item = parse(limit)
    return f"{item.amount * factor}/{item.multiples} {item.GRANULARITY.name}"


@dataclass(frozen=True)
class PathRule:
    """Requests whose method is in ``methods`` (all when empty) and whose path matches
    ``pattern`` (a full match) belong to ``limit_class``."""

    limit_class: str
    pattern: str
    methods: frozenset[str] = frozenset()

    def matches(self, method: str, path: str) -> bool:
        return (not self.methods or method in self.methods) and bool(
            re.fullmatch(self.pattern, path)
        )


@dataclass(frozen=True)
class ClassLimits:
    """A class's limits in ``limits`` notation ("600/minute")."""

    per_caller: Rule
    per_address: Rule


class ThrottleRules:
    """Which class a request is in (first matching rule, else ``general``) and its limits."""

    def __init__(self, rules: Iterable[PathRule], limits: dict[str, tuple[str, str]]) -> None:
        self.rules = tuple(rules)
        if GENERAL not in limits:
            raise ValueError("the general class needs limits")
        self.limits = {
            name: ClassLimits(
                per_caller=Rule(f"req-{name}-caller", caller),
                per_address=Rule(f"req-{name}-address", address),
            )
            for name, (caller, address) in limits.items()
        }
        unknown = {r.limit_class for r in self.rules} - set(self.limits)
        if unknown:
            raise ValueError(f"path rules name classes without limits: {sorted(unknown)}")

    def class_of(self, method: str, path: str) -> str:
        for rule in self.rules:
            if rule.matches(method, path):
                return rule.limit_class
        return GENERAL


def is_throttled(path: str) -> bool:
    return path not in UNTHROTTLED_PATHS and not path.startswith("/static/")


def caller_key(request: Request, session_cookie: str) -> str | None:
    """The credential the request is signed in with (bearer token or session cookie),
    hashed by the limiter before it is stored; None for anonymous requests. Counting by
    credential needs no database read, and a credential is one person's."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + token.strip()
    cookie = request.cookies.get(session_cookie)
    return "session:" + cookie if cookie else None


class ThrottleMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        rules: ThrottleRules,
        session_cookie: str,
        renderer: ProblemRenderer,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.rules = rules
        self.session_cookie = session_cookie
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_throttled(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused = await self._refusal(request)
        if refused is None:
            await self.app(scope, receive, send)
            return
        response = self.renderer.respond(request, problem_for(request, refused), refused.headers)
        await response(scope, receive, send)

    async def _refusal(self, request: Request) -> RateLimited | None:
        name = self.rules.class_of(request.method, request.url.path)
        limits = self.rules.limits[name]
        checks = [(limits.per_address, request.client.host if request.client else "unknown")]
        caller = caller_key(request, self.session_cookie)
        if caller is not None:
            checks.append((limits.per_caller, caller))
        try:
            for rule, key in checks:
                decision = await self.limiter.hit(rule, key)
                if not decision.allowed:
                    log.warning("throttle.refused", limit_class=name, rule=rule.name)
                    return TooManyRequests(decision.retry_after_seconds)
        except StorageError as exc:
            log.warning("throttle.storage_unavailable", error_type=type(exc).__name__)
        return None
