"""Opaque list cursors (``{"items": [...], "next_cursor": ...}``).

The cursor is an encoded position; clients must treat it as opaque so the encoding can
change (to keyset positions) without breaking them.
"""

from __future__ import annotations

import base64
import json

from clinicdesk.core.errors import ClinicError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Far past any real list, and inside PostgreSQL's bigint OFFSET: a forged cursor with a
# larger number (or Infinity, which JSON admits) is a bad cursor, not a database error.
MAX_OFFSET = 10**9


class BadCursor(ClinicError):
    status_code = 400
    title = "Invalid page cursor"
    code = "bad-cursor"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise BadCursor("The cursor is not valid; start again from the first page.") from exc
    if not 0 <= offset <= MAX_OFFSET:
        raise BadCursor("The cursor is not valid; start again from the first page.")
    return offset
