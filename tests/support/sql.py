"""The SQL a test's session runs, to check what a use case reads and how."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


@contextmanager
def statements_of(session: AsyncSession, *, with_parameters: bool = False) -> Iterator[list[Any]]:
    """The SQL the session runs meanwhile (with its parameters, if asked)."""
    seen: list[Any] = []
    engine = session.bind.sync_engine  # type: ignore[union-attr]

    def record(_c: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        flat = " ".join(statement.split())
        seen.append((flat, parameters) if with_parameters else flat)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
