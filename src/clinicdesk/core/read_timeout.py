"""A bound on the time a client may take to send a request body.

uvicorn bounds an idle keep-alive connection but not a body that trickles in: a client
sending one byte every two seconds held a worker's request open for minutes, and fifty
of them hold fifty. This middleware gives each request ``seconds`` from the moment its
headers are in to the last byte of its body; past that the request is answered
``408 Request Timeout`` and the connection is closed.

The headers themselves are read by uvicorn before any ASGI code runs; their bound is
``SlowHeadersProtocol`` in ``core/server.py``.
"""

from __future__ import annotations

import asyncio
import time

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTimeout(StarletteHTTPException):
    """The body did not arrive in time. An ``HTTPException`` (not a ``ClinicError``) so
    FastAPI's body parsing re-raises it instead of turning it into a generic 400."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408,
            detail=(
                f"The request was not received within {seconds:g} seconds. "
                "Check the connection and send it again."
            ),
            headers={"Connection": "close"},
        )


class BodyReadTimeoutMiddleware:
    """Raises ``RequestTimeout`` from ``receive`` once the body is overdue; the app's
    error handler answers it (problem document or page) like any other error."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                # After the body, receive() only waits for a disconnect: not bounded
                # here (a streamed answer may rightly run long).
                return await receive()
            try:
                async with asyncio.timeout_at(_loop_deadline(deadline)):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)


def _loop_deadline(monotonic_deadline: float) -> float:
    """``asyncio.timeout_at`` counts on the loop's clock, which need not be ``time.monotonic``."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())
