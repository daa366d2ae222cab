"""What a running application holds, and the dependencies that hand it to routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk import __version__
from clinicdesk.config import Settings
from clinicdesk.core.db import Database, unit_of_work
from clinicdesk.core.keys import AppKeys
from clinicdesk.core.observability import HttpMetrics, RequestStats


@dataclass(slots=True)
class Runtime:
    settings: Settings
    keys: AppKeys
    db: Database
    stats: RequestStats
    metrics: HttpMetrics
    version: str = __version__


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit after the handler returns, roll back if it
    raises, run after-commit hooks once committed. Declared with ``scope="function"`` so
    the commit happens before the response is sent: a client never sees success for a
    write that then failed to commit."""
    runtime = get_runtime(request)
    async with runtime.db.sessionmaker() as session, unit_of_work(session):
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
