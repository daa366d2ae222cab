"""uvicorn's HTTP protocols with a bound on the time to receive a request's headers.

uvicorn reads the request line and headers before any ASGI code runs and puts no limit
on how long that takes (its keep-alive timeout covers only an idle connection, and is
disarmed by the first byte). A client trickling its headers holds a connection forever.
These subclasses of uvicorn's two protocols (httptools, h11) arm a timer when a request
may begin (connection made, previous response complete) and disarm it when the headers
are in; if it fires first the client gets ``408 Request Timeout`` and the connection is
closed. The body's bound is ``BodyReadTimeoutMiddleware``.

``clinicdesk serve`` hands uvicorn the class (``http=protocol_class()``); its worker
processes are forked from it (``core.supervisor``), so they have it too. The limit comes
from ``CLINICDESK_REQUEST_HEADER_TIMEOUT_SECONDS``, read once per process.
"""

from __future__ import annotations

import asyncio
import functools

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from clinicdesk.config import Settings

_MESSAGE = b"The request headers were not received in time. Check the connection and retry."
RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\n\r\n" + _MESSAGE
)


@functools.cache
def header_timeout_seconds() -> float:
    return Settings().request_header_timeout_seconds


class _HeaderDeadline:
    """The timer both protocols share. ``transport`` and ``loop`` are the protocol's."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(header_timeout_seconds(), self._headers_overdue)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(RESPONSE_408)
            self.transport.close()


class HttpToolsWithHeaderTimeout(_HeaderDeadline, HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # before: the next pipelined request may start inside
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


class H11WithHeaderTimeout(_HeaderDeadline, H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # the request line and headers are in

    def on_response_complete(self) -> None:
        self._arm_header_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def protocol_class() -> type[HttpToolsWithHeaderTimeout | H11WithHeaderTimeout]:
    """What uvicorn's ``http=`` gets: httptools when installed, as uvicorn's own ``auto``
    would choose."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return H11WithHeaderTimeout
    return HttpToolsWithHeaderTimeout
