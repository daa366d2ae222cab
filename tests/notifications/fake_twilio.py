"""A fake Twilio REST API served over real HTTP on 127.0.0.1 (Starlette under uvicorn in a
background thread), so the notifications code, in this process or in a ``clinicdesk
worker`` subprocess, talks to it exactly as to api.twilio.com.

It answers what ``clinicdesk.notifications.twilio`` uses, the way Twilio documents it:

* ``POST /2010-04-01/Accounts/{sid}/Messages.json``: basic auth (401, code 20003), ``To``
  in E.164 (400, code 21211), ``From`` or ``MessagingServiceSid`` (21603), a ``Body``
  (21602), both ends on the same channel (21910); records the message with a new sid
  ("SM" + 32 hex) and answers 201 with the Message JSON (status ``queued``, or
  ``accepted`` with a Messaging Service).
* ``GET /2010-04-01/Accounts/{sid}/Messages.json``: filters ``To``, ``From``,
  ``DateSent``, ``DateSent>`` (on or after that date), ``DateSent<`` (on or before), most
  recent first, ``PageSize`` (default ``page_size``) and ``Page``, ``next_page_uri``.
* ``GET /2010-04-01/Accounts/{sid}.json``: the account (``account_status``).

Controls: ``fail_next``, ``delay_next``, ``release``, ``messages``, ``wait_for_messages``,
``add_message``, ``deliver`` (a signed status callback to the message's StatusCallback)
and ``send_inbound`` (a signed inbound-message webhook).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clinicdesk.notifications.twilio import WHATSAPP_PREFIX, TwilioSettings, sign

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-" + "t" * 9
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "+14155238886"
API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def _date(value: datetime | None) -> str | None:
    return format_datetime(value.astimezone(UTC), usegmt=True) if value else None


@dataclass(frozen=True)
class FakeMessage:
    """One message the fake was given (or seeded with)."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    status: str
    date_created: datetime
    date_sent: datetime | None
    direction: str = "outbound-api"
    error_code: str | None = None
    form: Mapping[str, str] = field(default_factory=dict)

    def as_json(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "messaging_service_sid": self.messaging_service_sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "status": self.status,
            "direction": self.direction,
            "num_segments": "1",
            "num_media": "0",
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "date_created": _date(self.date_created),
            "date_updated": _date(self.date_created),
            "date_sent": _date(self.date_sent),
            "uri": f"{API}/Accounts/{account_sid}/Messages/{self.sid}.json",
            "subresource_uris": {
                "media": f"{API}/Accounts/{account_sid}/Messages/{self.sid}/Media.json"
            },
        }


@dataclass
class _Failure:
    status: int
    code: int | None
    retry_after: str | None


def _error(status: int, code: int | None, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
            "status": status,
        },
        status_code=status,
        headers=headers,
    )


