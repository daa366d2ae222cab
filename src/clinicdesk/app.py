"""``create_app()``: the ASGI application with the API, the web UI and the operations routes.

``uvicorn --factory clinicdesk.app:create_app`` (what ``clinicdesk serve`` runs) builds one
per worker process.

Deny by default: every router hangs under ``PROTECTED``, whose dependency requires a
signed-in caller, except the routes of ``PUBLIC_ROUTERS`` (listed in ``PUBLIC_PATHS``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from clinicdesk import __version__
from clinicdesk.audit import api as audit_api
from clinicdesk.audit import public as audit
from clinicdesk.billing import api as billing_api
from clinicdesk.billing import views as billing_views
from clinicdesk.billing.tasks import register_billing_jobs
from clinicdesk.clinical import api as clinical_api
from clinicdesk.clinical import views as clinical_views
from clinicdesk.config import Settings
from clinicdesk.core import health
from clinicdesk.core.access import install_gate
from clinicdesk.core.assets import find_node_modules, mount_static
from clinicdesk.core.cache_control import NoStoreMiddleware
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.csrf import CsrfProtection
from clinicdesk.core.db import create_database
from clinicdesk.core.dbfaults import install_fault_handlers
from clinicdesk.core.errors import HtmlErrorRenderer, ProblemRenderer, install_error_handlers
from clinicdesk.core.flash import FlashMessages
from clinicdesk.core.jobs import JobRegistry
from clinicdesk.core.jobs.mail import register_mail
from clinicdesk.core.jobs.purge import register_housekeeping
from clinicdesk.core.jobs.worker import runner_from_settings
from clinicdesk.core.keys import load_or_create_keys
from clinicdesk.core.labels import register_labels
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.mail import MailSender, make_mail_sender
from clinicdesk.core.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from clinicdesk.core.observability import HttpMetrics, RequestStats
from clinicdesk.core.permissions import Permission
from clinicdesk.core.ratelimit import RateLimiter
from clinicdesk.core.read_timeout import BodyReadTimeoutMiddleware
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import Runtime
from clinicdesk.core.sse import live_updates
from clinicdesk.core.storage import storage_from_settings
from clinicdesk.core.templating import Pages, is_htmx
from clinicdesk.core.throttle import PathRule, ThrottleMiddleware, ThrottleRules, scaled
from clinicdesk.identity import api as identity_api
from clinicdesk.identity import views as identity_views
from clinicdesk.identity.auth import IdentityGate, authenticate
from clinicdesk.identity.config import INVITATION_TTL, LINK_TTL, IdentityConfig, LinkSettings
from clinicdesk.identity.service.audit_names import register as identity_names
from clinicdesk.identity.tasks import register_identity_jobs
from clinicdesk.identity.web import audit_value, describe_device, signed_in_context
from clinicdesk.notifications import api as notifications_api
from clinicdesk.notifications import live as alerts_live
from clinicdesk.notifications import views as notifications_views
from clinicdesk.notifications.tasks import register_notification_jobs
from clinicdesk.patients import api as patients_api
from clinicdesk.patients import views as patients_views
from clinicdesk.patients.access import PatientsConfig
from clinicdesk.patients.service.audit_names import register as patient_names
from clinicdesk.patients.views.common import CHART_VOCABULARY, age, phone_text
from clinicdesk.patients.vocabulary import LABELS as PATIENT_LABELS
from clinicdesk.queue import api as queue_api
from clinicdesk.queue import live as queue_live
from clinicdesk.queue import views as queue_views
from clinicdesk.queue.service.audit_names import register as queue_names
from clinicdesk.queue.vocabulary import LABELS as QUEUE_LABELS
from clinicdesk.reactions import connect_reactions
from clinicdesk.scheduling import api as scheduling_api
from clinicdesk.scheduling import live as scheduling_live
from clinicdesk.scheduling import views as scheduling_views
from clinicdesk.scheduling.service.audit_names import register as scheduling_names
from clinicdesk.scheduling.vocabulary import LABELS as SCHEDULING_LABELS
from clinicdesk.web import live as web_live
from clinicdesk.web import settings as web_settings
from clinicdesk.web import views as web_views

log = structlog.get_logger("clinicdesk.app")

TEMPLATE_DIRS = (
    web_views.TEMPLATES_DIR,
    identity_views.TEMPLATES_DIR,
    patients_views.TEMPLATES_DIR,
    scheduling_views.TEMPLATES_DIR,
    queue_views.TEMPLATES_DIR,
    clinical_views.TEMPLATES_DIR,
    billing_views.TEMPLATES_DIR,
    notifications_views.TEMPLATES_DIR,
)

PUBLIC_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    web_views.public,
    identity_api.public,
    identity_views.public,
    scheduling_views.public,
    queue_api.public,
    web_live.public,
    queue_views.public,
    clinical_views.public,
    billing_api.public,
    notifications_api.public,
    notifications_views.public,
)
# The routes anyone may call without signing in. The route test checks that the app's
# public routes are exactly these.
PUBLIC_PATHS: frozenset[str] = frozenset(
    {
        "/health",
        "/health/ready",
        "/metrics",
        "/docs",
        "/openapi.json",
        "/favicon.ico",
        "/login",
        "/password/forgot",
        "/password/reset",
        "/invitations/accept",
        "/verify-email",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset/confirm",
        "/calendar/feeds/{token}.ics",
        # These sign the caller in by themselves: a waiting-room display's link, a
        # patient's status link, or (the event stream) those or a session or token.
        "/api/v1/events",
        "/api/v1/queue/status/{secret}",
        "/display/{secret}",
        "/display/{secret}/board",
        "/v/{secret}",
        "/v/{secret}/status",
        # A pharmacy checks a printed prescription by its code (the minimal answer).
        "/rx",
        "/rx/{code}",
        # The card gateway's webhook: the provider's signature is its credential.
        "/api/v1/billing/gateway/webhook",
    }
)

PROTECTED_ROUTERS: tuple[APIRouter, ...] = (
    web_views.router,
    web_settings.router,
    identity_views.router,
    identity_api.router,
    audit_api.router,
    patients_api.router,
    patients_views.router,
    scheduling_api.router,
    scheduling_views.router,
    queue_api.router,
    queue_views.router,
    *clinical_api.routers,
    *billing_api.routers,
    clinical_views.router,
    billing_views.router,
    *notifications_api.routers,
    notifications_views.router,
)


def _protected(routers: tuple[APIRouter, ...]) -> APIRouter:
    protected = APIRouter(dependencies=[Depends(authenticate)])
    for router in routers:
        protected.include_router(router)
    return protected


PROTECTED = _protected(PROTECTED_ROUTERS)
"""Built once per process, not per app: including a router makes FastAPI build every
route beneath it again (its dependencies and models, ~1 s for ~330 routes), and an app
that includes this same router finds them built (the test suite builds hundreds of apps;
a server's workers, forked after the import, share them)."""

# Throttling classes by path (first match wins; everything else is "general"). Stricter
# limits for what is costly or sends mail; CLINICDESK_RATE_LIMIT_* set them.
_GET, _POST = frozenset({"GET"}), frozenset({"POST"})
THROTTLE_RULES = (
    PathRule("export", r".*\.(csv|xlsx)"),
    PathRule("search", r"/api/v1/patients|/patients|/api/v1/audit-events|/admin/audit", _GET),
    PathRule("search", r"/api/v1/patients/duplicate-check|/patients/duplicate-check", _POST),
    PathRule(
        "mail",
        r"/api/v1/auth/password-reset|/password/forgot|/api/v1/me/email-verification"
        r"|/account/verify-email|/api/v1/users|/admin/users"
        r"|(/api/v1)?/patients/[^/]+/portal-invitation"
        r"|/api/v1/invoices/[^/]+/email",
        _POST,
    ),
)


def throttle_rules(settings: Settings) -> ThrottleRules:
    factor = settings.rate_limit_address_factor
    limits = {
        "general": settings.rate_limit_general,
        "search": settings.rate_limit_search,
        "export": settings.rate_limit_export,
        "mail": settings.rate_limit_mail,
    }
    return ThrottleRules(
        THROTTLE_RULES, {name: (limit, scaled(limit, factor)) for name, limit in limits.items()}
    )


# Each domain that publishes live events registers who sees which of them.
LIVE_PUBLISHERS = (scheduling_live.register, queue_live.register, alerts_live.register)

# Errors a browser is better served by a page elsewhere for than by an error message.
_REDIRECTS = {"mfa-required": "/login/mfa", "mfa-enrolment-required": "/account/mfa"}


def sign_in_address(request: Request) -> str:
    """``/login``, with the page (and its query) to return to unless that is the home."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


def _render_error_page(pages: Pages) -> HtmlErrorRenderer:
    """Signed-out browsers are sent to the sign-in page (303, with the page to come back
    to; an htmx request is told to go there), a pending second factor or MFA enrolment
    sends them there, anything else gets the error page. API, FHIR and tool clients never
    get here: they are answered 401 with a problem document."""

    def render(
        request: Request, problem: dict[str, Any], headers: dict[str, str] | None
    ) -> Response:
        code = str(problem["type"]).rsplit(":", 1)[-1]
        here = quote(request.url.path)
        if code == "not-authenticated":
            if is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": f"/login?next={here}"})
            return RedirectResponse(sign_in_address(request), status_code=303)
        if code in _REDIRECTS:
            url = f"{_REDIRECTS[code]}?next={here}"
            if is_htmx(request):
                return Response(status_code=problem["status"], headers={"HX-Redirect": url})
            return RedirectResponse(url, status_code=303)
        return pages.render(
            request,
            "web/error.html",
            {"problem": problem},
            status_code=problem["status"],
            headers=headers,
        )

    return render


def mail_sender(settings: Settings) -> MailSender:
    return make_mail_sender(
        smtp_url=settings.smtp_url.get_secret_value() if settings.smtp_url else None,
        mail_dir=settings.data_dir / "mail",
        sender=settings.mail_from,
    )


def job_registry(settings: Settings, *, mailer: MailSender) -> JobRegistry:
    """Every job kind and schedule of the application: ``serve`` and ``clinicdesk
    worker`` build the same one."""
    registry = JobRegistry()
    register_mail(registry, mailer)
    register_identity_jobs(registry, links=LinkSettings(base_url=settings.base_url))
    register_billing_jobs(registry, mailer=mailer)
    register_notification_jobs(registry)
    register_housekeeping(
        registry,
        succeeded_days=settings.jobs_keep_succeeded_days,
        dead_days=settings.jobs_keep_dead_days,
    )
    return registry


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """Build the application. Nothing is read or created at import time: settings, keys
    and the database engine are set up here, per application instance."""
    settings = settings or Settings()
    connect_reactions()
    for vocabularies in (PATIENT_LABELS, SCHEDULING_LABELS, QUEUE_LABELS):
        register_labels(vocabularies)
    for register_audit_names in (identity_names, patient_names, scheduling_names, queue_names):
        register_audit_names()
    if configure_logs:
        configure_logging(level=settings.log_level, fmt=settings.log_format)

    keys = load_or_create_keys(settings)
    configure_field_encryption(
        FieldKeyring(keys.field_encryption_key, previous=keys.previous_field_encryption_keys)
    )
    db = create_database(
        settings.resolved_database_url,
        pool_size=settings.pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    runtime = Runtime(
        settings=settings,
        keys=keys,
        db=db,
        stats=RequestStats(),
        metrics=HttpMetrics(__version__),
    )
    limiter = RateLimiter.from_url(settings.redis_url)
    mailer = mail_sender(settings)
    jobs = job_registry(settings, mailer=mailer)
    identity = IdentityConfig(
        base_url=settings.base_url,
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_absolute=timedelta(hours=settings.session_absolute_hours),
        access_token_ttl=timedelta(minutes=settings.access_token_minutes),
        refresh_token_ttl=timedelta(days=settings.refresh_token_days),
        link_ttl=LINK_TTL,
        invitation_ttl=INVITATION_TTL,
        mailer=mailer,
        limiter=limiter,
        secure_cookies=settings.base_url.startswith("https://"),
    )
    pages = Pages(
        TEMPLATE_DIRS,
        flashes=FlashMessages(keys.secret_key),
        nav=web_views.NAV,
        globals_={
            "version": __version__,
            "Permission": Permission,
            "chart_vocabulary": CHART_VOCABULARY,
        },
        context_processors=[signed_in_context],
    )
    pages.env.filters["device"] = describe_device
    pages.env.filters["audit_value"] = audit_value
    pages.env.filters["age"] = age
    pages.env.filters["phone"] = phone_text
    renderer = ProblemRenderer(render_html=_render_error_page(pages))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info(
            "clinicdesk.started",
            version=__version__,
            database=db.kind,
            sqlite_version=db.sqlite_version,
        )
        # Jobs run here unless separate `clinicdesk worker` processes do it. With several
        # processes on SQLite, only the one holding the runner lease works on them.
        runner = runner_from_settings(settings, db, jobs) if settings.jobs_in_process else None
        try:
            if runner is not None:
                runner.start()
            # The audit chaining step; the PostgreSQL relay (streams end on stop).
            async with audit.running_chainer(db), live_updates(db):
                yield
        finally:
            if runner is not None:
                await runner.stop(settings.jobs_shutdown_grace_seconds)
            await limiter.close()
            await db.dispose()
            log.info("clinicdesk.stopped")

    app = FastAPI(
        title="ClinicDesk",
        version=__version__,
        summary="Clinic management: patients, scheduling, front desk, clinical, billing.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.pages = pages
    app.state.identity = identity
    app.state.jobs = jobs
    app.state.csrf = CsrfProtection(keys.secret_key)
    app.state.live_rules = web_live.build_rules(LIVE_PUBLISHERS)
    app.state.patients = PatientsConfig(
        storage=storage_from_settings(settings),
        upload_max_bytes=settings.upload_max_bytes,
        break_glass_minutes=settings.break_glass_minutes,
    )

    install_error_handlers(app, renderer)
    install_fault_handlers(app, renderer, postgresql=db.kind == "postgresql")
    install_gate(app, IdentityGate())
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    app.include_router(PROTECTED)
    mount_static(
        app,
        own_static=web_views.STATIC_DIR,
        node_modules=find_node_modules(settings.assets_dir),
    )

    # Added innermost first. The request context wraps the body limit, so a 413 carries
    # the request id and is measured; the security headers wrap everything, including the
    # request context's own answer to an unexpected error, and so does no-store.
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes, renderer=renderer
    )
    app.add_middleware(BodyReadTimeoutMiddleware, seconds=settings.request_body_timeout_seconds)
    app.add_middleware(
        ThrottleMiddleware,
        limiter=limiter,
        rules=throttle_rules(settings),
        session_cookie=identity.session_cookie,
        renderer=renderer,
    )
    app.add_middleware(
        RequestContextMiddleware, stats=runtime.stats, metrics=runtime.metrics, renderer=renderer
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(NoStoreMiddleware)
    return app
