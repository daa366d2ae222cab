"""Fan-out across processes (PostgreSQL LISTEN/NOTIFY): two ``clinicdesk serve``
processes on one database; every patient checked in through process A reaches a stream
held open on process B, in order. (How fast is measured in ``benchmarks/``, not asserted
here: on a shared, loaded machine a timed assertion fails for reasons of its own.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.queue.test_live import _bearer, _env
from tests.support.queue import book_today_over_http, seed_queue_database
from tests.support.server import running_server
from tests.support.sse import open_stream


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_check_in_on_one_process_reaches_a_stream_on_another(
    migrated_database_url: str, tmp_path: Path
) -> None:
    qc = await seed_queue_database(migrated_database_url, patients=3, appointments=3)
    env = _env(migrated_database_url)
    with (
        running_server(tmp_path / "a", env=env) as process_a,
        running_server(tmp_path / "b", env=env) as process_b,
    ):
        async with (
            httpx.AsyncClient(base_url=process_a, timeout=30) as a,
            httpx.AsyncClient(base_url=process_b, timeout=30) as b,
        ):
            desk_on_a = await _bearer(a, qc.desk_email)
            doctor_on_b = await _bearer(b, qc.doctor_email)
            appointments = await book_today_over_http(a, desk_on_a, qc)
            async with open_stream(b, headers=doctor_on_b) as stream:
                for appointment_id in appointments:
                    answer = await a.post(
                        "/api/v1/queue/check-ins",
                        json={"appointment_id": appointment_id},
                        headers=desk_on_a,
                    )
                    assert answer.status_code == 201, answer.text
                    event = await stream.next_of("queue.checked_in", seconds=5)
                    assert event.data["visit_id"] == answer.json()["id"]
