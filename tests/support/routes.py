"""Routes that exist only in tests, to drive the error, middleware and unit-of-work paths."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from clinicdesk.core.db import on_commit
from clinicdesk.core.errors import Conflict
from clinicdesk.core.runtime import SessionDep

router = APIRouter()
events: list[str] = []


class Booking(BaseModel):
    patient_name: str = Field(min_length=1)
    minutes: int = Field(gt=0, le=480)


@router.get("/api/v1/test/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@router.post("/api/v1/test/bookings")
async def create_booking(booking: Booking) -> dict[str, int]:
    return {"minutes": booking.minutes}


@router.post("/api/v1/test/upload")
async def upload(request: Request) -> dict[str, int]:
    return {"received": len(await request.body())}


@router.get("/api/v1/test/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


@router.get("/test/boom")
async def boom_page() -> None:
    raise RuntimeError("a bug")


@router.get("/api/v1/test/conflict")
async def conflict() -> None:
    raise Conflict("Dr Lee already has an appointment at 10:00.", slot="10:00")


@router.post("/api/v1/test/work")
async def work(session: SessionDep, fail: bool = False) -> dict[str, bool]:
    on_commit(session, lambda: events.append("committed"))
    if fail:
        raise Conflict("refused after queuing a side effect")
    return {"in_transaction": session.in_transaction()}


@router.post("/test/flash")
async def flash_and_redirect(request: Request) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    request.app.state.pages.flashes.add(request, response, "Saved <b>safely</b>.", "success")
    return response
