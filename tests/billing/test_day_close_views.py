"""The "Day close" page: the expected figures per method and per user, the differences
shown before closing, a difference refused without its reason, the close, and the closed
day read-only; the front desk reads but does not close; a doctor has no such page."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.day_close_models import DayClosing
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.billing.test_day_close import pay, yesterday
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic


def text_of(html: str) -> str:
    return " ".join(html.split())


async def test_the_page_counts_shows_differences_and_closes(
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
) -> None:
    desk = await people.api("desk")
    day = (await pay(desk, qc, 12550, received_at=yesterday()))["business_date"]
    await pay(desk, qc, 4000, method="card", received_at=yesterday())
    web = await sign_in_web(await create_user(session, clinic, Role.BILLING))
    address = f"/billing/day-close?business_date={day}&location={qc.location_id}"

    page = await web.get(address)
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Expected by method" in shown and "125.50" in shown and "40.00" in shown
    assert "165.50 USD" in shown  # the total
    assert 'name="counted-cash"' in page.text and "Close the day" in shown

    form = {
        "business_date": day,
        "location_id": str(qc.location_id),
        "counted-cash": "125.00",
        "counted-card": "40.00",
    }
    checked = await web.post("/billing/day-close", data={**form, "step": "check"})
    assert checked.status_code == 200
    assert "-0.50" in checked.text  # the cash difference, nothing closed
    assert (await session.scalars(select(DayClosing))).all() == []

    refused = await web.post("/billing/day-close", data={**form, "step": "close"})
    assert refused.status_code == 400
    assert "give the reason" in refused.text
    assert 'value="125.00"' in refused.text  # what was typed is kept
    assert (await session.scalars(select(DayClosing))).all() == []

    closed = await web.post(
        "/billing/day-close",
        data={**form, "reason-cash": "50 cents short", "note": "Ann counted", "step": "close"},
    )
    assert closed.status_code == 303
    assert closed.headers["location"] == address
    after = await web.get(closed.headers["location"])
    shown = text_of(after.text)
    assert "Closed" in shown and "The closing" in shown and "50 cents short" in shown
    assert "is closed with a difference of -0.50 USD" in shown
    assert 'name="counted-cash"' not in after.text  # read-only now
    assert "Ann counted" in shown

    # The front desk reads the day but has no close form, and cannot post one.
    front = await people.web("desk")
    read = await front.get(address)
    assert read.status_code == 200 and "The closing" in read.text
    today = (await pay(desk, qc, 100))["business_date"]
    open_day = await front.get(f"/billing/day-close?business_date={today}")
    assert "A billing user counts the drawer and closes the day" in open_day.text
    assert 'name="counted-cash"' not in open_day.text
    posted = await front.post("/billing/day-close", data={**form, "business_date": today})
    assert posted.status_code == 403
    assert 'href="/billing/day-close"' in (await front.get("/invoices")).text
    assert 'href="/billing/day-close"' in (await web.get("/")).text  # the billing card

    doctor = await people.web("doctor")
    assert (await doctor.get("/billing/day-close")).status_code == 403


async def test_the_money_with_no_location_and_a_bad_location(
    people: People, qc: QueueClinic
) -> None:
    desk = await people.api("desk")
    day = (await pay(desk, qc, 2500, location_id=None))["business_date"]
    web = await people.web("desk")
    nowhere = await web.get(f"/billing/day-close?business_date={day}&location=none")
    assert nowhere.status_code == 200 and "25.00" in nowhere.text
    at_front = await web.get(f"/billing/day-close?business_date={day}")
    assert at_front.status_code == 200 and "25.00" not in at_front.text
    bad = await web.get("/billing/day-close?location=nowhere")
    assert bad.status_code in (400, 422) and "Pick a location" in bad.text
