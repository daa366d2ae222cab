"""Opaque cursors: what ``encode_cursor`` wrote reads back; anything forged is a 400
(``BadCursor``), never an error from the database or the decoder."""

from __future__ import annotations

import base64
import json

import pytest

from clinicdesk.core.pagination import BadCursor, decode_cursor, encode_cursor


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_a_cursor_reads_back_its_position() -> None:
    assert decode_cursor(encode_cursor(150)) == 150
    assert decode_cursor(None) == decode_cursor("") == 0


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        forged("[]"),
        forged('{"o": "x"}'),
        forged('{"o": -1}'),
        forged('{"o": Infinity}'),
        forged(json.dumps({"o": 10**30})),
    ],
)
def test_a_forged_cursor_is_a_bad_cursor(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)
