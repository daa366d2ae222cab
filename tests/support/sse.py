"""Reading a live event stream from a real server in tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Received:
    type: str
    id: str | None
    data: Any
    at: float  # time.monotonic() when it arrived


class Stream:
    """An open ``text/event-stream``: ``await next_event()`` gives the next event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, seconds: float = 10.0) -> Received:
        async def read() -> Received:
            fields: dict[str, str] = {}
            async for line in self._lines:
                if line == "":
                    if "event" in fields or "data" in fields:
                        data = fields.get("data")
                        return Received(
                            type=fields.get("event", "message"),
                            id=fields.get("id"),
                            data=json.loads(data) if data else None,
                            at=time.monotonic(),
                        )
                    fields = {}
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            raise EOFError("the stream ended")

        return await asyncio.wait_for(read(), seconds)

    async def next_of(self, kind: str, seconds: float = 10.0) -> Received:
        """Skip events of other types until one of ``kind`` arrives."""
        deadline = time.monotonic() + seconds
        while True:
            event = await self.next_event(max(0.01, deadline - time.monotonic()))
            if event.type == kind:
                return event


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, url: str = "/api/v1/events", **kwargs: Any
) -> AsyncIterator[Stream]:
    async with client.stream("GET", url, timeout=httpx.Timeout(5, read=None), **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)
