"""``core.signals``: handlers run in order, once each however often they are connected,
and their answers come back to the sender; an exception reaches the sender."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.signals import Signal


async def test_handlers_run_in_connection_order_once_each_and_answer() -> None:
    signal: Signal[int, str] = Signal("counted")
    seen: list[str] = []

    async def first(_session: AsyncSession, value: int) -> str:
        seen.append("first")
        return f"first:{value}"

    async def second(_session: AsyncSession, value: int) -> str:
        seen.append("second")
        return f"second:{value}"

    signal.connect(first)
    signal.connect(second)
    signal.connect(first)  # building the app twice connects nothing twice
    assert signal.handlers == (first, second)

    answers = await signal.send(AsyncSession(), 7)

    assert answers == ["first:7", "second:7"]
    assert seen == ["first", "second"]
    signal.disconnect(first)
    assert await signal.send(AsyncSession(), 1) == ["second:1"]


async def test_a_failing_handler_stops_the_send_and_reaches_the_sender() -> None:
    signal: Signal[None, None] = Signal("failing")
    ran: list[str] = []

    async def fails(_session: AsyncSession, _payload: None) -> None:
        raise ValueError("refused")

    async def after(_session: AsyncSession, _payload: None) -> None:
        ran.append("after")

    signal.connect(fails)
    signal.connect(after)
    with pytest.raises(ValueError, match="refused"):
        await signal.send(AsyncSession(), None)
    assert ran == []


async def test_a_signal_with_no_handler_answers_nothing() -> None:
    assert await Signal[str, None]("quiet").send(AsyncSession(), "x") == []
