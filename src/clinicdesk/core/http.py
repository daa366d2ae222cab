"""The version a write is based on, and the ETag a read answers with.

Every versioned record refuses a write based on an older read (``check_version``). The
version comes two ways, each read by one dependency:

* ``IfMatch`` -- the JSON API's ``If-Match`` header (``W/"3"`` or ``"3"``). It is
  required on every update: an absent header is refused (428), a malformed one (400).
  ``If-Match: *`` is the client saying, in so many words, "whatever version is there"
  (RFC 9110 13.1.1); it is the only way to write without the stale-write check.
* ``FormVersion`` -- the hidden ``version`` field of an HTML form that changes a record.
  It is required: a form without a usable version is refused (428) instead of saving
  without the stale-write check. Every update form renders the version it was built from.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Response
from starlette.requests import Request

from clinicdesk.core.errors import ClinicError

FORM_FIELD = "version"


class BadPrecondition(ClinicError):
    status_code = 400
    title = "Invalid If-Match header"
    code = "bad-if-match"


class VersionMissing(ClinicError):
    status_code = 428
    title = "The form is missing its version"
    code = "version-required"


class IfMatchMissing(ClinicError):
    status_code = 428
    title = "If-Match is required"
    code = "if-match-required"


MISSING_VERSION = "This form is missing its version: reload the page and try again."
MISSING_IF_MATCH = (
    'Send If-Match with the ETag you read (such as W/"3"), so that a change someone '
    "else made since is not overwritten; If-Match: * overwrites whatever is there."
)


def etag(version: int) -> str:
    return f'W/"{version}"'


def with_etag(response: Response, version: int) -> None:
    """Answer with the record's version, for the client's next ``If-Match``."""
    response.headers["ETag"] = etag(version)


def expected_version(request: Request) -> int | None:
    """The version named by ``If-Match`` (``W/"3"`` or ``"3"``); None for ``*``;
    ``IfMatchMissing`` (428) when there is no header."""
    header = request.headers.get("if-match")
    if header is None:
        raise IfMatchMissing(MISSING_IF_MATCH)
    if header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadPrecondition('If-Match must be the ETag you read, such as W/"3".')
    return int(value)


def required_version(value: object) -> int:
    """A version a page sent back (a form field, or a number in a JSON body);
    ``VersionMissing`` when there is none or it is not a version."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if type(value) is int and value >= 0:
        return value
    raise VersionMissing(MISSING_VERSION)


async def form_version(request: Request) -> int:
    """The ``version`` field of the posted form (see the module docstring)."""
    form = await request.form()
    return required_version(form.get(FORM_FIELD))


IfMatch = Annotated[int | None, Depends(expected_version)]
FormVersion = Annotated[int, Depends(form_version)]