class FakeTwilio:
    """The fake API and its controls. Thread-safe: the server runs in its own thread."""

    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = ""
        self.page_size = 50
        self.account_status = "active"
        self.requests: list[tuple[str, str]] = []  # (method, path?query), in order
        self._messages: list[FakeMessage] = []
        self._failures: list[_Failure] = []
        self._delays: list[float] = []
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: set[asyncio.Event] = set()  # answers being held, in the server's loop
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def settings(self, **overrides: Any) -> TwilioSettings:
        """Settings that reach this fake with its credentials (``overrides`` change any)."""
        values: dict[str, Any] = {
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "sms_from": SMS_FROM,
            "whatsapp_from": WHATSAPP_FROM,
            "base_url": self.url,
        }
        return TwilioSettings(**{**values, **overrides})

    # -- controls -----------------------------------------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        """What was received (and seeded), oldest first."""
        with self._lock:
            return list(self._messages)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        code: int | None = None,
        *,
        retry_after: str | None = None,
    ) -> None:
        """The next ``n`` requests (any endpoint) answer ``status`` with Twilio's error
        JSON carrying ``code`` (and a ``Retry-After`` header if given), recording nothing."""
        with self._lock:
            self._failures.extend(_Failure(status, code, retry_after) for _ in range(n))

    def delay_next(self, seconds: float) -> None:
        """The next message sent is recorded, then its answer is held ``seconds`` (or until
        ``release``/stop): the provider has it, the caller does not know yet."""
        with self._lock:
            self._delays.append(seconds)

    def release(self) -> None:
        """Answer every held request now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._release_held)

    def _release_held(self) -> None:
        for event in self._held:
            event.set()

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[FakeMessage]:
        """Block until at least ``count`` messages were received; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._messages)} of {count} messages arrived")
                self._lock.wait(left)
            return list(self._messages)

    def add_message(
        self,
        *,
        to: str,
        body: str,
        date_created: datetime,
        date_sent: datetime | None = None,
        from_: str = SMS_FROM,
        status: str = "delivered",
        direction: str = "outbound-api",
    ) -> FakeMessage:
        """Seed a message as if it had been sent earlier (for listing tests)."""
        message = FakeMessage(
            sid=new_sid(),
            to=to,
            body=body,
            from_=from_,
            messaging_service_sid=None,
            status_callback=None,
            status=status,
            date_created=date_created,
            date_sent=date_sent or date_created,
            direction=direction,
        )
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
        return message

    def message(self, sid: str) -> FakeMessage:
        with self._lock:
            for message in self._messages:
                if message.sid == sid:
                    return message
        raise KeyError(sid)

    async def deliver(
        self,
        sid: str,
        status: str,
        error_code: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST Twilio's signed status callback for message ``sid`` to its StatusCallback.
        ``client`` sends it instead of a fresh HTTP client (an app under ASGITransport);
        ``signature`` overrides the computed one (to test refusals)."""
        message = self.message(sid)
        if not message.status_callback:
            raise ValueError(f"message {sid} has no StatusCallback")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_ or "",
            "To": message.to,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = error_code
        with self._lock:
            index = self._messages.index(message)
            self._messages[index] = replace(message, status=status, error_code=error_code)
        return await self._post_signed(message.status_callback, params, client, signature)

    async def send_inbound(
        self,
        url: str,
        from_number: str,
        body: str,
        channel: str = "sms",
        *,
        to_number: str | None = None,
        client: httpx.AsyncClient | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST Twilio's signed incoming-message webhook to ``url``, as if ``from_number``
        had texted the clinic's number."""
        prefix = WHATSAPP_PREFIX if channel == "whatsapp" else ""
        sid = new_sid()
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "From": prefix + from_number,
            "To": prefix + (to_number or (WHATSAPP_FROM if channel == "whatsapp" else SMS_FROM)),
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        if channel == "whatsapp":
            params["ProfileName"] = "Patient"
            params["WaId"] = from_number.lstrip("+")
        return await self._post_signed(url, params, client, signature)

    async def _post_signed(
        self,
        url: str,
        params: dict[str, str],
        client: httpx.AsyncClient | None,
        signature: str | None,
    ) -> httpx.Response:
        headers = {
            "X-Twilio-Signature": signature
            if signature is not None
            else sign(auth_token=self.auth_token, url=url, params=params),
            "User-Agent": "TwilioProxy/1.1",
        }
        if client is not None:
            return await client.post(url, data=params, headers=headers)
        async with httpx.AsyncClient(timeout=10) as fresh:
            return await fresh.post(url, data=params, headers=headers)

    # -- server -------------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-twilio"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Twilio server did not start")
            time.sleep(0.005)
        sock.close()  # uvicorn listens on its own copy

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.release()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._server = None

    def _app(self) -> Starlette:
        prefix = f"{API}/Accounts/{{account}}"
        return Starlette(
            routes=[
                Route(f"{prefix}/Messages.json", self._create, methods=["POST"]),
                Route(f"{prefix}/Messages.json", self._list, methods=["GET"]),
                Route(f"{prefix}.json", self._account, methods=["GET"]),
            ]
        )

    def _gate(self, request: Request) -> JSONResponse | None:
        """What every endpoint checks first: queued failures, credentials, the account."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        with self._lock:
            query = f"?{request.url.query}" if request.url.query else ""
            self.requests.append((request.method, request.url.path + query))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return _error(failure.status, failure.code, "Fake failure", **headers)
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        if request.headers.get("authorization") != f"Basic {base64.b64encode(pair).decode()}":
            return _error(
                401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        if request.path_params["account"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        return None

    async def _create(self, request: Request) -> JSONResponse:
        refused = self._gate(request)
        if refused is not None:
            return refused
        form = {key: str(value) for key, value in (await request.form()).items()}
        to, sender = form.get("To", ""), form.get("From")
        service = form.get("MessagingServiceSid")
        if not E164.match(to.removeprefix(WHATSAPP_PREFIX)):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender and not service:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if sender and to.startswith(WHATSAPP_PREFIX) != sender.startswith(WHATSAPP_PREFIX):
            return _error(
                400, 21910, "Invalid From and To pair. From and To should be of the same channel"
            )
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        now = datetime.now(UTC)
        message = FakeMessage(
            sid=new_sid(),
            to=to,
            body=form["Body"],
            from_=sender,
            messaging_service_sid=service,
            status_callback=form.get("StatusCallback"),
            status="accepted" if service else "queued",
            date_created=now,
            # Sent at once: a real message is listed by DateSent once Twilio sent it.
            date_sent=now,
            form=form,
        )
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
            delay = self._delays.pop(0) if self._delays else None
        if delay is not None:
            held = asyncio.Event()
            self._held.add(held)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(held.wait(), delay)
            finally:
                self._held.discard(held)
        return JSONResponse(message.as_json(self.account_sid), status_code=201)

    async def _list(self, request: Request) -> JSONResponse:
        refused = self._gate(request)
        if refused is not None:
            return refused
        query = request.query_params
        try:
            on = date.fromisoformat(query["DateSent"]) if "DateSent" in query else None
            after = date.fromisoformat(query["DateSent>"]) if "DateSent>" in query else None
            before = date.fromisoformat(query["DateSent<"]) if "DateSent<" in query else None
            size = int(query.get("PageSize", self.page_size))
            number = int(query.get("Page", "0"))
        except ValueError:
            return _error(400, 20001, "Invalid value for a filter or page")

        def wanted(message: FakeMessage) -> bool:
            sent = message.date_sent.date() if message.date_sent else None
            return (
                ("To" not in query or message.to == query["To"])
                and ("From" not in query or message.from_ == query["From"])
                and (on is None or sent == on)
                and (after is None or (sent is not None and sent >= after))
                and (before is None or (sent is not None and sent <= before))
            )

        with self._lock:
            found = [m for m in self._messages if wanted(m)]
        found.sort(key=lambda m: m.date_sent or m.date_created, reverse=True)
        page = found[number * size : (number + 1) * size]
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}
        base = f"{API}/Accounts/{self.account_sid}/Messages.json"

        def uri(page_number: int) -> str:
            extra: dict[str, str | int] = {"PageSize": size, "Page": page_number}
            if page_number:
                extra["PageToken"] = f"PA{secrets.token_hex(16)}"
            return f"{base}?{urlencode({**filters, **extra})}"

        has_next = (number + 1) * size < len(found)
        return JSONResponse(
            {
                "messages": [m.as_json(self.account_sid) for m in page],
                "page": number,
                "page_size": size,
                "start": number * size,
                "end": number * size + max(len(page) - 1, 0),
                "uri": uri(number),
                "first_page_uri": uri(0),
                "previous_page_uri": uri(number - 1) if number else None,
                "next_page_uri": uri(number + 1) if has_next else None,
            }
        )

    async def _account(self, request: Request) -> JSONResponse:
        refused = self._gate(request)
        if refused is not None:
            return refused
        return JSONResponse(
            {
                "sid": self.account_sid,
                "friendly_name": "Fake clinic account",
                "status": self.account_status,
                "type": "Full",
                "owner_account_sid": self.account_sid,
                "uri": f"{API}/Accounts/{self.account_sid}.json",
            }
        )


@contextlib.contextmanager
def running_fake_twilio(**options: str) -> Iterator[FakeTwilio]:
    """A started fake Twilio; stopped on leaving."""
    fake = FakeTwilio(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
