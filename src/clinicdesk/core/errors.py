"""Errors that carry their HTTP status, and their rendering as RFC 9457 problem details.

A domain raises ``ClinicError`` subclasses (``class SlotTaken(ClinicError): status_code =
409``). One set of handlers turns every error (domain, HTTP, validation, unexpected) into
``application/problem+json`` for API clients and into a readable page for browsers.
Validation errors never echo the submitted values back: they may be patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class ClinicError(Exception):
    """Base of every expected error. Subclasses set ``status_code``, ``title`` and ``code``."""

    status_code: ClassVar[int] = 400
    title: ClassVar[str] = "The request cannot be completed"
    code: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(ClinicError):
    status_code = 404
    title = "Not found"
    code = "not-found"


class Conflict(ClinicError):
    status_code = 409
    title = "Conflict"
    code = "conflict"


class Forbidden(ClinicError):
    status_code = 403
    title = "Forbidden"
    code = "forbidden"


class PreconditionFailed(ClinicError):
    status_code = 412
    title = "The record changed since you read it"
    code = "stale-version"


def field_error(field: str, message: str) -> dict[str, Any]:
    """One entry of a 422's ``errors``: the shape request validation errors have too."""
    return {"field": field, "location": ["body", field], "message": message, "type": "value_error"}


class InvalidField(ClinicError):
    """A value that passed the schema but not a rule that needs context (a phone number in
    the organization's country, a date in its format). Same shape as request validation
    errors, so clients handle one kind of 422."""

    status_code = 422
    title = "The submitted data is not valid"
    code = "validation"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{message}", errors=[field_error(field, message)])
        self.field = field
        self.message = message


class PayloadTooLarge(StarletteHTTPException):
    """Raised while reading a body that exceeds the configured limit.

    An ``HTTPException`` (not a ``ClinicError``) so FastAPI's body parsing re-raises it
    instead of turning it into a generic 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"The request body is larger than the limit of {limit} bytes.",
        )


class SeeOther(Exception):
    """Raised where a request is better answered by another page (a fragment's address
    opened directly): the browser is sent there with a 303."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def problem_type(code: str) -> str:
    return f"urn:clinicdesk:problem:{code}"


