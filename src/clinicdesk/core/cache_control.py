"""``Cache-Control: no-store`` on every answer but the static files, in one place.

Nearly every answer carries patient data or depends on who is signed in (charts, lists,
the audit CSV, the sign-in page's CSRF token). A shared proxy or a browser's disk cache
must keep none of it, so "do not store" is the default and a route that wants otherwise
says so by setting its own ``Cache-Control``. ``Vary: Cookie, Authorization`` tells any
cache that ignores ``no-store`` that the answer belongs to one caller.

Static files (``/static/...``) are the same for everyone and carry no patient data; they
keep Starlette's ``ETag`` / ``Last-Modified`` revalidation.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"
STATIC_PREFIX = "/static/"


def is_static(path: str) -> bool:
    return path.startswith(STATIC_PREFIX)


class NoStoreMiddleware:
    """Adds ``Cache-Control: no-store`` (and ``Pragma: no-cache`` for HTTP/1.0 caches)
    unless the route set its own; adds ``Vary: Cookie, Authorization`` either way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_static(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = NO_STORE
                    headers["Pragma"] = "no-cache"
                headers.add_vary_header("Cookie")
                headers.add_vary_header("Authorization")
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
