"""Twilio as the SMS and WhatsApp provider, over its documented REST API with plain HTTP
(httpx, no SDK). Pure: no database, no other domain; the notifications core calls it.

What this relies on (Twilio's documentation and its own helper libraries, read for this):

* **Sending** (Messages resource): ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``,
  form-encoded ``To``, ``From`` *or* ``MessagingServiceSid``, ``Body`` and optionally
  ``StatusCallback``; HTTP basic auth with the Account SID and the Auth Token. Twilio
  answers ``201`` with the Message as JSON: ``sid`` ("SM" + 32 hex) and ``status``
  (``queued`` without a Messaging Service, ``accepted`` with one). WhatsApp addresses are
  the E.164 number prefixed ``whatsapp:``, on both ``To`` and ``From``.
* **Refusals**: the 2010 API answers errors as JSON ``{"code", "message", "more_info",
  "status"}``; ``401`` with code 20003 is bad credentials, ``429`` (code 20429) asks to
  retry after ``Retry-After``. A 4xx other than 429 will not succeed by retrying the same
  request (bad number 21211, region not enabled 21408, recipient replied STOP 21610,
  WhatsApp outside the 24-hour window 63016, ...): ``permanent=True``. 429, 5xx, network
  errors and timeouts may succeed later: ``permanent=False``.
* **Listing** (reconciliation): ``GET .../Messages.json?To=...&DateSent>=YYYY-MM-DD`` (the
  documented inequality: the parameter is named ``DateSent>`` and holds a GMT date, "on
  or after midnight"); the page holds ``messages`` and ``next_page_uri`` (relative to the
  API's host, ``null`` on the last page), most recent first. Dates are RFC 2822 in GMT.
  Caveat: the filter is on ``date_sent``; a message Twilio accepted but has not yet
  handed to the carrier may have none and not be listed for a moment. ``find_sent``
  therefore answers "not found (yet)", never "certainly not sent"; the caller decides how
  long to wait before sending again.
* **Account check**: ``GET .../Accounts/{AccountSid}.json`` answers the account with its
  ``status`` (``active``, ``suspended``, ``closed``); 401 on bad credentials.
* **Webhook signatures** (``X-Twilio-Signature``): base64 of HMAC-SHA1, keyed with the
  Auth Token, over the full URL Twilio called followed by every POST parameter's name and
  value, sorted by name, with no separators. Twilio's documentation example (token
  ``12345``, ``https://mycompany.com/myapp.php?foo=1&bar=2`` and five call parameters ->
  ``0/KCTR6DLpKmkAf8muzZqo1nDgQ=``) is a test. As Twilio's helper libraries do, an https
  URL is also accepted with its default port written or left out (a proxy may add or drop
  ``:443``).
* **Status callbacks**: form-encoded ``MessageSid``, ``MessageStatus`` (``queued``,
  ``accepted``, ``sending``, ``sent``, ``delivered``, ``read``, ``undelivered``,
  ``failed``, ...) and ``ErrorCode`` when something failed; older parameters ``SmsSid`` /
  ``SmsStatus`` repeat them. Twilio adds parameters without notice, so all of them are
  signed and unknown ones are ignored.
* **Inbound messages**: form-encoded ``MessageSid``, ``From``, ``To``, ``Body`` (plus
  ``AccountSid``, ``NumMedia``, ``ProfileName``/``WaId`` for WhatsApp, ...); WhatsApp
  addresses carry the ``whatsapp:`` prefix.

Secrets: the Auth Token is never logged and never in a repr or an error message; neither
is a message's body (it is patient information).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import structlog

if TYPE_CHECKING:
    import httpx

log = structlog.get_logger("clinicdesk.notifications.twilio")

Channel = Literal["sms", "whatsapp"]
DeliveryStatus = Literal["sent", "delivered", "failed", "bounced"]

API_VERSION = "2010-04-01"
WHATSAPP_PREFIX = "whatsapp:"
# Seconds to connect; the whole call has the client's timeout.
CONNECT_SECONDS = 5.0
# A reconciliation reads at most this many pages (50 messages each by default): the list
# is filtered by recipient and day, so more means something is wrong, not a busy number.
MAX_PAGES = 20

# Twilio's error codes a person can act on, in words for the clinic's staff.
ERROR_HINTS: dict[str, str] = {
    "20003": "Twilio refused the Account SID and Auth Token: check them in the settings.",
    "20404": "Twilio does not know this account: check the Account SID.",
    "20429": "Twilio asks to slow down (too many requests); the message will be retried.",
    "21211": "The recipient's number is not a valid phone number.",
    "21408": "Sending to this country is not enabled in the Twilio account "
    "(Messaging geographic permissions).",
    "21602": "The message has no text.",
    "21606": "The sending number cannot send SMS to this destination.",
    "21608": "A Twilio trial account can only send to verified numbers.",
    "21610": "The recipient has opted out (replied STOP); they can reply START to "
    "receive messages again.",
    "21612": "Twilio cannot route a message to this number.",
    "21614": "The recipient's number cannot receive SMS (not a mobile number).",
    "21617": "The message is longer than Twilio accepts (1,600 characters).",
    "21910": "The sender and recipient are on different channels (SMS vs WhatsApp).",
    "63007": "The WhatsApp sender is not set up in the Twilio account.",
    "63016": "WhatsApp allows free-form messages only within 24 hours of the patient's "
    "last message; outside it, an approved template is needed.",
}

# Carrier errors meaning the number itself cannot receive (unreachable handset, unknown
# handset, landline or unreachable carrier): the address bounced, not just this message.
BOUNCE_ERROR_CODES = frozenset({"30003", "30005", "30006"})

STATUS_MAP: dict[str, DeliveryStatus | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    """One Twilio account. ``sms_from`` is an E.164 number or a Messaging Service SID
    ("MG..."); WhatsApp needs ``whatsapp_from``, a number enabled for WhatsApp."""

    account_sid: str
    auth_token: str = field(repr=False)  # the secret: never in a repr or a log
    sms_from: str
    whatsapp_from: str | None = None
    base_url: str = "https://api.twilio.com"


@dataclass(frozen=True, slots=True)
class SentReceipt:
    """Twilio accepted the message: its MessageSid and first status."""

    provider_id: str
    status: str


class ProviderRefused(Exception):
    """Twilio did not take the message (or the request).

    ``permanent``: sending the same again will not work (until someone changes the number,
    the settings or the patient's consent). ``code`` is Twilio's error code when it gave
    one. ``retry_after`` is the wait in seconds Twilio asked for. ``maybe_accepted``: the
    request may have reached Twilio before it failed (a timeout while waiting for the
    answer, a 5xx): look for it with ``find_sent`` before sending again. ``http_status``
    is the HTTP status, if there was an answer. The message never holds the Auth Token or
    the message's body."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        retry_after: float | None = None,
        maybe_accepted: bool = False,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.maybe_accepted = maybe_accepted
        self.http_status = http_status


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """What a status callback says: ``status`` None means no change worth recording
    (still on its way)."""

    provider_id: str
    status: DeliveryStatus | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class InboundText:
    """A message a patient sent to the clinic's number (addresses without "whatsapp:")."""

    channel: Channel
    from_number: str
    to_number: str
    body: str
    provider_id: str


class TwilioClient:
    """Calls Twilio's REST API for one account. Pass ``http`` to share a client (it is then
    not closed here); otherwise one is made on first use and closed by ``aclose``."""

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._settings = settings
        self._http = http
        self._owns_http = http is None
        self._timeout = timeout
        self._account_url = (
            f"{settings.base_url.rstrip('/')}/{API_VERSION}/Accounts/{settings.account_sid}"
        )

    def __repr__(self) -> str:  # never the token
        return f"TwilioClient(account_sid={self._settings.account_sid!r})"

    async def send(
        self,
        *,
        channel: Channel,
        to: str,
        body: str,
        status_callback: str | None = None,
    ) -> SentReceipt:
        """Hand one message to Twilio. Raises ``ProviderRefused`` when Twilio does not take
        it; ``maybe_accepted`` on the error says whether it might have anyway."""
        form = {"To": _address(channel, to), "Body": body}
        form.update(self._sender(channel))
        if status_callback is not None:
            form["StatusCallback"] = status_callback
        response = await self._request("POST", f"{self._account_url}/Messages.json", data=form)
        if response.status_code not in (200, 201):
            raise self._refusal(response, action="send the message", secrets=(body,))
        answer = _json(response)
        sid, status = answer.get("sid"), answer.get("status")
        if not isinstance(sid, str) or not sid:
            # Twilio said yes but not with what: it may well have taken the message.
            raise ProviderRefused(
                "Twilio answered the message without a MessageSid.",
                permanent=False,
                maybe_accepted=True,
                http_status=response.status_code,
            )
        return SentReceipt(provider_id=sid, status=str(status or "queued"))

    async def find_sent(
        self, *, channel: Channel, to: str, body: str, since: datetime
    ) -> str | None:
        """The MessageSid of an outbound message to ``to`` with exactly ``body``, created
        at or after ``since`` (to the second, Twilio's precision), or None.

        For reconciliation after a crash between Twilio taking a message and recording
        that it did: a sid found means "already sent, do not send again"."""
        if since.tzinfo is None:
            raise ValueError("find_sent needs an aware datetime (UTC)")
        since = since.astimezone(UTC).replace(microsecond=0)
        address = _address(channel, to)
        url: str | None = f"{self._account_url}/Messages.json"
        params: dict[str, str] | None = {"To": address, "DateSent>": since.date().isoformat()}
        root = self._settings.base_url.rstrip("/")
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            response = await self._request("GET", url, params=params)
            if response.status_code != 200:
                raise self._refusal(response, action="list sent messages", secrets=(body,))
            page = _json(response)
            for message in page.get("messages") or []:
                if _is_match(message, to=address, body=body, since=since):
                    return str(message["sid"])
            next_uri = page.get("next_page_uri")
            # The next page's address already carries the filters.
            url, params = (f"{root}{next_uri}" if next_uri else None), None
        log.warning("twilio.find_sent_truncated", pages=MAX_PAGES)
        return None

    async def check_connection(self) -> None:
        """Reach Twilio and check the credentials and that the account is active; raises
        ``ProviderRefused`` saying what is wrong."""
        response = await self._request("GET", f"{self._account_url}.json")
        if response.status_code != 200:
            raise self._refusal(response, action="check the account")
        status = _json(response).get("status")
        if status not in (None, "active"):
            raise ProviderRefused(
                f"The Twilio account is {status}, not active: see the Twilio Console.",
                permanent=True,
                http_status=response.status_code,
            )

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    # -- internals ----------------------------------------------------------------------

    def _sender(self, channel: Channel) -> dict[str, str]:
        settings = self._settings
        if channel == "whatsapp":
            if not settings.whatsapp_from:
                raise ProviderRefused(
                    "No WhatsApp sender number is set for Twilio.", permanent=True
                )
            return {"From": _address("whatsapp", settings.whatsapp_from)}
        if channel != "sms":
            raise ValueError(f"unknown channel {channel!r}")
        if settings.sms_from.startswith("MG"):
            return {"MessagingServiceSid": settings.sms_from}
        return {"From": settings.sms_from}

    def _client(self) -> httpx.AsyncClient:
        # Imported on first use: importing httpx also imports its command line (rich,
        # pygments) where installed, which no server process should hold for nothing
        # (tests/test_cli.py checks what serve loads).
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout, connect=min(CONNECT_SECONDS, self._timeout))
            )
        return self._http

    async def _request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        import httpx

        client = self._client()
        settings = self._settings
        try:
            return await client.request(
                method,
                url,
                data=data,
                params=params,
                auth=(settings.account_sid, settings.auth_token),
                headers={"Accept": "application/json"},
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            # A settings mistake: no retry will help.
            raise ProviderRefused(
                f"The Twilio address {settings.base_url!r} is not a valid http(s) URL.",
                permanent=True,
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing reached Twilio.
            log.warning("twilio.unreachable", error=type(error).__name__)
            raise ProviderRefused(
                f"Twilio could not be reached at {settings.base_url} "
                f"({type(error).__name__}): check the network.",
                permanent=False,
            ) from None
        except httpx.TimeoutException as error:
            log.warning("twilio.timeout", error=type(error).__name__)
            raise ProviderRefused(
                "Twilio did not answer in time; the request may have been taken.",
                permanent=False,
                maybe_accepted=True,
            ) from None
        except httpx.HTTPError as error:
            # Connection dropped mid-request: the request may have been taken.
            log.warning("twilio.transport_error", error=type(error).__name__)
            raise ProviderRefused(
                f"The connection to Twilio failed ({type(error).__name__}); the request "
                "may have been taken.",
                permanent=False,
                maybe_accepted=True,
            ) from None

    def _refusal(
        self, response: httpx.Response, *, action: str, secrets: tuple[str, ...] = ()
    ) -> ProviderRefused:
        status = response.status_code
        answer = _json(response)
        raw_code = answer.get("code")
        code = str(raw_code) if raw_code not in (None, "") else None
        if code is None and status == 401:
            code = "20003"
        retry_after = _retry_after(response.headers.get("Retry-After"))
        permanent = 400 <= status < 500 and status != 429
        hint = ERROR_HINTS.get(code or "") or _safe_text(
            answer.get("message"), secrets=(self._settings.auth_token, *secrets)
        )
        what = f"HTTP {status}" + (f", error {code}" if code else "")
        message = f"Twilio refused to {action} ({what})" + (f": {hint}" if hint else ".")
        log.warning("twilio.refused", action=action, status=status, code=code)
        return ProviderRefused(
            message,
            permanent=permanent,
            code=code,
            retry_after=retry_after,
            # A server error may come after the message was taken; a 4xx never does.
            maybe_accepted=status >= 500,
            http_status=status,
        )


def sign(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature`` of a request to ``url`` with POST ``params``."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_signature(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """Whether ``signature`` is Twilio's for this URL and these POST parameters (compared
    in constant time; the URL also with its default port written or left out)."""
    if not signature or not auth_token:
        return False
    given = signature.strip().encode()
    matched = False
    for candidate in _url_variants(url):
        expected = sign(auth_token=auth_token, url=candidate, params=params).encode()
        # Every variant is compared, so the time taken does not say which one matched.
        matched |= hmac.compare_digest(expected, given)
    return matched


def parse_status_callback(params: Mapping[str, str]) -> DeliveryUpdate:
    """What a status callback says (after its signature was checked).

    queued/accepted/sending -> no change; sent -> "sent"; delivered/read -> "delivered";
    undelivered/failed -> "failed", or "bounced" when the carrier says the number cannot
    receive (30003 unreachable, 30005 unknown, 30006 landline or unreachable carrier).
    Statuses this module does not know change nothing."""
    sid = params.get("MessageSid") or params.get("SmsSid")
    if not sid:
        raise ValueError("The status callback has no MessageSid: it is not Twilio's.")
    raw_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    error_code = params.get("ErrorCode") or None
    status = STATUS_MAP.get(raw_status)
    if status == "failed" and error_code in BOUNCE_ERROR_CODES:
        status = "bounced"
    return DeliveryUpdate(provider_id=sid, status=status, error_code=error_code)


def parse_inbound(params: Mapping[str, str]) -> InboundText:
    """The message a patient sent (after the webhook's signature was checked)."""
    sender = params.get("From")
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    if not sender:
        raise ValueError("The inbound message has no From: it is not Twilio's.")
    if not sid:
        raise ValueError("The inbound message has no MessageSid: it is not Twilio's.")
    channel: Channel = "whatsapp" if sender.startswith(WHATSAPP_PREFIX) else "sms"
    return InboundText(
        channel=channel,
        from_number=_strip_channel(sender),
        to_number=_strip_channel(params.get("To", "")),
        body=params.get("Body", ""),
        provider_id=sid,
    )


# -- helpers ----------------------------------------------------------------------------


def _address(channel: Channel, number: str) -> str:
    number = number.strip()
    if channel == "whatsapp" and not number.startswith(WHATSAPP_PREFIX):
        return WHATSAPP_PREFIX + number
    return number


def _strip_channel(address: str) -> str:
    return address.removeprefix(WHATSAPP_PREFIX)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = json.loads(response.content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(header: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _safe_text(value: object, *, secrets: tuple[str, ...]) -> str | None:
    """Twilio's own error text, unless it repeats a secret or the body."""
    if not isinstance(value, str) or not value:
        return None
    if any(secret and secret in value for secret in secrets):
        return None
    return value[:300]


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _is_match(message: object, *, to: str, body: str, since: datetime) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("sid"), str):
        return False
    if message.get("to") != to or message.get("body") != body:
        return False
    if not str(message.get("direction") or "outbound-api").startswith("outbound"):
        return False
    created = _parse_date(message.get("date_created"))
    return created is not None and created >= since


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus the same with its scheme's default port left out or written
    in (Twilio's helper libraries accept both)."""
    variants = [url]
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or not parts.hostname:
        return variants
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        return variants
    if port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    elif port == default:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    return variants
