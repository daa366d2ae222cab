"""A bounded schemathesis run over the whole JSON API: whatever a client sends, valid by
the schema or not, the answer is never a server error.

The requests are drawn from /openapi.json (a new route is fuzzed without a word here),
half of them about real records so that they get past the lookups, and sent in process
in the test's transaction with a token that holds every staff role. Generation is
derandomized, so CI sends the same requests on every run.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from schemathesis import GenerationMode
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.fuzz import draw, operations, request_of, resources, with_real_ids
from tests.support.identity import api_as

# Per operation: requests valid by the schema, and invalid ones. About 1,200 in all.
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
# A tripwire, not a benchmark, in CPU seconds of this process (wall time on the shared
# 2-core machine swings with the neighbours' load: 61 s one day, past 120 s the next):
# measured at 35 s of CPU for about 1,200 requests (before billing's routes).
BUDGET_CPU_SECONDS = 100


def cases(operation: Any, known: dict[str, Any]) -> list[Any]:
    """Requests for ``operation``; every other one about the real records of ``known``,
    the rest about made-up ones."""
    drawn: list[Any] = []
    for mode, count in EXAMPLES.items():
        drawn += draw(operation.as_strategy(generation_mode=mode), count)
    for case in drawn[::2]:
        with_real_ids(case.path_parameters, known, any_value=True)
        with_real_ids(case.body, known)
        with_real_ids(case.query, known)
    return drawn


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_no_request_to_the_api_is_a_server_error(app: FastAPI, session: AsyncSession) -> None:
    known = await resources(session, app)
    started = time.process_time()
    failures: list[str] = []
    sent = 0
    async with await api_as(app, session, known.pop("staff")) as client:
        for operation in operations(app):
            for case in cases(operation, known):
                response = await client.request(**request_of(case))
                sent += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.path} -> {response.status_code}: "
                        f"{case.as_curl_command()}"
                    )
    assert not failures, "\n".join(failures)
    assert sent > 1000
    assert time.process_time() - started < BUDGET_CPU_SECONDS