def problem_body(
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str,
    request_id: str | None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if request_id:
        body["request_id"] = request_id
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return body


def _clean_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    cleaned = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        cleaned.append(
            {
                "field": ".".join(p for p in loc if p not in {"body", "query", "path"}) or None,
                "location": loc,
                "message": error.get("msg", "invalid value"),
                "type": error.get("type", "value_error"),
            }
        )
    return cleaned


def _parameter_words(error: Mapping[str, Any]) -> str:
    """One wrong parameter of a page's address, in words (never its value)."""
    loc = [str(part) for part in error.get("loc", ())]
    name = (loc[1] if len(loc) > 1 else "a value").removesuffix("_id").replace("_", " ")
    kind = error.get("type", "")
    limit = (error.get("ctx") or {}).get("max_length")
    if kind == "missing":
        return f"the {name} is missing"
    if kind == "uuid_parsing" or kind == "uuid_type":
        return f"the {name} is not a valid id"
    if kind == "string_too_long" and limit is not None:
        return f"the {name} is too long (at most {limit} characters)"
    return f"the {name} is not valid ({error.get('msg', 'invalid value')})"


def _page_problem(request: Request, errors: Sequence[Any]) -> dict[str, Any] | None:
    """What a person sees for a page address that does not validate: a bad id in the
    path is a page that is not there (404); a wrong or missing query parameter says which
    (400). A form's body keeps the 422 with a message per field (None here)."""
    where = {str(e.get("loc", ("",))[0]) for e in errors}
    if "path" in where:
        status, title = 404, "Not found"
        detail = f"There is nothing at {request.url.path}. Check the address."
    elif where <= {"query"}:
        wrong = "; ".join(_parameter_words(e) for e in errors)
        status, title = 400, "This page's address is not right"
        detail = (
            f"This page cannot be shown: {wrong}. Open it again from the menu or the "
            "page that links to it."
        )
    else:
        return None
    _phrase, code = _status_code(status)
    return problem_body(
        status=status,
        title=title,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=_request_id(request),
    )


def _status_code(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase, phrase.lower().replace(" ", "-").replace("'", "")


HtmlErrorRenderer = Callable[[Request, dict[str, Any], dict[str, str] | None], Response]


def wants_html(request: Request) -> bool:
    """Browsers navigating the web UI get a page; API, FHIR and tool clients get JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/fhir/", "/health", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


class ProblemRenderer:
    """Renders a problem as problem+json, or as a page when a browser asked for one."""

    def __init__(self, render_html: HtmlErrorRenderer | None = None) -> None:
        self.render_html = render_html

    def respond(
        self, request: Request, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        if self.render_html is not None and wants_html(request):
            return self.render_html(request, body, headers)
        return JSONResponse(
            body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers
        )

    def unexpected(self, request: Request) -> Response:
        """The answer to a bug: no internals, but the request id to quote. If even the
        error page cannot be rendered, the plain problem document is sent."""
        body = problem_body(
            status=500,
            title="Internal Server Error",
            detail=(
                "Something went wrong on our side and nothing was saved. Try again; if it "
                "keeps happening, give the administrator the request id."
            ),
            code="internal",
            instance=request.url.path,
            request_id=_request_id(request),
        )
        try:
            return self.respond(request, body)
        except Exception:
            log.exception("error_page.render_failed")
            return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_for(request: Request, error: ClinicError) -> dict[str, Any]:
    """The problem document of a domain error raised while serving ``request``."""
    return problem_body(
        status=error.status_code,
        title=error.title,
        detail=error.detail,
        code=error.code,
        instance=request.url.path,
        request_id=_request_id(request),
        extensions=error.extensions,
    )


def problem_response(
    request: Request, error: ClinicError, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Answer with ``error`` without raising it (so the unit of work still commits, as a
    failed sign-in's audit entry must)."""
    return JSONResponse(
        problem_for(request, error),
        status_code=error.status_code,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


def install_error_handlers(app: FastAPI, renderer: ProblemRenderer) -> None:
    """Register the handlers for expected errors. Unexpected exceptions are answered by
    ``RequestContextMiddleware`` so that they too carry the request id and headers."""

    async def clinic_error(request: Request, exc: Exception) -> Response:
        exc = cast(ClinicError, exc)
        return renderer.respond(request, problem_for(request, exc), getattr(exc, "headers", None))

    async def http_error(request: Request, exc: Exception) -> Response:
        exc = cast(StarletteHTTPException, exc)
        title, code = _status_code(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is nothing at {request.url.path}. Check the address."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}."
        return renderer.respond(
            request,
            problem_body(
                status=exc.status_code,
                title=title,
                detail=detail,
                code=code,
                instance=request.url.path,
                request_id=_request_id(request),
            ),
            dict(exc.headers) if exc.headers else None,
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        exc = cast(RequestValidationError, exc)
        if renderer.render_html is not None and wants_html(request):
            page = _page_problem(request, exc.errors())
            if page is not None:
                return renderer.respond(request, page)
        errors = _clean_validation_errors(exc.errors())
        fields = sorted({e["field"] for e in errors if e["field"]})
        detail = (
            "Some values are missing or invalid: " + ", ".join(fields) + "."
            if fields
            else "The request could not be read; check its format."
        )
        return renderer.respond(
            request,
            problem_body(
                status=422,
                title="The submitted data is not valid",
                detail=detail,
                code="validation",
                instance=request.url.path,
                request_id=_request_id(request),
                extensions={"errors": errors},
            ),
        )

    async def see_other(request: Request, exc: Exception) -> Response:
        return RedirectResponse(cast(SeeOther, exc).url, status_code=303)

    app.add_exception_handler(SeeOther, see_other)
    app.add_exception_handler(ClinicError, clinic_error)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
