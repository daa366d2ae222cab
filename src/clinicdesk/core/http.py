"""Small HTTP helpers shared by the JSON APIs: ETags for versioned records."""

from __future__ import annotations

from starlette.requests import Request

from clinicdesk.core.errors import ClinicError


class BadPrecondition(ClinicError):
    status_code = 400
    title = "Invalid If-Match header"
    code = "bad-if-match"


def etag(version: int) -> str:
    return f'W/"{version}"'


def expected_version(request: Request) -> int | None:
    """The version named by ``If-Match`` (``W/"3"`` or ``"3"``), or None when absent."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadPrecondition('If-Match must be the ETag you read, such as W/"3".')
    return int(value)
