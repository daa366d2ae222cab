"""Outgoing email: password resets, email verification, staff invitations, reminders.

Callers build an :class:`OutgoingMail` and hand it to a :class:`MailSender`; they never
talk to a transport directly. Two transports exist:

* :class:`FileMailSender` (the default) writes each message as an ``.eml`` file into a
  private directory, so a fresh install, the demo and the tests need no mail server;
* :class:`SmtpMailSender` delivers through an SMTP server given as an URL
  (``smtp://``, ``smtp://...?starttls=true`` or ``smtps://``).

Rules:

* A message has exactly one recipient, and no header value may contain CR or LF (header
  injection is refused with ``ValueError`` before anything is sent).
* Messages can carry patient data, so logs record only the transport, the recipient's
  domain and the Message-ID; never the address, the subject or the body.
* Delivery failures raise :class:`MailDeliveryError`, whose text names the server but never
  the password.
* Send mail after the transaction commits (STYLE.md, "side effects after commit"); this
  module does not know about transactions.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib
import structlog

from clinicdesk.core.keys import ensure_private_dir

log = structlog.get_logger(__name__)

DEFAULT_SMTP_TIMEOUT: Final = 10.0
"""Seconds allowed for connecting and for each SMTP command."""

SMTP_PORT: Final = 25
SUBMISSION_PORT: Final = 587
"""Message submission with STARTTLS (RFC 6409)."""
SMTPS_PORT: Final = 465
"""Message submission over implicit TLS (RFC 8314)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (an invoice's PDF). The file name must not contain CR
    or LF; the content type is ``maintype/subtype``."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    to: str
    """One recipient address, optionally with a display name (``"Ana <ana@example.org>"``)."""
    subject: str
    text: str
    """The plain-text body; always present, so every mail client can show the message."""
    html: str | None = None
    """An optional HTML alternative of the same content."""
    attachments: tuple[Attachment, ...] = ()
    """Files sent with the message, after the body."""
    message_key: str | None = None
    """What this message is (a job's or a message's id: letters, digits, ``-`` and
    ``.``): its Message-ID is made of it, so a copy sent again after a retry carries the
    same Message-ID and mail clients show one. None: a new Message-ID each time."""


class MailSender(Protocol):
    async def send(self, message: OutgoingMail) -> None:
        """Deliver ``message`` or raise (``ValueError`` for a malformed message)."""
        ...


class MailDeliveryError(Exception):
    """The mail transport refused or failed to take the message."""


def _refuse_line_breaks(name: str, value: str) -> None:
    # A CR or LF in a header value would let the value start a new header (Bcc: ...) or the
    # body; the address or subject may come from user input, so refuse rather than strip.
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} must not contain line breaks")


def _domain_of(address: str) -> str:
    """The domain part of ``address`` (lower case), or ``""`` when it has none."""
    _, addr = parseaddr(address)
    local, at, domain = addr.rpartition("@")
    return domain.lower() if at and local else ""


_MESSAGE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,127}")


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    """Turn ``mail`` into a standard message from ``sender``, ready for any transport.

    ``to``, ``subject`` and ``sender`` must not contain CR or LF, ``to`` must be exactly one
    address and ``sender`` must have a domain (it names the Message-ID); otherwise
    ``ValueError``. The Date is in UTC: the recipient's mail client shows it in local time.
    """
    _refuse_line_breaks("recipient", mail.to)
    _refuse_line_breaks("subject", mail.subject)
    _refuse_line_breaks("sender", sender)
    # A comma-separated list would quietly send one user's reset link to several people.
    if len(getaddresses([mail.to])) != 1 or not _domain_of(mail.to):
        raise ValueError("the recipient must be exactly one email address")
    sender_domain = _domain_of(sender)
    if not sender_domain:
        raise ValueError(f"the sender must be an email address with a domain, not {sender!r}")

    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Without a domain, make_msgid would use this machine's host name, leaking it to
    # recipients and risking spam scoring for a foreign domain.
    if mail.message_key is None:
        message["Message-ID"] = make_msgid(domain=sender_domain)
    elif _MESSAGE_KEY.fullmatch(mail.message_key):
        message["Message-ID"] = f"<{mail.message_key}@{sender_domain}>"
    else:
        raise ValueError("a message key has only letters, digits, '-' and '.'")
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        _refuse_line_breaks("attachment's file name", attachment.filename)
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype or "\r" in subtype or "\n" in subtype:
            raise ValueError(f"{attachment.content_type!r} is not a content type")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


