"""Fixtures of the queue tests."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization, User
from tests.support.identity import SignIn
from tests.support.queue import QueueClinic, make_queue_clinic


@pytest.fixture
async def qc(session: AsyncSession, clinic: Organization) -> QueueClinic:
    """A location at midday with Dr. Ada and Dr. Bo working, two types, six patients."""
    return await make_queue_clinic(session, clinic)


class Staff:
    """Signed-in API clients of the queue clinic's people."""

    def __init__(self, session: AsyncSession, qc: QueueClinic, sign_in: SignIn) -> None:
        self._session, self._qc, self._sign_in = session, qc, sign_in

    async def as_(self, who: str) -> httpx.AsyncClient:
        user = await self._session.get(User, self._qc.user_ids[who])
        assert user is not None
        return await self._sign_in(user)


@pytest.fixture
def staff(session: AsyncSession, qc: QueueClinic, sign_in_api: SignIn) -> Staff:
    return Staff(session, qc, sign_in_api)
