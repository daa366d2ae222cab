"""What a running application holds, and the dependencies that hand it to routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk import __version__
from clinicdesk.config import Settings
from clinicdesk.core.db import Database, unit_of_work
from clinicdesk.core.keys import AppKeys
from clinicdesk.core.observability import BusinessFigures, HttpMetrics, RequestStats


@dataclass(slots=True)
class Runtime:
    settings: Settings
    keys: AppKeys
    db: Database
    stats: RequestStats
    metrics: HttpMetrics
    version: str = __version__
    # What domains add to /health/ready and /metrics (``core.health``).
    figures: list[BusinessFigures] = field(default_factory=list)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit after the handler returns, roll back if it
    raises, run after-commit hooks once committed. Declared with ``scope="function"`` so
    the commit happens before the response is sent: a client never sees success for a
    write that then failed to commit."""
    runtime = get_runtime(request)
    # A GET reads: on SQLite it takes no write lock (its audit entries follow it).
    maker = runtime.db.read_session if is_read(request) else runtime.db.sessionmaker
    async with maker() as session, unit_of_work(session):
        yield session


READ_METHODS = frozenset({"GET", "HEAD"})
_WRITES_WHEN_READ = "__clinicdesk_writes_when_read__"
_READS_WHILE_CALLING_OUT = "__clinicdesk_reads_while_calling_out__"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes_when_read(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that changes data (a page that starts an enrolment): its unit of
    work writes in its own transaction, like a POST's. Put it under the route decorator."""
    setattr(endpoint, _WRITES_WHEN_READ, True)
    return endpoint


def reads_while_calling_out(endpoint: Endpoint) -> Endpoint:
    """Mark a POST route that reads, then waits on another service (a payment provider),
    and writes nothing but its audit entries: its unit of work is a read one, so on
    SQLite it holds no write turn while the call is out (every other change in the
    process would wait behind it); its entries are written just after, as a GET's are.
    Put it under the route decorator."""
    setattr(endpoint, _READS_WHILE_CALLING_OUT, True)
    return endpoint


def is_read(request: Request) -> bool:
    """Whether the request's unit of work only reads (a GET, unless its route is marked
    ``writes_when_read``; another method when its route is ``reads_while_calling_out``)."""
    endpoint = request.scope.get("endpoint")
    if request.method not in READ_METHODS:
        return getattr(endpoint, _READS_WHILE_CALLING_OUT, False) is True
    return not getattr(endpoint, _WRITES_WHEN_READ, False)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
