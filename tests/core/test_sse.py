"""The server-sent events stream of one client: what goes on the wire and when (retry
first; id, type and JSON data per event; keep-alives; replay or reset on reconnect; end
when access ends), and that a stream that ends, for whatever reason, unsubscribes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from clinicdesk.core.events import RESET, Event, EventBroker
from clinicdesk.core.sse import STREAM_HEADERS, STREAM_RESPONSES, Selected, event_stream
from tests.support.postgres import free_port

ORGANIZATION = uuid.uuid4()


def event(kind: str = "queue.called", **data: Any) -> Event:
    return Event(organization_id=ORGANIZATION, type=kind, data=data)


def everything(e: Event) -> Selected:
    return e.data


async def allowed() -> bool:
    return True


def stream(
    broker: EventBroker,
    *,
    last_event_id: str | None = None,
    select: Callable[[Event], Selected] = everything,
    still_allowed: Callable[[], Any] = allowed,
    **options: Any,
) -> AsyncGenerator[bytes, None]:
    return event_stream(
        last_event_id=last_event_id,
        select=select,
        still_allowed=still_allowed,
        broker=broker,
        **options,
    )


async def read(chunks: AsyncIterator[bytes], seconds: float = 5) -> str:
    async with asyncio.timeout(seconds):
        return (await anext(chunks)).decode()


async def eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true")


def fields(chunk: str) -> dict[str, str]:
    """One message's fields (``data`` lines joined), as a browser reads them."""
    parsed: dict[str, str] = {}
    for line in chunk.strip("\n").split("\n"):
        name, _, value = line.partition(": ")
        parsed[name] = f"{parsed[name]}\n{value}" if name in parsed else value
    return parsed


def wire(e: Event, data: dict[str, Any] | None = None, kind: str | None = None) -> str:
    payload = json.dumps(e.data if data is None else data, separators=(",", ":"))
    return f"event: {kind or e.type}\ndata: {payload}\nid: {e.id}\n\n"


async def test_retry_comes_first_then_each_event_with_its_id_type_and_data() -> None:
    broker = EventBroker()
    chunks = stream(broker, retry_ms=3000)
    assert await read(chunks) == "retry: 3000\n\n"

    called = broker.publish(event("queue.called", visit_id="v-1", token="A-7", room="2"))
    assert await read(chunks) == wire(called)
    assert json.loads(fields(wire(called))["data"]) == called.data
    await chunks.aclose()


async def test_select_filters_and_projects_per_client() -> None:
    broker = EventBroker()

    def for_display(e: Event) -> Selected:
        if e.type == "queue.secret":
            return None
        if e.type == "queue.moved":
            return ("queue.changed", {})
        if e.type == "queue.sse":
            return ServerSentEvent(data={"token": e.data["token"]}, id="ignored")
        return {"token": e.data["token"]}

    chunks = stream(broker, select=for_display)
    await read(chunks)
    broker.publish(event("queue.secret", token="A-1"))  # not for this client
    shown = broker.publish(event("queue.called", token="A-2", patient_id="p"))
    moved = broker.publish(event("queue.moved", token="A-3"))
    model = broker.publish(event("queue.sse", token="A-4"))

    assert await read(chunks) == wire(shown, {"token": "A-2"})
    assert await read(chunks) == wire(moved, {}, "queue.changed")
    # The id on the wire is always the event's (replay depends on it).
    assert await read(chunks) == wire(model, {"token": "A-4"})
    await chunks.aclose()


async def test_a_reset_reaches_every_client_whatever_it_selects() -> None:
    broker = EventBroker()
    chunks = stream(broker, select=lambda _e: None)
    await read(chunks)
    broker.publish(event())
    reset = broker.reset("events-reconnected")
    assert await read(chunks) == wire(reset, kind=RESET)
    await chunks.aclose()


async def test_keepalive_comments_when_idle() -> None:
    broker = EventBroker()
    chunks = stream(broker, keepalive_seconds=0.05)
    await read(chunks)
    assert await read(chunks) == ": ping\n\n"
    assert await read(chunks) == ": ping\n\n"
    await chunks.aclose()


async def test_reconnecting_replays_what_was_missed_and_then_goes_on() -> None:
    broker = EventBroker()
    seen = broker.publish(event(n=1))
    missed = broker.publish(event(n=2))
    broker.publish(event("other.thing", n=3))  # not for this client
    also_missed = broker.publish(event(n=4))

    def mine(e: Event) -> Selected:
        return None if e.type == "other.thing" else e.data

    chunks = stream(broker, last_event_id=seen.id, select=mine)
    assert (await read(chunks)).startswith("retry: ")
    assert await read(chunks) == wire(missed)
    assert await read(chunks) == wire(also_missed)
    later = broker.publish(event(n=5))
    assert await read(chunks) == wire(later)  # once, after the replay
    await chunks.aclose()


