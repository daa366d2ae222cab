"""Signals: how a lower domain makes higher ones act, inside its own transaction.

A domain declares what happened as a typed signal (``appointment_freed``,
``patient_merged``, ``visit_finished``) next to its models; a domain above it connects a
handler when the application is built (``clinicdesk.reactions``), so the lower one never
imports the higher one. Rules:

* ``send`` runs every handler, in the order they were connected, in the caller's session
  and so in the caller's transaction: what a handler writes commits or rolls back with the
  change that sent the signal, and a handler that raises fails the whole unit of work
  (the change is rolled back; nothing half-done is kept).
* Handlers must do what has to happen *now* (move rows, keep an invariant, record their
  audit entries). What can happen later (mail, messages, reports) is a job, enqueued by
  the handler in the same transaction; what a screen should see is a live event.
* Connecting a handler twice has no effect, so building the application twice (tests,
  several apps in one process) does not run a handler twice.
* ``send`` returns each handler's answer, in order (``None`` for handlers that answer
  nothing), for signals whose sender reports what was done (a merge tells how many rows
  each domain moved).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

Payload = TypeVar("Payload")
Answer = TypeVar("Answer")

Handler = Callable[[AsyncSession, Payload], Awaitable[Answer]]


class Signal(Generic[Payload, Answer]):
    """Something that happened in one domain that others may react to in-transaction."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Handler[Payload, Answer]] = []

    def __repr__(self) -> str:
        return f"Signal({self.name!r}, handlers={len(self._handlers)})"

    @property
    def handlers(self) -> tuple[Handler[Payload, Answer], ...]:
        return tuple(self._handlers)

    def connect(self, handler: Handler[Payload, Answer]) -> Handler[Payload, Answer]:
        """Run ``handler`` on every ``send``; usable as a decorator."""
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def disconnect(self, handler: Handler[Payload, Answer]) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    async def send(self, session: AsyncSession, payload: Payload) -> list[Answer]:
        """Run the handlers in ``session``'s transaction; an exception propagates to the
        caller, whose unit of work then rolls everything back."""
        return [await handler(session, payload) for handler in tuple(self._handlers)]
