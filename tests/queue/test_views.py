"""The queue screens over HTTP on SQLite and PostgreSQL: the front desk (board, expected
arrivals, check-in with the status link's QR code, walk-ins, every step of a visit),
the doctor's queue (call next, finish on to the chart), provider status, the display
administration, the public waiting-room screen and the patient's status page, the
portal card, and who may do what."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from tests.queue.conftest import Staff
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic, book_today

HTMX = {"HX-Request": "true"}
LINK = re.compile(r'href="(http://testserver/v/[^"]+)"')


async def web(
    session: AsyncSession, qc: QueueClinic, sign_in: SignIn, who: str
) -> httpx.AsyncClient:
    """A browser signed in as one of the queue clinic's people."""
    user = await session.get(User, qc.user_ids[who])
    assert user is not None
    return await sign_in(user)


async def check_in(client: httpx.AsyncClient, appointment_id: uuid.UUID) -> httpx.Response:
    answer = await client.post(
        "/queue/check-ins", data={"appointment_id": str(appointment_id)}, headers=HTMX
    )
    assert answer.status_code == 200, answer.text
    return answer


async def walk_in(
    client: httpx.AsyncClient, qc: QueueClinic, patient: int, **fields: str
) -> httpx.Response:
    answer = await client.post(
        "/queue/walk-ins",
        data={
            "patient_id": str(qc.patient_ids[patient]),
            "location_id": str(qc.location_id),
            **fields,
        },
        headers=HTMX,
    )
    assert answer.status_code == 200, answer.text
    return answer


async def visit_ids(api: httpx.AsyncClient, qc: QueueClinic) -> dict[str, str]:
    """Token -> visit id, from the JSON API (the screens show tokens)."""
    found = await api.get("/api/v1/queue/visits", params={"location_id": str(qc.location_id)})
    return {v["token"]: v["id"] for v in found.json()}


async def step(
    client: httpx.AsyncClient, visit_id: str, name: str, screen: str = "desk", **fields: str
) -> httpx.Response:
    return await client.post(
        f"/queue/visits/{visit_id}/{name}", data={"screen": screen, **fields}, headers=HTMX
    )


