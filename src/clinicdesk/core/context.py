"""Facts about the current request that deeper layers need (the audit trail above all):
the client address, user agent and request id. Set by ``RequestContextMiddleware``."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None


_NO_REQUEST = RequestInfo()
_current: ContextVar[RequestInfo | None] = ContextVar("clinicdesk_request_info", default=None)


def current_request() -> RequestInfo:
    return _current.get() or _NO_REQUEST


def set_current_request(info: RequestInfo) -> object:
    return _current.set(info)


def reset_current_request(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
