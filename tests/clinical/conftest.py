"""Fixtures of the clinical tests: the queue clinic (a location, Dr. Ada and Dr. Bo,
six patients) and its people signed in over the API or the web UI."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization, User
from tests.support.identity import SignIn
from tests.support.queue import QueueClinic, make_queue_clinic


@pytest.fixture
async def qc(session: AsyncSession, clinic: Organization) -> QueueClinic:
    return await make_queue_clinic(session, clinic)


class People:
    """Signed-in clients of the queue clinic's people (``"doctor"``, ``"desk"``,
    ``"admin"``, ``"other_doctor"``), over the API or as a browser."""

    def __init__(self, session: AsyncSession, qc: QueueClinic, api: SignIn, web: SignIn) -> None:
        self._session, self._qc, self._api, self._web = session, qc, api, web

    async def _user(self, who: str) -> User:
        user = await self._session.get(User, self._qc.user_ids[who])
        assert user is not None
        return user

    async def api(self, who: str) -> httpx.AsyncClient:
        return await self._api(await self._user(who))

    async def web(self, who: str) -> httpx.AsyncClient:
        return await self._web(await self._user(who))


@pytest.fixture
def people(
    session: AsyncSession, qc: QueueClinic, sign_in_api: SignIn, sign_in_web: SignIn
) -> People:
    return People(session, qc, sign_in_api, sign_in_web)
