"""The Twilio adapter against a fake Twilio served over real HTTP on 127.0.0.1: what it
sends (form fields, WhatsApp prefixes, basic auth), how refusals come back (permanent or
not, Twilio's code, Retry-After, never the token or the body), reconciliation by listing,
the connection check, webhook signatures (Twilio's documented example) and what status
callbacks and inbound messages say. No database."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clinicdesk.notifications.twilio import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundText,
    ProviderRefused,
    SentReceipt,
    TwilioClient,
    TwilioSettings,
    parse_inbound,
    parse_status_callback,
    sign,
    verify_signature,
)
from tests.notifications.fake_twilio import SMS_FROM, WHATSAPP_FROM, FakeTwilio

PATIENT = "+447700900123"
BODY = "Reminder: Dr Lee tomorrow at 09:30. Reply STOP to opt out."
CALLBACK = "https://clinic.example/api/v1/notifications/webhooks/twilio/status"
SID_PATTERN = r"^SM[0-9a-f]{32}$"


@pytest.fixture
async def twilio(fake_twilio: FakeTwilio) -> AsyncIterator[TwilioClient]:
    client = TwilioClient(fake_twilio.settings(), timeout=5)
    yield client
    await client.aclose()


async def refusal(client: TwilioClient, **send: str) -> ProviderRefused:
    arguments = {"channel": "sms", "to": PATIENT, "body": BODY, **send}
    with pytest.raises(ProviderRefused) as caught:
        await client.send(**arguments)  # type: ignore[arg-type]
    error = caught.value
    assert BODY not in str(error) and "auth-token" not in str(error)
    return error


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- sending ------------------------------------------------------------------------------


async def test_sms_is_posted_form_encoded_with_basic_auth(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    receipt = await twilio.send(channel="sms", to=PATIENT, body=BODY, status_callback=CALLBACK)

    assert isinstance(receipt, SentReceipt)
    assert receipt.status == "queued"
    [message] = fake_twilio.messages
    assert receipt.provider_id == message.sid
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert dict(message.form) == {
        "To": PATIENT,
        "From": SMS_FROM,
        "Body": BODY,
        "StatusCallback": CALLBACK,
    }
    assert fake_twilio.requests == [
        ("POST", f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json")
    ]


async def test_sms_through_a_messaging_service_names_it_instead_of_a_number(
    fake_twilio: FakeTwilio,
) -> None:
    service = "MG" + "a" * 32
    client = TwilioClient(fake_twilio.settings(sms_from=service))
    try:
        receipt = await client.send(channel="sms", to=PATIENT, body=BODY)
    finally:
        await client.aclose()

    assert receipt.status == "accepted"
    assert dict(fake_twilio.messages[0].form) == {
        "To": PATIENT,
        "MessagingServiceSid": service,
        "Body": BODY,
    }


async def test_whatsapp_prefixes_both_ends_once(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    await twilio.send(channel="whatsapp", to=PATIENT, body=BODY)
    await twilio.send(channel="whatsapp", to=f"whatsapp:{PATIENT}", body=BODY)

    for message in fake_twilio.messages:
        assert message.form["To"] == f"whatsapp:{PATIENT}"
        assert message.form["From"] == f"whatsapp:{WHATSAPP_FROM}"
        assert "StatusCallback" not in message.form


async def test_whatsapp_without_a_sender_number_is_refused_before_calling(
    fake_twilio: FakeTwilio,
) -> None:
    client = TwilioClient(fake_twilio.settings(whatsapp_from=None))
    try:
        error = await refusal(client, channel="whatsapp")
    finally:
        await client.aclose()
    assert error.permanent and "WhatsApp" in str(error)
    assert fake_twilio.requests == []


async def test_an_invalid_number_is_a_permanent_refusal_with_twilios_code(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    error = await refusal(twilio, to="12345")

    assert error.permanent and error.code == "21211" and error.http_status == 400
    assert error.retry_after is None and not error.maybe_accepted
    assert "not a valid phone number" in str(error)
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    ("code", "words"),
    [(21610, "opted out"), (21408, "not enabled"), (63016, "24 hours")],
)
async def test_twilios_4xx_codes_are_permanent_and_explained(
    fake_twilio: FakeTwilio, twilio: TwilioClient, code: int, words: str
) -> None:
    fake_twilio.fail_next(1, 400, code)

    error = await refusal(twilio)

    assert error.permanent and error.code == str(code)
    assert words in str(error)


async def test_wrong_credentials_are_permanent_and_never_shown(fake_twilio: FakeTwilio) -> None:
    client = TwilioClient(fake_twilio.settings(auth_token="wrong-auth-token-secret"))
    try:
        error = await refusal(client)
    finally:
        await client.aclose()

    assert error.permanent and error.code == "20003" and error.http_status == 401
    assert "Auth Token" in str(error) and "wrong-auth-token-secret" not in str(error)
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0.5", 0.5), (None, None), ("soon", None)],
)
async def test_too_many_requests_is_temporary_with_retry_after(
    fake_twilio: FakeTwilio,
    twilio: TwilioClient,
    header: str | None,
    expected: float | None,
) -> None:
    fake_twilio.fail_next(1, 429, 20429, retry_after=header)

    error = await refusal(twilio)

    assert not error.permanent and error.code == "20429"
    assert error.retry_after == expected
    assert not error.maybe_accepted


async def test_retry_after_as_an_http_date(fake_twilio: FakeTwilio, twilio: TwilioClient) -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    fake_twilio.fail_next(1, 429, 20429, retry_after=format_datetime(later, usegmt=True))

    error = await refusal(twilio)

    assert error.retry_after is not None and 100 < error.retry_after <= 120


async def test_a_server_error_is_temporary_and_may_have_been_taken(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    fake_twilio.fail_next(2, 503)

    error = await refusal(twilio)
    assert not error.permanent and error.http_status == 503 and error.maybe_accepted
    assert error.code is None and "HTTP 503" in str(error)

    await refusal(twilio)  # the second queued failure
    receipt = await twilio.send(channel="sms", to=PATIENT, body=BODY)  # then it works
    assert [m.sid for m in fake_twilio.messages] == [receipt.provider_id]


async def test_connection_refused_is_temporary_and_certainly_not_sent() -> None:
    settings = TwilioSettings(
        account_sid="AC" + "0" * 32,
        auth_token="token-that-stays-secret",
        sms_from=SMS_FROM,
        base_url=f"http://127.0.0.1:{closed_port()}",
    )
    client = TwilioClient(settings, timeout=2)
    try:
        error = await refusal(client)
    finally:
        await client.aclose()

    assert not error.permanent and not error.maybe_accepted and error.http_status is None
    assert "could not be reached" in str(error)
    assert "token-that-stays-secret" not in str(error)


async def test_a_timeout_after_twilio_took_the_message_says_it_may_be_sent(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.delay_next(10)
    client = TwilioClient(fake_twilio.settings(), timeout=0.3)
    try:
        error = await refusal(client)
    finally:
        fake_twilio.release()
        await client.aclose()

    assert not error.permanent and error.maybe_accepted
    [message] = fake_twilio.messages  # Twilio has it; the caller could not know
    assert message.body == BODY


async def test_twilios_own_error_text_is_dropped_when_it_repeats_the_body() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        text = f"Body {BODY!r} refused"
        return httpx.Response(400, json={"code": 99999, "message": text, "status": 400})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    settings = TwilioSettings(account_sid="AC" + "1" * 32, auth_token="t0k", sms_from=SMS_FROM)
    client = TwilioClient(settings, http=http)

    error = await refusal(client)

    assert error.code == "99999" and error.permanent
    await client.aclose()
    assert not http.is_closed  # a shared client is the caller's to close
    await http.aclose()


async def test_secrets_stay_out_of_reprs(fake_twilio: FakeTwilio) -> None:
    settings = fake_twilio.settings()
    client = TwilioClient(settings)
    assert fake_twilio.auth_token not in repr(settings)
    assert fake_twilio.auth_token not in repr(client)
    await client.aclose()


# -- reconciliation -----------------------------------------------------------------------


async def test_find_sent_finds_the_message_twilio_took(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    receipt = await twilio.send(channel="sms", to=PATIENT, body=BODY)

    found = await twilio.find_sent(channel="sms", to=PATIENT, body=BODY, since=before)
    assert found == receipt.provider_id

    other_body = await twilio.find_sent(channel="sms", to=PATIENT, body=BODY + "!", since=before)
    other_number = await twilio.find_sent(
        channel="sms", to="+447700900999", body=BODY, since=before
    )
    later = await twilio.find_sent(
        channel="sms", to=PATIENT, body=BODY, since=datetime.now(UTC) + timedelta(seconds=2)
    )
    as_whatsapp = await twilio.find_sent(channel="whatsapp", to=PATIENT, body=BODY, since=before)
    assert other_body is other_number is later is as_whatsapp is None

    method, query = fake_twilio.requests[1]
    assert method == "GET"
    assert f"DateSent%3E={before.date().isoformat()}" in query
    assert "To=%2B447700900123" in query


async def test_find_sent_follows_next_page_uri(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    fake_twilio.page_size = 2
    now = datetime.now(UTC).replace(microsecond=0)
    target = fake_twilio.add_message(to=PATIENT, body=BODY, date_created=now - timedelta(minutes=5))
    for minutes in range(4, 0, -1):  # four newer messages to the same number, listed first
        fake_twilio.add_message(
            to=PATIENT, body=f"other {minutes}", date_created=now - timedelta(minutes=minutes)
        )

    found = await twilio.find_sent(
        channel="sms", to=PATIENT, body=BODY, since=now - timedelta(minutes=10)
    )

    assert found == target.sid
    pages = [query for method, query in fake_twilio.requests if method == "GET"]
    assert len(pages) == 3
    assert "PageToken=PA" in pages[1] and "Page=1" in pages[1] and "Page=2" in pages[2]


async def test_find_sent_ignores_the_same_text_sent_before_since(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fake_twilio.add_message(to=PATIENT, body=BODY, date_created=now - timedelta(minutes=30))
    fake_twilio.add_message(to=PATIENT, body=BODY, date_created=now - timedelta(days=2))
    fake_twilio.add_message(
        to=PATIENT, body=BODY, date_created=now, direction="inbound", status="received"
    )

    assert (
        await twilio.find_sent(
            channel="sms", to=PATIENT, body=BODY, since=now - timedelta(minutes=1)
        )
        is None
    )


async def test_find_sent_needs_an_aware_time_and_reports_refusals(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    with pytest.raises(ValueError, match="aware"):
        await twilio.find_sent(channel="sms", to=PATIENT, body=BODY, since=datetime(2026, 1, 1))  # noqa: DTZ001
    fake_twilio.fail_next(1, 503)
    with pytest.raises(ProviderRefused) as caught:
        await twilio.find_sent(channel="sms", to=PATIENT, body=BODY, since=datetime.now(UTC))
    assert not caught.value.permanent and BODY not in str(caught.value)


# -- connection check ---------------------------------------------------------------------


async def test_check_connection(fake_twilio: FakeTwilio, twilio: TwilioClient) -> None:
    await twilio.check_connection()
    assert fake_twilio.requests == [("GET", f"/2010-04-01/Accounts/{fake_twilio.account_sid}.json")]

    fake_twilio.account_status = "suspended"
    with pytest.raises(ProviderRefused, match="suspended") as caught:
        await twilio.check_connection()
    assert caught.value.permanent


async def test_check_connection_with_bad_credentials(fake_twilio: FakeTwilio) -> None:
    client = TwilioClient(fake_twilio.settings(auth_token="not-the-token"))
    try:
        with pytest.raises(ProviderRefused, match="Account SID and Auth Token") as caught:
            await client.check_connection()
    finally:
        await client.aclose()
    assert caught.value.permanent and caught.value.code == "20003"
    assert "not-the-token" not in str(caught.value)


@pytest.mark.parametrize("base_url", ["ftp://127.0.0.1", "http://", "127.0.0.1:8000"])
async def test_check_connection_with_a_wrong_address(base_url: str) -> None:
    settings = TwilioSettings(
        account_sid="AC" + "0" * 32, auth_token="x", sms_from=SMS_FROM, base_url=base_url
    )
    client = TwilioClient(settings, timeout=2)
    try:
        with pytest.raises(ProviderRefused, match="not a valid http") as caught:
            await client.check_connection()
    finally:
        await client.aclose()
    assert caught.value.permanent


async def test_check_connection_when_twilio_is_unreachable() -> None:
    settings = TwilioSettings(
        account_sid="AC" + "0" * 32,
        auth_token="x",
        sms_from=SMS_FROM,
        base_url=f"http://127.0.0.1:{closed_port()}",
    )
    client = TwilioClient(settings, timeout=2)
    try:
        with pytest.raises(ProviderRefused, match="could not be reached") as caught:
            await client.check_connection()
    finally:
        await client.aclose()
    assert not caught.value.permanent


# -- signatures ---------------------------------------------------------------------------

# Twilio's own example (docs "Webhooks security" / twilio helper libraries' tests).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilios_documented_signature_example() -> None:
    assert sign(auth_token="12345", url=DOC_URL, params=DOC_PARAMS) == DOC_SIGNATURE
    # The parameters are sorted by name, whatever order they came in.
    shuffled = dict(reversed(DOC_PARAMS.items()))
    assert sign(auth_token="12345", url=DOC_URL, params=shuffled) == DOC_SIGNATURE
    assert verify_signature(
        auth_token="12345", url=DOC_URL, params=DOC_PARAMS, signature=DOC_SIGNATURE
    )


@pytest.mark.parametrize(
    ("url", "params", "signature", "token"),
    [
        (DOC_URL.replace("foo=1", "foo=2"), DOC_PARAMS, DOC_SIGNATURE, "12345"),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE, "12345"),
        (DOC_URL, {**DOC_PARAMS, "Digits": "1235"}, DOC_SIGNATURE, "12345"),
        (DOC_URL, {**DOC_PARAMS, "Extra": ""}, DOC_SIGNATURE, "12345"),
        (DOC_URL, {k: v for k, v in DOC_PARAMS.items() if k != "To"}, DOC_SIGNATURE, "12345"),
        (DOC_URL, DOC_PARAMS, "1" + DOC_SIGNATURE[1:], "12345"),
        (DOC_URL, DOC_PARAMS, "", "12345"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "12346"),
    ],
    ids=["url", "scheme", "value", "added", "removed", "signature", "empty", "token"],
)
def test_tampered_requests_fail_verification(
    url: str, params: dict[str, str], signature: str, token: str
) -> None:
    assert not verify_signature(auth_token=token, url=url, params=params, signature=signature)


def test_https_default_port_written_or_not() -> None:
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    with_port = "https://clinic.example:443/hook"
    without = "https://clinic.example/hook"
    signed = sign(auth_token="k", url=with_port, params=params)
    assert verify_signature(auth_token="k", url=without, params=params, signature=signed)
    signed = sign(auth_token="k", url=without, params=params)
    assert verify_signature(auth_token="k", url=with_port, params=params, signature=signed)
    # Another port is another address.
    other = sign(auth_token="k", url="https://clinic.example:8443/hook", params=params)
    assert not verify_signature(auth_token="k", url=without, params=params, signature=other)


# -- callbacks and inbound messages --------------------------------------------------------

SID = "SM" + "f" * 32


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("queued", None, None),
        ("accepted", None, None),
        ("sending", None, None),
        ("sent", None, "sent"),
        ("delivered", None, "delivered"),
        ("read", None, "delivered"),
        ("undelivered", "30007", "failed"),
        ("failed", "30008", "failed"),
        ("undelivered", "30003", "bounced"),
        ("undelivered", "30005", "bounced"),
        ("failed", "30006", "bounced"),
        ("something-new", None, None),
    ],
)
def test_status_callbacks_map_to_delivery_updates(
    status: str, error: str | None, expected: DeliveryStatus | None
) -> None:
    params = {"MessageSid": SID, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if error:
        params["ErrorCode"] = error
    assert parse_status_callback(params) == DeliveryUpdate(
        provider_id=SID,
        status=expected,
        error_code=error,
    )


def test_status_callback_without_a_sid_is_refused() -> None:
    with pytest.raises(ValueError, match="MessageSid"):
        parse_status_callback({"MessageStatus": "delivered"})
    assert parse_status_callback({"SmsSid": SID, "SmsStatus": "sent"}).status == "sent"


def test_inbound_sms_and_whatsapp() -> None:
    sms = parse_inbound({"MessageSid": SID, "From": PATIENT, "To": SMS_FROM, "Body": "STOP"})
    assert sms == InboundText(
        channel="sms", from_number=PATIENT, to_number=SMS_FROM, body="STOP", provider_id=SID
    )
    whatsapp = parse_inbound(
        {
            "MessageSid": SID,
            "From": f"whatsapp:{PATIENT}",
            "To": f"whatsapp:{WHATSAPP_FROM}",
            "Body": "Yes",
            "ProfileName": "Ann",
        }
    )
    assert (whatsapp.channel, whatsapp.from_number, whatsapp.to_number) == (
        "whatsapp",
        PATIENT,
        WHATSAPP_FROM,
    )
    with pytest.raises(ValueError, match="From"):
        parse_inbound({"MessageSid": SID, "Body": "hi"})
    with pytest.raises(ValueError, match="MessageSid"):
        parse_inbound({"From": PATIENT, "Body": "hi"})


def receiver(token: str, seen: list[dict[str, object]]) -> httpx.AsyncClient:
    """An app that checks Twilio's signature the way the notifications webhooks will."""

    async def hook(request: Request) -> JSONResponse:
        params = {k: str(v) for k, v in (await request.form()).items()}
        valid = verify_signature(
            auth_token=token,
            url=str(request.url),
            params=params,
            signature=request.headers.get("x-twilio-signature", ""),
        )
        seen.append({"valid": valid, "params": params})
        return JSONResponse({}, status_code=204 if valid else 403)

    app = Starlette(routes=[Route("/hooks/{kind}", hook, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://clinic")


async def test_the_fakes_status_callbacks_are_signed_like_twilios(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    seen: list[dict[str, object]] = []
    callback = "https://clinic/hooks/status"
    receipt = await twilio.send(channel="sms", to=PATIENT, body=BODY, status_callback=callback)

    async with receiver(fake_twilio.auth_token, seen) as app:
        good = await fake_twilio.deliver(receipt.provider_id, "undelivered", "30005", client=app)
        forged = await fake_twilio.deliver(
            receipt.provider_id, "delivered", client=app, signature=DOC_SIGNATURE
        )

    assert (good.status_code, forged.status_code) == (204, 403)
    params = seen[0]["params"]
    assert isinstance(params, dict)
    assert parse_status_callback(params) == DeliveryUpdate(
        provider_id=receipt.provider_id, status="bounced", error_code="30005"
    )
    assert BODY not in json.dumps(params)  # Twilio's callbacks carry no body either


async def test_the_fakes_inbound_messages_are_signed_like_twilios(
    fake_twilio: FakeTwilio,
) -> None:
    seen: list[dict[str, object]] = []
    async with receiver(fake_twilio.auth_token, seen) as app:
        response = await fake_twilio.send_inbound(
            "https://clinic/hooks/inbound", PATIENT, "STOP", channel="whatsapp", client=app
        )
    assert response.status_code == 204
    params = seen[0]["params"]
    assert isinstance(params, dict)
    inbound = parse_inbound(params)
    assert (inbound.channel, inbound.from_number, inbound.body) == ("whatsapp", PATIENT, "STOP")
    assert inbound.to_number == WHATSAPP_FROM


async def test_the_fake_speaks_plain_http_to_any_client(fake_twilio: FakeTwilio) -> None:
    """What a ``clinicdesk worker`` subprocess would see: a real port, Twilio's answers."""
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    auth = base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode())
    async with httpx.AsyncClient() as http:
        created = await http.post(
            url,
            data={"To": PATIENT, "From": SMS_FROM, "Body": "hi"},
            headers={"Authorization": f"Basic {auth.decode()}"},
        )
        anonymous = await http.get(url)
    assert created.status_code == 201 and created.json()["status"] == "queued"
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    assert fake_twilio.wait_for_messages(1, timeout=1)[0].sid == created.json()["sid"]


async def test_the_fake_holds_an_answer_after_recording_until_released(
    fake_twilio: FakeTwilio, twilio: TwilioClient
) -> None:
    """How a test kills a worker between Twilio taking a message and the answer."""
    for attempt in (1, 2):
        fake_twilio.delay_next(10)
        sending = asyncio.create_task(twilio.send(channel="sms", to=PATIENT, body=BODY))
        [*_, message] = await asyncio.to_thread(fake_twilio.wait_for_messages, attempt, 5)
        await asyncio.sleep(0.05)
        assert not sending.done()  # recorded, answer held
        fake_twilio.release()
        receipt = await asyncio.wait_for(sending, 5)
        assert receipt.provider_id == message.sid
