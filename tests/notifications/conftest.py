"""Fixtures of the notifications tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.fake_twilio import FakeTwilio, running_fake_twilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio REST API on 127.0.0.1 (a real HTTP server in a thread); its ``url``
    is the ``base_url`` of ``TwilioSettings`` (``fake_twilio.settings()``)."""
    with running_fake_twilio() as fake:
        yield fake