class FileMailSender:
    """Write each message as ``<UTC timestamp>-<random hex>.eml`` into ``directory``.

    The directory is created owner-only (0700) and each file is owner-only (0600): the
    messages hold reset links and may hold patient data. Names sort in sending order
    (timestamps from one sender never repeat or go backwards), and the random part keeps
    several processes writing into the same directory from colliding. A file appears
    complete or not at all.
    """

    transport: Final = "file"

    def __init__(self, directory: Path, *, sender: str) -> None:
        self.directory = directory
        self.sender = sender
        self._last_stamp: datetime | None = None

    def __repr__(self) -> str:
        return f"FileMailSender(directory={str(self.directory)!r})"

    def _next_stamp(self) -> datetime:
        # The wall clock can step back (NTP) or repeat within a microsecond; never hand out
        # a timestamp that would sort before one already used by this sender.
        now = datetime.now(UTC)
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    def _write(self, name: str, data: bytes) -> Path:
        ensure_private_dir(self.directory)
        target = self.directory / name
        # A dot-file is not listed as a message, so a reader never sees a half-written one.
        partial = self.directory / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    async def send(self, message: OutgoingMail) -> None:
        email = build_message(message, self.sender)
        stamp = self._next_stamp().strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{secrets.token_hex(8)}.eml"
        path = await asyncio.to_thread(self._write, name, email.as_bytes())
        log.info(
            "mail.sent",
            transport=self.transport,
            recipient_domain=_domain_of(message.to),
            message_id=email["Message-ID"],
            file=path.name,
        )

    def list_messages(self) -> list[Path]:
        """The ``.eml`` files written so far, oldest first (blocking; for tests and tools)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.eml"), key=lambda path: path.name)


@dataclass(frozen=True, slots=True)
class _SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def _parse_flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"SMTP URL option {name}={value!r} must be true or false")


def _parse_smtp_url(url: str) -> _SmtpTarget:
    # Messages never include the URL itself: it may carry the password.
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"unsupported mail URL scheme {parts.scheme!r}: use smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the SMTP URL has no host: use smtp://user:password@host:port")
    starttls = False
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key != "starttls":
            raise ValueError(f"unknown SMTP URL option {key!r}: only starttls is supported")
        starttls = _parse_flag(key, value)
    implicit_tls = scheme == "smtps"
    if implicit_tls and starttls:
        raise ValueError("smtps:// is already encrypted: starttls=true applies to smtp:// only")
    try:
        explicit_port = parts.port
    except ValueError:
        raise ValueError("the SMTP URL has an invalid port") from None
    if explicit_port is not None:
        port = explicit_port
    elif implicit_tls:
        port = SMTPS_PORT
    else:
        port = SUBMISSION_PORT if starttls else SMTP_PORT
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError("the SMTP URL has a password but no user name")
    return _SmtpTarget(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit_tls,
        starttls=starttls,
        username=username,
        password=password,
    )


class SmtpMailSender:
    """Deliver through an SMTP server, one connection per message.

    ``url`` is ``smtp://[user[:password]@]host[:port]`` (plain; port 25), the same with
    ``?starttls=true`` (upgrade with STARTTLS before anything else; port 587; fails if the
    server does not offer it) or ``smtps://...`` (implicit TLS; port 465). User name and
    password are percent-decoded. TLS certificates are verified against the system trust
    store unless ``tls_context`` says otherwise. A plain ``smtp://`` URL never upgrades on
    its own: whether mail is encrypted in transit is the operator's explicit choice.
    """

    transport: Final = "smtp"

    def __init__(
        self,
        url: str,
        *,
        sender: str,
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._target = _parse_smtp_url(url)
        self.sender = sender
        self.timeout = timeout
        self._tls_context = tls_context

    @property
    def host(self) -> str:
        return self._target.host

    @property
    def port(self) -> int:
        return self._target.port

    def __repr__(self) -> str:
        # The default dataclass-style repr would print the password into a traceback.
        return f"SmtpMailSender(host={self.host!r}, port={self.port})"

    def _describe_failure(self, error: BaseException) -> str:
        detail = str(error) or type(error).__name__
        password = self._target.password
        if password:
            # Servers do not normally echo credentials, but a log line is no place to find
            # out that one does.
            detail = detail.replace(password, "***")
        return f"mail delivery via {self.host}:{self.port} failed: {detail}"

    async def send(self, message: OutgoingMail) -> None:
        email = build_message(message, self.sender)
        target = self._target
        try:
            await aiosmtplib.send(
                email,
                hostname=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.implicit_tls,
                # aiosmtplib's default (None) upgrades only when the server offers
                # STARTTLS, which an attacker on the path can strip; say what we mean.
                start_tls=target.starttls,
                tls_context=self._tls_context,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailDeliveryError(self._describe_failure(error)) from error
        log.info(
            "mail.sent",
            transport=self.transport,
            recipient_domain=_domain_of(message.to),
            message_id=email["Message-ID"],
        )


def make_mail_sender(*, smtp_url: str | None, mail_dir: Path, sender: str) -> MailSender:
    """The SMTP sender when ``smtp_url`` is set (non-empty), else the file sender.

    An URL with another scheme than smtp:// or smtps:// raises ``ValueError`` at once, so
    a typo fails at startup instead of at the first password reset.
    """
    if smtp_url and smtp_url.strip():
        return SmtpMailSender(smtp_url.strip(), sender=sender)
    return FileMailSender(mail_dir, sender=sender)
