"""Fixtures of the scheduling tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from tests.support.scheduling import Book, make_book


@pytest.fixture
async def book(session: AsyncSession, clinic: Organization) -> Book:
    """A doctor working Mon-Fri 08:00-12:00 and 13:00-17:00 (UTC) at one location, a
    30-minute type with a 10-minute buffer, two patients."""
    return await make_book(session, clinic)
