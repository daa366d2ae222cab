"""The toolkit every domain's HTML views use: render a template with the shared layout,
answer a form post with a redirect and a one-time message, and run the use case behind
a form all or nothing.

It lives in core because every domain's views use it, and a domain may import core but
never ``clinicdesk.web`` (which sits above every domain). Who is signed in comes from
the context processors the app installs (identity's ``signed_in_context``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.errors import ClinicError, SeeOther
from clinicdesk.core.flash import Category
from clinicdesk.core.templating import Pages, is_htmx


def pages(request: Request) -> Pages:
    """The application's templates (built once in ``create_app``)."""
    result: Pages = request.app.state.pages
    return result


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    """The whole page, or only ``block`` when htmx asked for a fragment."""
    return pages(request).render(request, name, context, status_code=status_code, block=block)


class FragmentOf:
    """A route that answers htmx with a part of the page at ``page`` (a path template
    like ``/patients/{patient_id}``, filled from the route's own path parameters). Opened
    any other way (a reload, a bookmark, a history restore) the part alone would be a
    broken page, so the browser is sent to the whole page, with the same query::

        async def board_fragment(
            actor: QueueRead,
            fragment: Annotated[None, Depends(FragmentOf("/queue"))],
            location_id: uuid.UUID,
        ) -> HTMLResponse: ...

    Declared after the actor, so that a caller without the permission still gets a 403;
    as a dependency it runs before the route's own parameters are validated, so a
    fragment address with a missing or bad parameter still leads to its page. The
    page-address walk (tests/test_page_addresses.py) finds any fragment route without it.
    """

    def __init__(self, page: str) -> None:
        self.page = page

    def __call__(self, request: Request) -> None:
        if is_htmx(request):
            return
        url = self.page.format_map(
            {name: quote(str(value), safe="") for name, value in request.path_params.items()}
        )
        if request.url.query:
            url = f"{url}?{request.url.query}"
        raise SeeOther(url)


def redirect(url: str) -> RedirectResponse:
    """After a form post: "see other", so reloading the next page does not post again."""
    return RedirectResponse(url, status_code=303)


def flash(
    request: Request,
    response: RedirectResponse | HTMLResponse,
    message: str,
    category: Category = "success",
) -> None:
    """A one-time message for the next page this browser shows."""
    pages(request).flashes.add(request, response, message, category)


@asynccontextmanager
async def all_or_nothing(session: AsyncSession) -> AsyncIterator[None]:
    """Run a use case inside a savepoint, so that a ``ClinicError`` the page turns into a
    form message undoes everything the use case wrote (and drops its side effects),
    while the request itself goes on and commits."""
    savepoint = await session.begin_nested()
    try:
        yield
    except ClinicError:
        await savepoint.rollback()
        raise
    await savepoint.commit()