async def test_an_unknown_last_event_id_gets_a_reset_that_moves_the_client_on() -> None:
    broker = EventBroker()
    newest = broker.publish(event(n=1))
    chunks = stream(broker, last_event_id="from-another-life")
    await read(chunks)
    reset = fields(await read(chunks))
    assert reset["event"] == RESET
    assert json.loads(reset["data"]) == {"reason": "not-in-history"}
    assert reset["id"] == newest.id  # the next reconnect replays from here
    later = broker.publish(event(n=2))
    assert await read(chunks) == wire(later)
    await chunks.aclose()


async def test_a_client_that_falls_behind_gets_a_reset() -> None:
    broker = EventBroker(queue_size=2)
    chunks = stream(broker)
    await read(chunks)
    published = [broker.publish(event(n=n)) for n in range(5)]
    reset = fields(await read(chunks))
    assert reset == {"event": RESET, "data": '{"reason":"fell-behind"}'}
    assert await read(chunks) == wire(published[3])
    assert await read(chunks) == wire(published[4])
    await chunks.aclose()


async def test_the_stream_ends_when_access_ends() -> None:
    broker = EventBroker()
    checks: list[bool] = []

    async def until_signed_out() -> bool:
        checks.append(True)
        return len(checks) < 3

    chunks = stream(broker, still_allowed=until_signed_out, recheck_seconds=0.02)
    received = [await read(chunks)]
    while not received[-1].startswith("event: end"):
        received.append(await read(chunks))
    assert fields(received[-1]) == {"event": "end", "data": '{"reason":"access-ended"}'}
    assert len(checks) == 3
    async with asyncio.timeout(5):
        assert [chunk async for chunk in chunks] == []
    assert broker.subscribers == 0


async def test_the_stream_ends_when_the_server_closes_subscriptions() -> None:
    broker = EventBroker()
    chunks = stream(broker)
    await read(chunks)
    assert broker.subscribers == 1
    broker.close_subscriptions()
    async with asyncio.timeout(5):
        assert [chunk async for chunk in chunks] == []
    assert broker.subscribers == 0


async def test_closing_or_cancelling_a_stream_unsubscribes() -> None:
    broker = EventBroker()
    chunks = stream(broker)
    await read(chunks)
    assert broker.subscribers == 1
    await chunks.aclose()
    assert broker.subscribers == 0

    chunks = stream(broker)
    await read(chunks)
    reading = asyncio.create_task(read(chunks, seconds=60))
    await asyncio.sleep(0.01)
    assert broker.subscribers == 1
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    assert broker.subscribers == 0


async def test_a_client_that_disconnects_from_a_real_server_is_unsubscribed() -> None:
    """Over HTTP through uvicorn: the bytes arrive as sent, with the stream headers, and
    a client that goes away ends its stream (no subscription is left behind)."""
    broker = EventBroker()
    app = FastAPI()

    @app.get("/events", responses=STREAM_RESPONSES)
    async def events(request: Request) -> EventSourceResponse:
        return EventSourceResponse(
            stream(broker, last_event_id=request.headers.get("last-event-id")),
            headers=STREAM_HEADERS,
        )

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started)
        seen = broker.publish(event(n=1))
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
            client.stream("GET", "/events", headers={"Last-Event-ID": seen.id}) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            chunks = response.aiter_bytes()
            assert (await read(chunks)).startswith("retry: ")
            published = broker.publish(event(n=2))
            assert await read(chunks) == wire(published)
            assert broker.subscribers == 1
        await eventually(lambda: broker.subscribers == 0)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def test_a_database_that_cannot_answer_the_access_check_does_not_end_the_stream() -> None:
    """The check fails as it does while the database is away; the stream goes on (a
    browser would not reconnect past the 503) and checks again later."""
    broker = EventBroker()
    checks: list[bool] = []

    async def database_away() -> bool:
        checks.append(True)
        raise ConnectionRefusedError(111, "Connect call failed")

    chunks = stream(broker, still_allowed=database_away, recheck_seconds=0.01)
    assert (await read(chunks)).startswith("retry:")
    pending = asyncio.create_task(read(chunks))
    await eventually(lambda: len(checks) >= 3)
    called = broker.publish(event("queue.called", token="A-7"))
    assert await pending == wire(called)
    await chunks.aclose()
