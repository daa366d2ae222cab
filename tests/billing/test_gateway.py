"""The card gateway with Stripe's scheme, on SQLite and PostgreSQL, against a fake Stripe
API served over real HTTP on 127.0.0.1 by this test: the desk starts a PaymentIntent for
an invoice's amount due; a webhook with a valid signature records the card payment once
(a replay records nothing), allocated to the invoice; bad signatures, old timestamps and
events naming another organization's or no invoice are refused; off, it is not there."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.payment_models import Payment
from clinicdesk.config import Settings
from clinicdesk.core.tenancy import scope_to_tenant
from tests.billing.conftest import draft, issue
from tests.conftest import make_settings
from tests.support.identity import create_org
from tests.support.queue import QueueClinic

SECRET_KEY = "sk_test_" + "k" * 24
WEBHOOK_SECRET = "whsec_" + "w" * 32
WEBHOOK = "/api/v1/billing/gateway/webhook"


@dataclass
class FakeStripe:
    """What the fake API was asked, and the PaymentIntents it made (by idempotency key,
    as Stripe answers a repeated key with the first answer)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            fake.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "form": form}
            )
            if self.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                self._answer(401, {"error": {"type": "invalid_request_error"}})
                return
            key = self.headers.get("Idempotency-Key")
            if self.path != "/v1/payment_intents" or not key:
                self._answer(400, {"error": {"type": "invalid_request_error"}})
                return
            if key not in fake.intents:
                intent_id = f"pi_{len(fake.intents) + 1:04d}fake"
                fake.intents[key] = {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": int(form["amount"]),
                    "amount_received": 0,
                    "currency": form["currency"],
                    "status": "requires_payment_method",
                    "client_secret": f"{intent_id}_secret_xyz",
                    "metadata": {
                        k[len("metadata[") : -1]: v
                        for k, v in form.items()
                        if k.startswith("metadata[")
                    },
                }
            self._answer(200, fake.intents[key])

    return Handler


@pytest.fixture
def stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, owner_url: str, stripe: FakeStripe) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        database_owner_url=owner_url,
        card_gateway="stripe",
        card_gateway_secret_key=SECRET_KEY,
        card_gateway_webhook_secret=WEBHOOK_SECRET,
        card_gateway_api_url=stripe.url,
    )


@pytest.fixture
def desk_app_settings(app: FastAPI) -> Callable[..., None]:
    """Change the running app's settings (the gateway is built from them per request)."""

    def change(**values: object) -> None:
        runtime = app.state.runtime
        runtime.settings = runtime.settings.model_copy(update=values)

    return change