async def board(client: httpx.AsyncClient, qc: QueueClinic) -> str:
    page = await client.get(
        "/queue/board", params={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert page.status_code == 200, page.text
    assert "<html" not in page.text
    return page.text


# --- the front desk -----------------------------------------------------------------------


async def test_desk_shows_providers_expected_arrivals_and_check_in(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    await book_today(session, qc, qc.patient_ids[0], minutes_from_now=10)
    await scope_to_tenant(session, qc.organization_id)
    hill = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Hill Road")
    )
    await session.commit()
    desk = await web(session, qc, sign_in_web, "desk")
    page = await desk.get("/queue", params={"location_id": str(qc.location_id)})
    assert page.status_code == 200, page.text
    text = page.text
    assert "Dr. Ada" in text and "Dr. Bo" in text
    assert "Expected today" in text and "Ann Queuea" in text
    assert 'id="q-walkin"' in text and 'data-live-stream="/api/v1/events"' in text
    assert "queue.called" in text  # the events the page listens to
    assert "/static/live.js" in text and "<script>" not in text
    assert 'href="/queue" aria-current="page"' in text  # the nav item
    assert 'id="q-location"' in text and "Hill Road" in text  # the location picker
    other = await desk.get("/queue", params={"location_id": str(hill.id)})
    assert "No provider works at Hill Road yet" in other.text
    assert "Ann Queuea" not in other.text
    assert (await desk.get("/queue", params={"location_id": str(uuid.uuid4())})).status_code == 404


async def test_check_in_shows_the_token_and_the_status_link_as_a_qr_code(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    appointment = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=5)
    desk = await web(session, qc, sign_in_web, "desk")
    answer = await check_in(desk, appointment)
    assert "<html" not in answer.text
    assert "M-001" in answer.text and "Ann Queuea" in answer.text
    assert "1st in line" in answer.text
    assert 'src="data:image/svg+xml' in answer.text
    link = LINK.search(answer.text)
    assert link, answer.text
    assert "live:changed" in answer.headers["HX-Trigger"]

    arrivals = await desk.get(
        "/queue/arrivals", params={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert "Ann Queuea" not in arrivals.text and "Nobody else is booked" in arrivals.text
    shown = await board(desk, qc)
    assert "M-001" in shown and "Ann Queuea" in shown and "#1" in shown

    again = await desk.post(
        "/queue/check-ins", data={"appointment_id": str(appointment)}, headers=HTMX
    )
    assert again.status_code == 409
    assert "already checked in as M-001" in again.text and 'role="alert"' in again.text

    # Without htmx: back to the board with a message.
    plain = await desk.post(
        "/queue/check-ins",
        data={"appointment_id": str(await book_today(session, qc, qc.patient_ids[1]))},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/queue?location_id={qc.location_id}"


async def test_walk_in_with_patient_search_priority_and_a_refusal(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    options = await desk.get("/patients/options", params={"q": "Queuec"}, headers=HTMX)
    assert str(qc.patient_ids[2]) in options.text and "Queuec, Cleo" in options.text

    no_patient = await desk.post(
        "/queue/walk-ins", data={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert no_patient.status_code == 422
    assert "Choose the patient" in no_patient.text
    no_reason = await desk.post(
        "/queue/walk-ins",
        data={
            "patient_id": str(qc.patient_ids[2]),
            "location_id": str(qc.location_id),
            "priority": "2",
        },
        headers=HTMX,
    )
    assert no_reason.status_code == 422
    assert "Give a reason for the priority" in no_reason.text

    answer = await walk_in(desk, qc, 2, priority="2", priority_reason="chest pain")
    assert "Walk-in checked in" in answer.text and "M-001" in answer.text
    shown = await board(desk, qc)
    assert "Walk-ins — first free provider" in shown
    assert "Urgent: chest pain" in shown and "Cleo Queuec" in shown
    # A walk-in for a provider waits in that provider's column.
    await walk_in(desk, qc, 3, provider_id=str(qc.other_provider_id), type_id=str(qc.checkup_id))
    shown = await board(desk, qc)
    bo = shown[shown.index("Dr. Bo") :]
    assert "Dev Queued" in bo and "Check-up" in bo


async def test_every_step_from_the_desk_board(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn, staff: Staff
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    api = await staff.as_("desk")
    for n in range(3):
        await walk_in(desk, qc, n, provider_id=str(qc.provider_id))
    await walk_in(desk, qc, 3)
    ids = await visit_ids(api, qc)

    called = await step(desk, ids["M-001"], "call", room="Room 2")
    assert called.status_code == 200, called.text
    assert "Called to <strong>Room 2</strong>" in called.text
    assert "M-001 called to Room 2." in called.headers["HX-Trigger"]
    again = await step(desk, ids["M-001"], "call", room="Room 2")
    assert again.status_code == 200
    started = await step(desk, ids["M-001"], "start")
    assert "In consultation since" in started.text
    finished = await step(desk, ids["M-001"], "finish")
    assert finished.status_code == 200
    assert re.search(r"<dt>Done today</dt><dd>1</dd>", finished.text)

    # Priority, then moves within a priority.
    urgent = await step(desk, ids["M-003"], "priority", priority="1", reason="over 80")
    assert "Priority: over 80" in urgent.text
    passing = await step(desk, ids["M-003"], "move", direction="down")
    assert passing.status_code == 409
    assert "has another priority" in passing.text and 'role="alert"' in passing.text
    normal = await step(desk, ids["M-003"], "priority", priority="0")
    assert "Priority: over 80" not in normal.text
    moved = await step(desk, ids["M-003"], "move", direction="up")
    assert moved.status_code == 200
    assert moved.text.index("M-003") < moved.text.index("M-002")

    # An unassigned walk-in is called by choosing who sees them.
    nobody = await step(desk, ids["M-004"], "call", room="Room 1")
    assert nobody.status_code == 409 and "Choose who sees them" in nobody.text
    taken = await step(
        desk, ids["M-004"], "call", room="Room 1", provider_id=str(qc.other_provider_id)
    )
    assert taken.status_code == 200
    back = await step(desk, ids["M-004"], "return", reason="not here")
    assert back.status_code == 200
    moved_on = await step(desk, ids["M-004"], "transfer", provider_id="")
    assert moved_on.status_code == 200
    assert "Walk-ins — first free provider" in moved_on.text

    left = await step(desk, ids["M-002"], "leave", reason="could not wait")
    assert re.search(r"<dt>Left unseen</dt><dd>1</dd>", left.text)
    stale = await step(desk, ids["M-002"], "start")
    assert stale.status_code == 409
    assert "left now and cannot be started" in stale.text

    # Without htmx: the board again, with the message.
    plain = await desk.post(
        f"/queue/visits/{ids['M-003']}/call", data={"room": "Room 3"}, follow_redirects=False
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/queue?location_id={qc.location_id}"
    unknown = await step(desk, str(uuid.uuid4()), "call")
    assert unknown.status_code == 404


async def test_provider_status_from_the_board(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    answer = await desk.post(
        f"/queue/providers/{qc.other_provider_id}/status",
        data={
            "state": "in_transit",
            "eta_minutes": "20",
            "note": "traffic",
            "location_id": str(qc.location_id),
            "screen": "desk",
        },
        headers=HTMX,
    )
    assert answer.status_code == 200, answer.text
    bo = answer.text[answer.text.index("Dr. Bo") :]
    assert re.search(r"In transit · back in (19|20) min", bo)
    assert "traffic" in bo
    wrong = await desk.post(
        f"/queue/providers/{qc.other_provider_id}/status",
        data={"state": "asleep", "location_id": str(qc.location_id)},
        headers=HTMX,
    )
    assert wrong.status_code == 422 and "Choose the status" in wrong.text
    missing = await desk.post(
        f"/queue/providers/{uuid.uuid4()}/status", data={"state": "away"}, headers=HTMX
    )
    assert missing.status_code == 404


# --- the doctor's screen ------------------------------------------------------------------


async def test_doctor_calls_next_starts_and_finishes_on_to_the_chart(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn, staff: Staff
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    doctor = await web(session, qc, sign_in_web, "doctor")
    empty = await doctor.get("/queue/mine")
    assert empty.status_code == 200
    assert "My queue" in empty.text and "Dr. Ada" in empty.text
    assert "Nobody is waiting for you" in empty.text
    nobody = await doctor.post(
        "/queue/call-next", data={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert nobody.status_code == 409 and "Nobody is waiting" in nobody.text

    await check_in(desk, await book_today(session, qc, qc.patient_ids[0]))
    await walk_in(desk, qc, 1)
    page = await doctor.get("/queue/mine")
    assert "Ann Queuea" in page.text and "Ben Queueb" in page.text
    assert "Call next (2 waiting)" in page.text
    # The room is one of the location's rooms; before any call, the first.
    assert '<select class="q-my-room" name="room">' in page.text
    assert '<option value="Room 1" selected>' in page.text

    called = await doctor.post(
        "/queue/call-next",
        data={"location_id": str(qc.location_id), "room": "Room 3"},
        headers=HTMX,
    )
    assert called.status_code == 200, called.text
    assert "<html" not in called.text
    assert "Called to <strong>Room 3</strong>" in called.text
    ids = await visit_ids(await staff.as_("desk"), qc)
    started = await step(doctor, ids["M-001"], "start", screen="mine")
    # On to the consultation the start opened; the queue shows the patient in the room.
    assert started.headers["HX-Redirect"] == f"/visits/{ids['M-001']}/consultation"
    mine = await doctor.get("/queue/mine")
    assert "In consultation since" in mine.text and "Finish → chart" in mine.text
    finished = await step(doctor, ids["M-001"], "finish", screen="mine")
    assert finished.status_code == 200
    assert finished.headers["HX-Redirect"] == f"/patients/{qc.patient_ids[0]}"

    # The unassigned walk-in is taken by the doctor who calls them.
    taken = await doctor.post(
        "/queue/call-next", data={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert "Ben Queueb" in taken.text and "on the way" in taken.text
    # Without a room, the call goes to the room this doctor used last here.
    assert "Called to <strong>Room 3</strong>" in taken.text
    assert '<option value="Room 3" selected>' in taken.text

    plain = await doctor.post(
        f"/queue/visits/{ids['M-002']}/start", data={"screen": "mine"}, follow_redirects=False
    )
    assert plain.headers["location"] == f"/visits/{ids['M-002']}/consultation"
    done = await doctor.post(
        f"/queue/visits/{ids['M-002']}/finish", data={"screen": "mine"}, follow_redirects=False
    )
    assert done.headers["location"] == f"/patients/{qc.patient_ids[1]}"


async def test_someone_who_is_not_a_provider_is_told_so(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    page = await desk.get("/queue/mine")
    assert page.status_code == 200
    assert "not set up as a provider" in page.text
    assert 'href="/queue"' in page.text


# --- access -----------------------------------------------------------------------------


async def test_reading_without_moving_and_roles_without_the_queue(
    session: AsyncSession, qc: QueueClinic, clinic: Organization, sign_in_web: SignIn
) -> None:
    billing = await sign_in_web(await create_user(session, clinic, Role.BILLING))
    desk = await web(session, qc, sign_in_web, "desk")
    await walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    admin = await web(session, qc, sign_in_web, "admin")  # reads the schedule, moves nothing
    page = await admin.get("/queue")
    assert page.status_code == 200
    assert "Ann Queuea" in page.text
    assert "/queue/visits/" not in page.text and 'id="q-walkin"' not in page.text
    refused = await admin.post("/queue/walk-ins", data={}, headers=HTMX)
    assert refused.status_code == 403
    assert (await billing.get("/queue")).status_code == 403
    assert (await billing.get("/queue/mine")).status_code == 403


# --- waiting-room displays -----------------------------------------------------------------


async def test_displays_are_made_by_an_admin_and_show_tokens_and_rooms_only(
    session: AsyncSession,
    qc: QueueClinic,
    sign_in_web: SignIn,
    staff: Staff,
    client: httpx.AsyncClient,
) -> None:
    admin = await web(session, qc, sign_in_web, "admin")
    made = await admin.post(
        "/queue/displays",
        data={"location_id": str(qc.location_id), "name": "Waiting room TV"},
        headers=HTMX,
    )
    assert made.status_code == 200, made.text
    link = re.search(r"data-display-link>(http://testserver/display/[^<]+)<", made.text)
    assert link, made.text
    assert "Open display" in made.text
    listed = await admin.get("/queue/displays")
    assert "Waiting room TV" in listed.text and link.group(1) not in listed.text  # shown once
    unnamed = await admin.post(
        "/queue/displays", data={"location_id": str(qc.location_id)}, headers=HTMX
    )
    assert unnamed.status_code == 422 and "Give the display a name" in unnamed.text

    desk = await web(session, qc, sign_in_web, "desk")
    await walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    await walk_in(desk, qc, 1, provider_id=str(qc.provider_id))
    ids = await visit_ids(await staff.as_("desk"), qc)
    await step(desk, ids["M-001"], "call", room="Room 4")

    tv = client  # nobody signed in
    screen = await tv.get(link.group(1).removeprefix("http://testserver"))
    assert screen.status_code == 200
    assert "Now serving" in screen.text and "M-001" in screen.text and "Room 4" in screen.text
    assert "M-002" in screen.text  # next
    assert "Queuea" not in screen.text and "Queueb" not in screen.text  # no names
    assert '<meta name="robots" content="noindex, nofollow">' in screen.text
    assert screen.headers["Cache-Control"] == "no-store"
    assert "/static/display.js" in screen.text and "display=" in screen.text
    fragment = await tv.get(
        link.group(1).removeprefix("http://testserver") + "/board", headers=HTMX
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-call-key="M-001@' in fragment.text

    # With initials on (a choice of the clinic): initials, still no names.
    second = await admin.post(
        "/queue/displays",
        data={"location_id": str(qc.location_id), "name": "Hall", "show_initials": "on"},
        headers=HTMX,
    )
    hall = re.search(r"data-display-link>http://testserver(/display/[^<]+)<", second.text)
    assert hall
    shown = await tv.get(hall.group(1))
    assert "A. Q." in shown.text and "Queuea" not in shown.text

    tv_id = re.search(
        r"Waiting room TV</strong>.*?/queue/displays/([0-9a-f-]{36})/renew", second.text, re.S
    )
    assert tv_id
    display_id = tv_id.group(1)
    revoked = await admin.post(f"/queue/displays/{display_id}/revoke", headers=HTMX)
    assert "no longer works" in revoked.text and "Revoked" in revoked.text
    dark = await tv.get(link.group(1).removeprefix("http://testserver"))
    assert dark.status_code == 404 and "This display link is no longer valid" in dark.text
    assert (await tv.get(hall.group(1))).status_code == 200  # the other display still works
    refreshed = await tv.get(
        link.group(1).removeprefix("http://testserver") + "/board", headers=HTMX
    )
    assert refreshed.status_code == 404 and refreshed.headers["HX-Refresh"] == "true"
    unknown = await tv.get("/display/" + "x" * 43)
    assert unknown.status_code == 404 and "no longer valid" in unknown.text

    renewed = await admin.post(f"/queue/displays/{display_id}/renew", headers=HTMX)
    assert "New link for" in renewed.text and "data-display-link" in renewed.text
    deleted = await admin.post(f"/queue/displays/{display_id}/delete", headers=HTMX)
    assert "Display deleted." in deleted.text
    # The front desk sets displays up too (tests/queue/test_front_desk.py); a doctor not.
    doctor = await web(session, qc, sign_in_web, "doctor")
    assert (await doctor.get("/queue/displays")).status_code == 403


# --- the patient's own status --------------------------------------------------------------


async def test_patient_status_page_in_words_as_the_visit_moves(
    session: AsyncSession,
    qc: QueueClinic,
    sign_in_web: SignIn,
    staff: Staff,
    client: httpx.AsyncClient,
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    await walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    answer = await walk_in(desk, qc, 1, provider_id=str(qc.provider_id))
    found = LINK.search(answer.text)
    assert found
    path = found.group(1).removeprefix("http://testserver")
    ids = await visit_ids(await staff.as_("desk"), qc)
    patient = client  # nobody signed in: the link is the key

    page = await patient.get(path)
    assert page.status_code == 200
    assert "M-002" in page.text and "You are 2nd in line" in page.text
    assert "Your estimated wait is" in page.text and "With Dr. Ada" in page.text
    assert "Main Street" in page.text
    assert "Queuea" not in page.text and "Queueb" not in page.text  # not even their own name
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert '<meta name="referrer" content="no-referrer">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert f'data-live-stream="/api/v1/events?visit={path.removeprefix("/v/")}"' in page.text

    await step(desk, ids["M-001"], "leave")
    fragment = await patient.get(path + "/status", headers=HTMX)
    assert "<html" not in fragment.text and "You are next" in fragment.text
    await step(desk, ids["M-002"], "call", room="Room 3")
    fragment = await patient.get(path + "/status", headers=HTMX)
    assert "Please go to Room 3 now" in fragment.text
    await step(desk, ids["M-002"], "start")
    assert "You are with the doctor" in (await patient.get(path + "/status")).text
    await step(desk, ids["M-002"], "finish")
    assert "Your visit is finished" in (await patient.get(path + "/status")).text

    unknown = await patient.get("/v/" + "y" * 43)
    assert unknown.status_code == 404
    assert "This link has expired" in unknown.text and "front desk" in unknown.text
    fragment = await patient.get("/v/" + "y" * 43 + "/status", headers=HTMX)
    assert fragment.status_code == 404 and fragment.headers["HX-Refresh"] == "true"

    # A patient who lost the link gets a new one; the old one stops working.
    lost = LINK.search((await walk_in(desk, qc, 2)).text)
    assert lost
    third = (await visit_ids(await staff.as_("desk"), qc))["M-003"]
    renewed = await desk.post(f"/queue/visits/{third}/status-link", headers=HTMX)
    new = LINK.search(renewed.text)
    assert "New status link" in renewed.text and new
    assert (await patient.get(lost.group(1).removeprefix("http://testserver"))).status_code == 404
    assert (await patient.get(new.group(1).removeprefix("http://testserver"))).status_code == 200
    over = await desk.post(f"/queue/visits/{ids['M-002']}/status-link", headers=HTMX)
    assert over.status_code == 409 and "visit is over" in over.text


async def test_portal_shows_the_visit_of_today(
    session: AsyncSession, qc: QueueClinic, clinic: Organization, sign_in_web: SignIn
) -> None:
    await scope_to_tenant(session, clinic.id)
    account = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Ann Queuea",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=qc.patient_ids[0],
    )
    await session.commit()
    portal = await sign_in_web(account)
    assert (await portal.get("/portal/visit", headers=HTMX)).text == ""
    home = await portal.get("/portal")
    assert 'hx-get="/portal/visit"' in home.text and "/static/live.js" in home.text

    desk = await web(session, qc, sign_in_web, "desk")
    await walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    card = await portal.get("/portal/visit", headers=HTMX)
    assert card.status_code == 200
    assert "Your visit today" in card.text and "M-001" in card.text
    assert "You are next" in card.text
    assert 'data-live-stream="/api/v1/events"' in card.text
    assert (await desk.get("/portal/visit", headers=HTMX)).status_code == 403


async def test_the_desk_opens_where_the_patients_are(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    """With several locations and none chosen, the board opens at the one with patients
    in the building (an "Annex" sorts first but is empty)."""
    await scope_to_tenant(session, qc.organization_id)
    await organizations.create_location(session, actor=SYSTEM, data=LocationWrite(name="Annex"))
    await session.commit()
    desk = await web(session, qc, sign_in_web, "desk")
    empty_day = await desk.get("/queue")
    assert empty_day.status_code == 200
    await walk_in(desk, qc, 0)
    page = await desk.get("/queue")
    assert page.status_code == 200, page.text
    assert "M-001" in page.text
