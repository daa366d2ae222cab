"""``create_app()``: the ASGI application with the API, the web UI and the operations routes.

``uvicorn --factory clinicdesk.app:create_app`` (what ``clinicdesk serve`` runs) builds one
per worker process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response

from clinicdesk import __version__
from clinicdesk.config import Settings
from clinicdesk.core import health
from clinicdesk.core.assets import find_node_modules, mount_static
from clinicdesk.core.db import create_database
from clinicdesk.core.errors import ProblemRenderer, install_error_handlers
from clinicdesk.core.flash import FlashMessages
from clinicdesk.core.keys import load_or_create_keys
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from clinicdesk.core.observability import HttpMetrics, RequestStats
from clinicdesk.core.runtime import Runtime
from clinicdesk.core.templating import Pages
from clinicdesk.web import views as web_views

log = structlog.get_logger("clinicdesk.app")


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """Build the application. Nothing is read or created at import time: settings, keys
    and the database engine are set up here, per application instance."""
    settings = settings or Settings()
    if configure_logs:
        configure_logging(level=settings.log_level, fmt=settings.log_format)

    keys = load_or_create_keys(settings)
    db = create_database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    runtime = Runtime(
        settings=settings,
        keys=keys,
        db=db,
        stats=RequestStats(),
        metrics=HttpMetrics(__version__),
    )
    pages = Pages(
        [web_views.TEMPLATES_DIR],
        flashes=FlashMessages(keys.secret_key),
        nav=web_views.NAV,
        globals_={"version": __version__},
    )

    def render_error_page(
        request: Request, problem: dict[str, Any], headers: dict[str, str] | None
    ) -> Response:
        return pages.render(
            request,
            "web/error.html",
            {"problem": problem},
            status_code=problem["status"],
            headers=headers,
        )

    renderer = ProblemRenderer(render_html=render_error_page)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info(
            "clinicdesk.started",
            version=__version__,
            database=db.kind,
            sqlite_version=db.sqlite_version,
        )
        try:
            yield
        finally:
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

    install_error_handlers(app, renderer)
    app.include_router(health.router)
    app.include_router(web_views.router)
    mount_static(
        app,
        own_static=web_views.STATIC_DIR,
        node_modules=find_node_modules(settings.assets_dir),
    )

    # Added innermost first. The request context wraps the body limit, so a 413 carries
    # the request id and is measured; the security headers wrap everything, including the
    # request context's own answer to an unexpected error.
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes, renderer=renderer
    )
    app.add_middleware(
        RequestContextMiddleware, stats=runtime.stats, metrics=runtime.metrics, renderer=renderer
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