def signed(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe sends: ``v1`` is HMAC-SHA256 of ``"{t}.{body}"``."""
    body = json.dumps(event).encode()
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={digest}", "Content-Type": "application/json"}


def succeeded(
    intent: dict[str, Any], *, event_id: str = "evt_1", **metadata: str
) -> dict[str, Any]:
    paid = {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    paid["metadata"] = {**intent["metadata"], **metadata}
    return {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": paid},
    }


async def issued_invoice(
    desk: httpx.AsyncClient, patient_id: object, amount: int
) -> dict[str, Any]:
    return await issue(desk, await draft(desk, patient_id, {"name": "Visit", "unit_price": amount}))


async def start(desk: httpx.AsyncClient, invoice: dict[str, Any]) -> dict[str, Any]:
    started = await desk.post(f"/api/v1/invoices/{invoice['id']}/card-payment")
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


async def card_payments(session: AsyncSession, qc: QueueClinic) -> list[Payment]:
    await scope_to_tenant(session, qc.organization_id)
    return list(await session.scalars(select(Payment).where(Payment.method == "card")))


async def test_the_desk_starts_a_payment_intent_for_the_amount_due(
    desk: httpx.AsyncClient, qc: QueueClinic, stripe: FakeStripe, session: AsyncSession
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[0], 4250)
    started = await start(desk, invoice)
    assert started["provider"] == "stripe"
    assert started["amount"] == 4250
    assert started["currency"] == "USD"
    assert started["client_secret"] == f"{started['reference']}_secret_xyz"

    (asked,) = stripe.requests
    assert asked["path"] == "/v1/payment_intents"
    assert asked["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert asked["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert asked["form"]["amount"] == "4250"
    assert asked["form"]["currency"] == "usd"
    assert asked["form"]["metadata[clinicdesk_invoice_id]"] == invoice["id"]
    assert asked["form"]["metadata[clinicdesk_organization_id]"] == str(qc.organization_id)
    assert asked["form"]["metadata[clinicdesk_patient_id]"] == str(qc.patient_ids[0])

    # A second click while nothing changed: the same idempotency key, the same intent.
    again = await start(desk, invoice)
    assert again["reference"] == started["reference"]
    assert stripe.requests[1]["headers"]["Idempotency-Key"] == asked["headers"]["Idempotency-Key"]

    await scope_to_tenant(session, qc.organization_id)
    details = list(
        await session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "invoice.card_payment_started")
        )
    )
    assert len(details) == 2
    assert details[0]["reference"] == started["reference"]
    assert "secret" not in json.dumps(details)
    assert await card_payments(session, qc) == []  # nothing is paid until the webhook


async def test_a_signed_webhook_records_the_card_payment_once(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    session: AsyncSession,
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[1], 6000)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    body, headers = signed(succeeded(intent, event_id="evt_paid_1"))

    answer = await client.post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "result": "recorded"}
    paid = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert (paid["amount_paid"], paid["amount_due"]) == (6000, 0)

    (payment,) = await card_payments(session, qc)
    assert payment.amount == 6000
    assert payment.reference == f"stripe {intent['id']}"
    assert payment.taken_by_id is None
    recorded = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.recorded", AuditEvent.resource_id == str(payment.id)
            )
        )
    ).one()
    assert recorded.actor_kind == "system"
    assert recorded.actor_roles == ["card-gateway:stripe"]

    # Stripe delivers again (a lost answer, a retry): nothing new is recorded.
    for _ in range(2):
        replay = await client.post(WEBHOOK, content=body, headers=headers)
        assert replay.status_code == 200, replay.text
        assert replay.json()["result"] == "already-recorded"
    # Re-signed later with a fresh timestamp: the event id still says "done".
    body2, headers2 = signed(succeeded(intent, event_id="evt_paid_1"), at=int(time.time()) + 5)
    assert (await client.post(WEBHOOK, content=body2, headers=headers2)).status_code == 200
    assert len(await card_payments(session, qc)) == 1
    balance = (await desk.get(f"/api/v1/patients/{qc.patient_ids[1]}/balance")).json()
    assert (balance["balance"], balance["credit_available"]) == (0, 0)


async def test_money_beyond_what_is_still_owed_is_kept_as_credit(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
) -> None:
    patient = qc.patient_ids[2]
    invoice = await issued_invoice(desk, patient, 5000)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    # Meanwhile the patient paid 2000 in cash at the desk; then the card payment lands.
    cash = await desk.post(
        "/api/v1/payments",
        json={"patient_id": str(patient), "method": "cash", "amount": 2000},
    )
    assert cash.status_code == 201, cash.text
    body, headers = signed(succeeded(intent, event_id="evt_paid_2"))
    assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 200
    paid = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert paid["amount_due"] == 0
    balance = (await desk.get(f"/api/v1/patients/{patient}/balance")).json()
    assert (balance["balance"], balance["credit_available"]) == (-2000, 2000)


async def test_bad_signatures_and_old_timestamps_are_refused_without_detail(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    session: AsyncSession,
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[3], 3000)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    event = succeeded(intent, event_id="evt_forged")
    body, headers = signed(event)
    tampered = body.replace(b'"amount_received": 3000', b'"amount_received": 9000')
    assert tampered != body
    # Each attempt is signed as it is sent: a timestamp 301 s off, taken before a slow
    # run of the other attempts, could be inside the tolerance by the time it arrives.
    attempts: list[Callable[[], tuple[bytes, dict[str, str]]]] = [
        lambda: (body, {"Content-Type": "application/json"}),  # no signature
        lambda: (body, {"Stripe-Signature": "garbage"}),
        lambda: (body, {"Stripe-Signature": f"t={int(time.time())}"}),  # no v1
        lambda: signed(event, secret="whsec_" + "x" * 32),  # another endpoint's secret
        lambda: (tampered, headers),  # the body changed after signing
        lambda: signed(event, at=int(time.time()) - 301),  # too old: replayed later
        lambda: signed(event, at=int(time.time()) + 310),  # from the future
        lambda: (body, {"Stripe-Signature": headers["Stripe-Signature"].replace("v1=", "v0=")}),
    ]
    for attempt in attempts:
        sent, with_headers = attempt()
        answer = await client.post(WEBHOOK, content=sent, headers=with_headers)
        assert answer.status_code == 400, (with_headers, answer.text)
        problem = answer.json()
        assert problem["detail"] == "Bad request."
        assert "signature" not in answer.text.lower()
    # Within the tolerance still passes (Stripe's 300 s), so the clock check is no stricter.
    body_ok, headers_ok = signed(event, at=int(time.time()) - 250)
    assert (await client.post(WEBHOOK, content=body_ok, headers=headers_ok)).status_code == 200
    assert len(await card_payments(session, qc)) == 1


async def test_an_event_naming_another_organization_or_invoice_is_refused(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    session: AsyncSession,
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[4], 2500)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    other = await create_org(session, "Hillside", mfa_required_for_admins=False)
    wrong = [
        {"clinicdesk_organization_id": str(other.id)},  # the invoice is not Hillside's
        {"clinicdesk_invoice_id": str(uuid.uuid4())},
        {"clinicdesk_patient_id": str(qc.patient_ids[5])},
        {"clinicdesk_invoice_id": "not-an-id"},
    ]
    for n, metadata in enumerate(wrong):
        body, headers = signed(succeeded(intent, event_id=f"evt_wrong_{n}", **metadata))
        answer = await client.post(WEBHOOK, content=body, headers=headers)
        assert answer.status_code == 422, (metadata, answer.text)
    other_currency = succeeded(intent, event_id="evt_eur")
    other_currency["data"]["object"]["currency"] = "eur"
    body, headers = signed(other_currency)
    assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 422
    assert await card_payments(session, qc) == []
    still = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert still["amount_due"] == 2500


async def test_failed_payments_are_acknowledged_and_record_nothing(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    session: AsyncSession,
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[0], 1500)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    failed = {
        "id": "evt_failed",
        "type": "payment_intent.payment_failed",
        "data": {"object": {**intent, "status": "requires_payment_method"}},
    }
    body, headers = signed(failed)
    answer = await client.post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["result"] == "ignored"
    assert await card_payments(session, qc) == []


async def test_only_an_issued_invoice_that_owes_can_be_paid_by_card(
    desk: httpx.AsyncClient, qc: QueueClinic, stripe: FakeStripe
) -> None:
    a_draft = await draft(desk, qc.patient_ids[1], {"name": "Visit", "unit_price": 1000})
    refused = await desk.post(f"/api/v1/invoices/{a_draft['id']}/card-payment")
    assert refused.status_code == 409
    invoice = await issued_invoice(desk, qc.patient_ids[1], 1000)
    cash = await desk.post(
        "/api/v1/payments",
        json={"patient_id": str(qc.patient_ids[1]), "method": "cash", "amount": 1000},
    )
    assert cash.status_code == 201
    refused = await desk.post(f"/api/v1/invoices/{invoice['id']}/card-payment")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("card-payment-refused")
    assert stripe.requests == []


async def test_a_refusing_or_absent_provider_is_a_502_and_nothing_is_recorded(
    desk: httpx.AsyncClient, qc: QueueClinic, desk_app_settings: Callable[..., None]
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[2], 1000)
    desk_app_settings(card_gateway_secret_key=SecretStr("sk_test_wrong"))
    refused = await desk.post(f"/api/v1/invoices/{invoice['id']}/card-payment")
    assert refused.status_code == 502
    assert "sk_test" not in refused.text
    desk_app_settings(card_gateway_api_url="http://127.0.0.1:9")  # nothing listens there
    absent = await desk.post(f"/api/v1/invoices/{invoice['id']}/card-payment")
    assert absent.status_code == 502


async def test_with_the_gateway_off_there_is_no_card_payment_and_no_webhook(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    desk_app_settings: Callable[..., None],
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[3], 1000)
    desk_app_settings(card_gateway="off")
    refused = await desk.post(f"/api/v1/invoices/{invoice['id']}/card-payment")
    assert refused.status_code == 409
    body, headers = signed({"id": "evt_x", "type": "payment_intent.succeeded", "data": {}})
    assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 404
    assert stripe.requests == []


def test_the_gateway_is_off_by_default(tmp_path: Path) -> None:
    assert make_settings(tmp_path).card_gateway == "off"
    with pytest.raises(ValueError, match="CARD_GATEWAY_WEBHOOK_SECRET"):
        make_settings(tmp_path, card_gateway="stripe", card_gateway_secret_key=SECRET_KEY)


async def test_a_signed_event_with_an_amount_no_payment_may_have_is_refused_not_a_500(
    desk: httpx.AsyncClient,
    client: httpx.AsyncClient,
    qc: QueueClinic,
    stripe: FakeStripe,
    session: AsyncSession,
) -> None:
    invoice = await issued_invoice(desk, qc.patient_ids[3], 1200)
    await start(desk, invoice)
    (intent,) = stripe.intents.values()
    absurd = succeeded({**intent, "amount": 10**15}, event_id="evt_absurd")
    body, headers = signed(absurd)
    answer = await client.post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "not a payment ClinicDesk can record" in answer.json()["detail"]
    assert await card_payments(session, qc) == []
    still = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert still["amount_due"] == 1200
