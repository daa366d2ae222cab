"""Two desks checking patients in at the same second never get the same token: 20
simultaneous walk-in check-ins over HTTP against a real ``clinicdesk serve`` process get
20 different tokens, 001 to 020, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY
from tests.support.identity import PASSWORD
from tests.support.queue import seed_queue_database
from tests.support.server import running_server

CHECK_INS = 20


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_simultaneous_check_ins_get_distinct_tokens(
    migrated_database_url: str, tmp_path: Path
) -> None:
    qc = await seed_queue_database(migrated_database_url, patients=CHECK_INS)
    env = {
        "CLINICDESK_DATABASE_URL": migrated_database_url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
        "CLINICDESK_DB_POOL_SIZE": "10",
    }
    with running_server(tmp_path / "data", env=env) as url:
        limits = httpx.Limits(max_connections=CHECK_INS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            # Two desks: the receptionist and the doctor's own account.
            desks = [
                await _signed_in(client, qc.desk_email),
                await _signed_in(client, qc.doctor_email),
            ]
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/queue/walk-ins",
                        json={"patient_id": str(patient), "location_id": str(qc.location_id)},
                        headers=desks[n % 2],
                    )
                    for n, patient in enumerate(qc.patient_ids)
                )
            )
            assert [a.status_code for a in answers] == [201] * CHECK_INS, [
                a.text for a in answers if a.status_code != 201
            ]
            tokens = sorted(a.json()["token"] for a in answers)
            assert tokens == [f"M-{n:03d}" for n in range(1, CHECK_INS + 1)]
