"""Live events: the broker's order, short history and replay by position; publishing only
after commit (SQLite and PostgreSQL); and on PostgreSQL, fan-out between processes
through LISTEN/NOTIFY, with a relay that comes back after losing its connection."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.events import (
    NOTIFY_LIMIT_BYTES,
    RESET,
    Event,
    EventBroker,
    PostgresEventRelay,
    Subscription,
    asyncpg_connect_args,
    broker,
    notify_payload,
    publish_after_commit,
    receiving_events,
)
from tests.support.postgres import free_port

ORGANIZATION = uuid.UUID("00000000-0000-0000-0000-00000000000a")


def event(kind: str = "thing.happened", **data: Any) -> Event:
    return Event(organization_id=ORGANIZATION, type=kind, data=data)


async def next_event(subscription: Subscription, seconds: float = 10) -> Event:
    async with asyncio.timeout(seconds):
        received = await subscription.next()
    assert received is not None, "the subscription was closed"
    return received


async def events_until(subscription: Subscription, last: Event) -> list[Event]:
    """What arrives up to and including ``last`` (other tests' stray events included)."""
    seen = [await next_event(subscription)]
    while seen[-1].id != last.id:
        seen.append(await next_event(subscription))
    return seen


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the broker -----------------------------------------------------------------------


def test_events_keep_their_order_and_replay_by_position() -> None:
    events = EventBroker()
    first, second, third = (events.publish(event(n=n)) for n in range(3))

    assert events.since(first.id) == [second, third]
    assert events.since(second.id) == [third]
    assert events.since(third.id) == []
    assert events.head() == third.id


def test_ids_are_unique_strings_and_a_repeated_id_counts_once() -> None:
    events = EventBroker()
    published = [events.publish(event(n=n)) for n in range(50)]
    assert len({e.id for e in published}) == 50
    assert all(isinstance(e.id, str) and e.id for e in published)

    events.publish(published[10])
    assert events.since(published[-2].id) == [published[-1]]


def test_an_unknown_id_cannot_be_replayed() -> None:
    events = EventBroker()
    assert events.since("never-seen") is None
    assert events.head() is None
    events.publish(event())
    assert events.since("never-seen") is None
    # Another process's id from before this one started is just as unknown.
    assert events.since(Event(organization_id=ORGANIZATION, type="x", data={}).id) is None


def test_history_keeps_the_last_events_only() -> None:
    events = EventBroker(history=3)
    published = [events.publish(event(n=n)) for n in range(5)]

    assert events.since(published[0].id) is None
    assert events.since(published[1].id) is None
    assert events.since(published[2].id) == published[3:]


def test_history_forgets_old_events() -> None:
    clock = FakeClock()
    events = EventBroker(max_age_seconds=600, clock=clock)
    old = events.publish(event(n=1))
    clock.now += 300
    middle = events.publish(event(n=2))
    newest = events.publish(event(n=3))
    assert events.since(old.id) == [middle, newest]

    clock.now += 301
    assert events.since(old.id) is None
    assert events.since(middle.id) == [newest]


async def test_subscribers_get_every_event_in_order() -> None:
    events = EventBroker()
    with events.subscribe() as one, events.subscribe() as other:
        published = [events.publish(event(n=n)) for n in range(3)]
        assert [await next_event(one) for _ in range(3)] == published
        assert [await next_event(other) for _ in range(3)] == published
    assert events.subscribers == 0


async def test_a_subscriber_that_falls_behind_loses_the_oldest_and_blocks_no_one() -> None:
    events = EventBroker(queue_size=3)
    with events.subscribe() as slow, events.subscribe() as fast:
        published = []
        for n in range(5):
            published.append(events.publish(event(n=n)))
            assert await next_event(fast) == published[-1]

        assert slow.missed == 2
        assert [await next_event(slow) for _ in range(3)] == published[2:]
        assert fast.missed == 0


async def test_a_waiting_subscriber_is_woken_by_a_publish() -> None:
    events = EventBroker()
    with events.subscribe() as subscription:
        waiting = asyncio.create_task(subscription.next())
        await asyncio.sleep(0)
        published = events.publish(event())
        assert await asyncio.wait_for(waiting, 5) == published


async def test_a_cancelled_wait_loses_nothing() -> None:
    events = EventBroker()
    with events.subscribe() as subscription:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await subscription.next()
        published = events.publish(event())
        assert await next_event(subscription) == published


async def test_closing_ends_every_subscription() -> None:
    events = EventBroker()
    with events.subscribe() as one:
        events.publish(event())  # pending for one; other waits
        with events.subscribe() as other:
            waiting = asyncio.create_task(other.next())
            await asyncio.sleep(0)
            assert events.close_subscriptions() == 2
            assert await one.next() is None
            assert await asyncio.wait_for(waiting, 5) is None
    assert events.subscribers == 0


def test_reset_is_an_event_for_every_listener_in_the_history() -> None:
    events = EventBroker()
    before = events.publish(event())
    reset = events.reset("events-reconnected")
    assert reset.type == RESET
    assert reset.organization_id is None
    assert reset.data == {"reason": "events-reconnected"}
    assert events.since(before.id) == [reset]


# --- the wire format between processes ------------------------------------------------


def test_an_event_survives_its_json() -> None:
    original = event("appointment.booked", appointment_id=str(uuid.uuid4()), status="booked")
    assert Event.from_json(original.to_json()) == original
    system = Event(organization_id=None, type=RESET, data={"reason": "x"})
    assert Event.from_json(system.to_json()) == system


@pytest.mark.parametrize(
    "payload",
    ["[]", "{}", '{"id": 1, "type": "x", "data": {}, "occurred_at": "t"}', "not json"],
)
def test_anything_else_is_not_an_event(payload: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Event.from_json(payload)


def test_an_oversized_event_is_sent_with_its_ids_only(caplog: pytest.LogCaptureFixture) -> None:
    visit = str(uuid.uuid4())
    large = event("queue.noted", visit_id=visit, note="x" * 10_000, count=3)
    payload = notify_payload(large)

    assert len(payload.encode()) < NOTIFY_LIMIT_BYTES
    sent = Event.from_json(payload)
    assert sent.id == large.id
    assert sent.type == large.type
    assert sent.data == {"visit_id": visit, "trimmed": True}
    warnings = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert any(w.get("event") == "events.payload_trimmed" for w in warnings)
    assert "xxxxxxxx" not in caplog.text  # the data itself is never logged


def test_a_small_event_is_sent_whole() -> None:
    small = event(visit_id="v", token="A-12")
    assert json.loads(notify_payload(small))["data"] == {"visit_id": "v", "token": "A-12"}


def test_the_listener_connects_as_the_engine_does() -> None:
    args = asyncpg_connect_args(
        "postgresql+asyncpg://app:s%40cret@db.example:6543/clinic?ssl=require"
        "&prepared_statement_cache_size=0"
    )
    assert args == {
        "host": "db.example",
        "port": 6543,
        "user": "app",
        "password": "s@cret",
        "database": "clinic",
        "ssl": "require",
    }


# --- after commit, on both databases --------------------------------------------------


@pytest.fixture
async def received(backend: str, database_url: str) -> AsyncIterator[EventBroker]:
    """Where this process receives what it publishes: the process's broker on SQLite, a
    relay's broker on PostgreSQL (the way every server process receives them)."""
    if backend == "sqlite":
        yield broker()
        return
    relay = PostgresEventRelay(database_url, broker=EventBroker())
    await relay.start()
    try:
        assert relay.listening
        yield relay.broker
    finally:
        await relay.stop()


async def test_events_are_published_only_after_commit(
    session: AsyncSession, received: EventBroker
) -> None:
    async def publish_and_fail(one: Event) -> None:
        publish_after_commit(session, one)
        raise RuntimeError("the use case failed")

    async def in_unit_of_work(one: Event) -> None:
        async with unit_of_work(session):
            await publish_and_fail(one)

    async def in_savepoint(one: Event) -> None:
        async with session.begin_nested():
            await publish_and_fail(one)

    with received.subscribe() as subscription:
        lost = event(step="rolled back")
        with pytest.raises(RuntimeError):
            await in_unit_of_work(lost)

        lost_in_savepoint = event(step="savepoint rolled back")
        kept = event(step="committed")
        async with unit_of_work(session):
            with pytest.raises(RuntimeError):
                await in_savepoint(lost_in_savepoint)
            publish_after_commit(session, kept)
            await asyncio.sleep(0.05)
            assert len(subscription) == 0  # not before the commit

        arrived = await events_until(subscription, kept)
    assert lost.id not in {e.id for e in arrived}
    assert lost_in_savepoint.id not in {e.id for e in arrived}


async def test_a_serving_process_receives_what_is_committed(db: Database) -> None:
    """What the application's lifespan runs: on PostgreSQL a relay into the process's
    broker, on SQLite nothing (the broker is published to directly)."""
    async with receiving_events(db) as relay:
        if db.kind == "postgresql":
            assert relay is not None
            assert relay.listening
            assert relay.broker is broker()
        else:
            assert relay is None
        with broker().subscribe() as subscription:
            sent = [event(n=n) for n in range(3)]
            async with session_scope(db) as session:
                for one in sent:
                    publish_after_commit(session, one)
            arrived = await events_until(subscription, sent[-1])
    assert [e.id for e in arrived if e.id in {s.id for s in sent}] == [s.id for s in sent]


# --- PostgreSQL: several processes ------------------------------------------------------


@pytest.fixture
async def two_engines(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    engines = create_database(postgres_url, pool_size=2), create_database(postgres_url, pool_size=2)
    try:
        yield engines
    finally:
        for database in engines:
            await database.dispose()


async def test_every_process_gets_every_event_in_the_same_order(
    postgres_url: str, two_engines: tuple[Database, Database]
) -> None:
    """Two engines and two relays stand for two server processes: what either commits
    reaches both, in one order, so replay by position means the same on both."""
    first_db, second_db = two_engines
    first = PostgresEventRelay(postgres_url, broker=EventBroker())
    second = PostgresEventRelay(postgres_url, broker=EventBroker())
    await first.start()
    await second.start()
    try:
        with first.broker.subscribe() as at_first, second.broker.subscribe() as at_second:
            sent = []
            for n, database in enumerate([first_db, second_db, first_db, second_db]):
                one = event(n=n)
                async with session_scope(database) as session:
                    publish_after_commit(session, one)
                sent.append(one.id)
            mine = set(sent)
            got_first = [e.id for e in await events_until(at_first, one) if e.id in mine]
            got_second = [e.id for e in await events_until(at_second, one) if e.id in mine]
        assert got_first == sent
        assert got_second == sent
        replay_first = first.broker.since(sent[1])
        replay_second = second.broker.since(sent[1])
        assert replay_first is not None
        assert replay_second is not None
        assert [e.id for e in replay_first] == [e.id for e in replay_second] == sent[2:]
        # Each event arrived whole: the same organization, type and data everywhere.
        assert replay_first[-1] == replay_second[-1]
        assert replay_first[-1].data == {"n": 3}
    finally:
        await first.stop()
        await second.stop()


async def test_an_oversized_event_still_arrives_with_its_ids(
    postgres_url: str, two_engines: tuple[Database, Database]
) -> None:
    database, _other = two_engines
    relay = PostgresEventRelay(postgres_url, broker=EventBroker())
    await relay.start()
    try:
        with relay.broker.subscribe() as subscription:
            large = event(visit_id="v-1", note="y" * 9000)
            async with session_scope(database) as session:
                publish_after_commit(session, large)
            arrived = (await events_until(subscription, large))[-1]
        assert arrived.data == {"visit_id": "v-1", "trimmed": True}
    finally:
        await relay.stop()


async def test_the_relay_comes_back_and_tells_listeners_to_reload(
    postgres_url: str, two_engines: tuple[Database, Database]
) -> None:
    database, _other = two_engines
    relay = PostgresEventRelay(postgres_url, broker=EventBroker(), max_backoff=0.5)
    await relay.start()
    try:
        lost_pid = relay.backend_pid
        assert lost_pid is not None
        with relay.broker.subscribe() as subscription:
            async with database.engine.connect() as connection:
                terminated = await connection.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": lost_pid}
                )
                assert terminated.scalar_one() is True

            reset = await next_event(subscription)
            assert reset.type == RESET
            assert reset.organization_id is None
            assert relay.listening
            assert relay.backend_pid not in (None, lost_pid)

            after = event(n="after")
            async with session_scope(database) as session:
                publish_after_commit(session, after)
            assert (await events_until(subscription, after))[-1] == after
    finally:
        await relay.stop()


async def test_a_stopped_relay_closes_its_connection(postgres_url: str) -> None:
    relay = PostgresEventRelay(postgres_url, broker=EventBroker())
    await relay.start()
    pid = relay.backend_pid
    await relay.stop()
    assert not relay.listening
    database = create_database(postgres_url, pool_size=1)
    try:
        async with database.engine.connect() as connection:
            for _ in range(50):
                alive = await connection.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
                if alive == 0:
                    break
                await asyncio.sleep(0.1)
        assert alive == 0
    finally:
        await database.dispose()


async def test_a_relay_without_a_database_keeps_trying_and_stops_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nobody_listens = f"postgresql+asyncpg://app@127.0.0.1:{free_port()}/clinic"
    relay = PostgresEventRelay(nobody_listens, broker=EventBroker(), max_backoff=0.05)
    async with asyncio.timeout(10):
        await relay.start()  # returns after the first failed attempt
    assert not relay.listening
    await asyncio.sleep(0.2)
    async with asyncio.timeout(5):
        await relay.stop()
    attempts = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and "relay_unavailable" in str(r.msg)
    ]
    assert len(attempts) >= 2
