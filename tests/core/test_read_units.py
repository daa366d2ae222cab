"""Which requests get a read unit of work (on SQLite: a deferred BEGIN, no write turn, their
audit entries written just after): a GET, unless its route writes; a POST only when its
route reads while it waits on another service (a card payment's start)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request

from clinicdesk.billing.api.card_gateway import start_card_payment
from clinicdesk.core.runtime import is_read, reads_while_calling_out, writes_when_read


def _request(method: str, endpoint: Callable[..., Any]) -> Request:
    return Request({"type": "http", "method": method, "endpoint": endpoint, "headers": []})


async def _plain() -> None:
    pass


@writes_when_read
async def _enrols() -> None:
    pass


@reads_while_calling_out
async def _calls_out() -> None:
    pass


@pytest.mark.parametrize(
    ("method", "endpoint", "reads"),
    [
        ("GET", _plain, True),
        ("HEAD", _plain, True),
        ("GET", _enrols, False),
        ("POST", _plain, False),
        ("PATCH", _plain, False),
        ("POST", _calls_out, True),
        ("DELETE", _calls_out, True),
    ],
)
def test_the_unit_of_work_reads_only_where_the_route_says_so(
    method: str, endpoint: Callable[..., Any], reads: bool
) -> None:
    assert is_read(_request(method, endpoint)) is reads


def test_the_card_payment_start_holds_no_write_turn_while_the_provider_answers() -> None:
    assert is_read(_request("POST", start_card_payment))
