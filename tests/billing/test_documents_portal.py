"""The patient's invoices in the portal, on SQLite and PostgreSQL: their issued invoices
(never a draft, never another patient's), the balance, and each PDF to download."""

from __future__ import annotations

import io
import uuid

import httpx
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.models import User, UserKind
from clinicdesk.identity.service import users
from tests.billing.conftest import draft, issue
from tests.support.identity import browser_as
from tests.support.queue import QueueClinic


async def portal_for(
    app: FastAPI, session: AsyncSession, qc: QueueClinic, patient_id: uuid.UUID
) -> httpx.AsyncClient:
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=qc.organization_id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Pat Portal",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient_id,
    )
    await session.commit()
    return await browser_as(app, session, user)


async def test_the_patient_sees_their_issued_invoices_balance_and_pdfs_only(
    app: FastAPI,
    desk: httpx.AsyncClient,
    billing: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
) -> None:
    mine, theirs = qc.patient_ids[0], qc.patient_ids[1]
    first = await issue(desk, await draft(desk, mine, {"name": "Consultation", "unit_price": 6000}))
    second = await issue(desk, await draft(desk, mine, {"name": "X-ray", "unit_price": 2550}))
    credited = await billing.post(
        f"/api/v1/invoices/{second['id']}/credit-notes", json={"reason": "Repeated"}
    )
    assert credited.status_code == 201, credited.text
    note = credited.json()
    pending = await draft(desk, mine, {"name": "Follow-up", "unit_price": 999})
    other = await issue(desk, await draft(desk, theirs, {"name": "Other", "unit_price": 700}))
    other_note = (
        await billing.post(f"/api/v1/invoices/{other['id']}/credit-notes", json={"reason": "x"})
    ).json()

    portal = await portal_for(app, session, qc, mine)
    home = await portal.get("/portal")
    assert 'href="/portal/invoices"' in home.text  # linked from the portal's home

    page = await portal.get("/portal/invoices")
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"].startswith("no-store")
    for expected in (first["number"], second["number"], note["number"], "$60.00", "$25.50"):
        assert expected in page.text, expected
    # The balance: 60.00 owed, the X-ray fully credited; the draft is not owed.
    assert '<span class="balance-amount">$60.00</span>' in page.text
    assert "settled" in page.text
    assert other["number"] not in page.text and "$9.99" not in page.text
    listed = await session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.request_id == page.headers["X-Request-ID"], AuditEvent.patient_id == mine
        )
    )
    assert listed is not None

    pdf = await portal.get(f"/portal/invoices/{first['id']}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert first["number"] in text and "$60.00" in text
    assert (await portal.get(f"/portal/credit-notes/{note['id']}.pdf")).status_code == 200

    # Another patient's documents, and a draft, do not exist for this patient.
    for url in (
        f"/portal/invoices/{other['id']}.pdf",
        f"/portal/credit-notes/{other_note['id']}.pdf",
        f"/portal/invoices/{pending['id']}.pdf",
        f"/portal/invoices/{uuid.uuid4()}.pdf",
    ):
        assert (await portal.get(url)).status_code == 404, url

    # Staff do not open the patient's portal pages.
    web_desk = await browser_as(app, session, await session.get_one(User, qc.user_ids["desk"]))
    assert (await web_desk.get("/portal/invoices")).status_code == 403


async def test_a_patient_without_invoices_owes_nothing(
    app: FastAPI, qc: QueueClinic, session: AsyncSession
) -> None:
    portal = await portal_for(app, session, qc, qc.patient_ids[2])
    page = await portal.get("/portal/invoices")
    assert page.status_code == 200
    assert "You have no invoices." in page.text and "nothing to pay" in page.text
    bad = await portal.get("/portal/invoices", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400


async def test_the_portal_balance_subtracts_the_patients_credit(
    app: FastAPI, desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    mine = qc.patient_ids[3]
    await issue(desk, await draft(desk, mine, {"name": "Consultation", "unit_price": 6000}))
    # 25.00 paid ahead, kept as credit (allocated to nothing): 60.00 owed, 35.00 to pay.
    ahead = {"patient_id": str(mine), "method": "cash", "amount": 2500, "allocations": []}
    assert (await desk.post("/api/v1/payments", json=ahead)).status_code == 201
    portal = await portal_for(app, session, qc, mine)
    page = (await portal.get("/portal/invoices")).text
    assert '<span class="balance-amount">$35.00</span>' in page
    # 50.00 more, beyond what is owed: the clinic holds 15.00 of the patient's money.
    more = {**ahead, "amount": 5000}
    assert (await desk.post("/api/v1/payments", json=more)).status_code == 201
    page = (await portal.get("/portal/invoices")).text
    assert '<span class="balance-amount">$15.00</span>' in page and "in your favour" in page
