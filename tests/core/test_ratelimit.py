"""Rate limiting: in memory and on a real Redis server, shared across limiter instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from limits.errors import StorageError
from redis.asyncio import Redis

from clinicdesk.core.ratelimit import (
    KEY_PREFIX,
    Decision,
    RateLimited,
    RateLimiter,
    Rule,
    _WindowsInProcess,
    describe_wait,
    hash_key_part,
)
from tests.support.postgres import free_port
from tests.support.redis import ThrowawayRedis, start_throwaway_redis

LOGIN_ACCOUNT = Rule("login-account", "3/15 minutes")
LOGIN_ADDRESS = Rule("login-address", "3/15 minutes")
ALICE = "alice@example.org"
BOB = "bob@example.org"
ADDRESS = "203.0.113.7"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ThrowawayRedis]:
    server = start_throwaway_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: ThrowawayRedis) -> AsyncIterator[Redis]:
    """A direct connection to inspect the server; the database starts empty for each test."""
    client = Redis.from_url(redis_server.url())
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiter(
    request: pytest.FixtureRequest, redis_server: ThrowawayRedis, redis_client: Redis
) -> AsyncIterator[RateLimiter]:
    """Each test runs twice: counting in memory, and in Redis (emptied by ``redis_client``)."""
    limiter = RateLimiter.from_url(None if request.param == "memory" else redis_server.url())
    try:
        yield limiter
    finally:
        await limiter.close()


async def test_attempts_are_allowed_up_to_the_limit_then_refused(limiter: RateLimiter) -> None:
    for _ in range(3):
        assert await limiter.hit(LOGIN_ACCOUNT, ALICE) == Decision(allowed=True)

    refused = await limiter.hit(LOGIN_ACCOUNT, ALICE)

    assert not refused.allowed
    # The window is 15 minutes and the attempts were made just now.
    assert 15 * 60 - 5 <= refused.retry_after_seconds <= 15 * 60


async def test_each_key_and_each_rule_has_its_own_window(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_ACCOUNT, ALICE)
    assert not (await limiter.hit(LOGIN_ACCOUNT, ALICE)).allowed

    assert (await limiter.hit(LOGIN_ACCOUNT, BOB)).allowed
    assert (await limiter.hit(LOGIN_ADDRESS, ALICE)).allowed


async def test_key_parts_ignore_case_and_surrounding_spaces(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_ACCOUNT, ALICE)

    assert not (await limiter.hit(LOGIN_ACCOUNT, " Alice@Example.ORG ")).allowed


async def test_several_key_parts_make_one_key(limiter: RateLimiter) -> None:
    rule = Rule("mfa", "2/15 minutes")
    await limiter.hit(rule, ALICE, ADDRESS)
    await limiter.hit(rule, ALICE, ADDRESS)

    assert not (await limiter.hit(rule, ALICE, ADDRESS)).allowed
    assert (await limiter.hit(rule, ALICE, "198.51.100.1")).allowed


async def test_clear_forgets_the_attempts(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(LOGIN_ACCOUNT, ALICE)
        await limiter.hit(LOGIN_ACCOUNT, BOB)

    await limiter.clear(LOGIN_ACCOUNT, ALICE)

    assert await limiter.test(LOGIN_ACCOUNT, ALICE) == Decision(allowed=True)
    assert (await limiter.hit(LOGIN_ACCOUNT, ALICE)).allowed
    # Only that key: the other account is still refused.
    assert not (await limiter.test(LOGIN_ACCOUNT, BOB)).allowed


async def test_test_does_not_consume(limiter: RateLimiter) -> None:
    for _ in range(10):
        assert await limiter.test(LOGIN_ACCOUNT, ALICE) == Decision(allowed=True)
    for _ in range(3):
        assert (await limiter.hit(LOGIN_ACCOUNT, ALICE)).allowed

    checked = await limiter.test(LOGIN_ACCOUNT, ALICE)

    assert not checked.allowed
    assert 15 * 60 - 5 <= checked.retry_after_seconds <= 15 * 60


async def test_refused_attempts_do_not_extend_the_window(limiter: RateLimiter) -> None:
    rule = Rule("reset", "2/1 second")
    await limiter.hit(rule, ALICE)
    await limiter.hit(rule, ALICE)
    for _ in range(5):
        refused = await limiter.hit(rule, ALICE)
        assert not refused.allowed

    # retry_after is rounded up, so waiting that long is always enough.
    assert refused.retry_after_seconds == 1
    await asyncio.sleep(refused.retry_after_seconds)

    assert (await limiter.hit(rule, ALICE)).allowed


async def test_retry_after_counts_from_the_oldest_attempt(limiter: RateLimiter) -> None:
    rule = Rule("window", "2/3 seconds")
    await limiter.hit(rule, ALICE)
    await asyncio.sleep(1.2)
    await limiter.hit(rule, ALICE)

    refused = await limiter.hit(rule, ALICE)

    # The first attempt leaves the window ~1.8 s from now; the second only ~3 s from now.
    assert refused == Decision(allowed=False, retry_after_seconds=2)


def test_a_malformed_limit_fails_when_the_rule_is_defined() -> None:
    with pytest.raises(ValueError, match="couldn't parse"):
        Rule("login-account", "five per fortnight")
    with pytest.raises(ValueError, match="rule name"):
        Rule("", "5/minute")


def test_only_memory_and_redis_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="unsupported rate limit storage 'memcached'"):
        RateLimiter.from_url("memcached://127.0.0.1:11211")


async def test_two_limiters_on_the_same_redis_share_counts(
    redis_server: ThrowawayRedis, redis_client: Redis
) -> None:
    # Two limiters stand for two worker processes: an attacker spreading attempts across
    # them gets no more than the limit.
    first = RateLimiter.from_url(redis_server.url())
    second = RateLimiter.from_url(redis_server.url())
    try:
        assert (await first.hit(LOGIN_ACCOUNT, ALICE)).allowed
        assert (await second.hit(LOGIN_ACCOUNT, ALICE)).allowed
        assert (await first.hit(LOGIN_ACCOUNT, ALICE)).allowed

        assert not (await second.hit(LOGIN_ACCOUNT, ALICE)).allowed
        assert not (await first.test(LOGIN_ACCOUNT, ALICE)).allowed

        await second.clear(LOGIN_ACCOUNT, ALICE)
        assert (await first.test(LOGIN_ACCOUNT, ALICE)).allowed
    finally:
        await first.close()
        await second.close()


async def test_redis_holds_no_personal_data(
    redis_server: ThrowawayRedis, redis_client: Redis
) -> None:
    limiter = RateLimiter.from_url(redis_server.url())
    try:
        await limiter.hit(LOGIN_ACCOUNT, ALICE)
        await limiter.hit(LOGIN_ADDRESS, ADDRESS)
        await limiter.hit(Rule("mfa", "5/minute"), ALICE, ADDRESS)
    finally:
        await limiter.close()

    keys = [key.decode() async for key in redis_client.scan_iter(match="*")]

    assert len(keys) == 3
    for key in keys:
        assert key.startswith(f"{KEY_PREFIX}:")
        for secret in ("alice", "example", "@", ADDRESS, "203", "113"):
            assert secret not in key.lower()
        assert hash_key_part(ALICE) in key or hash_key_part(ADDRESS) in key
        # The stored values are timestamps, nothing else.
        for value in await redis_client.lrange(key, 0, -1):
            float(value)


async def test_an_unreachable_redis_raises_a_storage_error() -> None:
    limiter = RateLimiter.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StorageError):
            await limiter.hit(LOGIN_ACCOUNT, ALICE)
    finally:
        await limiter.close()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1 second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (900, "15 minutes"),
        (3600, "1 hour"),
        (3601, "2 hours"),
    ],
)
def test_waits_read_as_rounded_up_seconds_minutes_or_hours(seconds: int, text: str) -> None:
    assert describe_wait(seconds) == text


def test_rate_limited_tells_when_to_try_again() -> None:
    error = RateLimited.from_decision(Decision(allowed=False, retry_after_seconds=840))

    assert error.status_code == 429
    assert error.title == "Too many attempts"
    assert error.code == "rate-limited"
    assert error.detail == "Too many attempts. Try again in 14 minutes."
    assert error.retry_after_seconds == 840
    assert error.extensions == {"retry_after_seconds": 840}
    assert error.headers == {"Retry-After": "840"}


def test_rate_limited_never_says_zero() -> None:
    error = RateLimited(0)

    assert error.detail == "Too many attempts. Try again in 1 second."
    assert error.headers == {"Retry-After": "1"}


def test_in_memory_a_key_is_forgotten_once_its_attempts_left_the_window() -> None:
    """Counting in memory: no task or thread expires old attempts; a key whose attempts have
    all left their window is dropped by the next call after the sweep interval."""
    now = [1000.0]
    windows = _WindowsInProcess(clock=lambda: now[0])
    for n in range(50):  # fifty people signed in, one key each
        assert windows.hit(("api", f"caller-{n}"), 2, 60.0, record=True) == 0
    assert windows.hit(("api", "caller-7"), 2, 60.0, record=True) == 0
    assert windows.hit(("api", "caller-7"), 2, 60.0, record=True) == 60.0  # third: refused
    now[0] += 30
    assert windows.hit(("api", "caller-7"), 2, 60.0, record=False) == 30.0
    now[0] += windows.SWEEP_SECONDS + 31
    assert windows.hit(("api", "someone-new"), 2, 60.0, record=True) == 0
    assert list(windows._attempts) == [("api", "someone-new")]
