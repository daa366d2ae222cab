"""Outgoing mail: the .eml file sender, a real SMTP server (aiosmtpd), and the factory."""

from __future__ import annotations

import logging
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from clinicdesk.core.mail import (
    FileMailSender,
    MailDeliveryError,
    OutgoingMail,
    SmtpMailSender,
    build_message,
    make_mail_sender,
)

SENDER = "ClinicDesk <noreply@clinic.example>"
RESET = OutgoingMail(
    to="Ana Pérez <ana@patients.example>",
    subject="Reset your ClinicDesk password",
    text="Open this link to choose a new password: https://clinic.example/reset/abc\n",
)
USER = "mailer@clinic.example"
# Characters that must be percent-encoded in an URL, to prove they are decoded.
PASSWORD = "s3cret:p@ss/word%"
PASSWORD_IN_URL = "s3cret%3Ap%40ss%2Fword%25"
USER_IN_URL = "mailer%40clinic.example"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def parse(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def mail_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    # structlog hands the stdlib its event dict as the record's message.
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "mail.sent"
    ]


# --- building a message ---------------------------------------------------------------


def test_message_has_headers_and_a_plain_text_body() -> None:
    message = build_message(RESET, SENDER)
    assert message["From"] == SENDER
    assert message["To"] == RESET.to
    assert message["Subject"] == RESET.subject
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message["Message-ID"].endswith("@clinic.example>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == RESET.text


def test_message_ids_are_unique() -> None:
    assert build_message(RESET, SENDER)["Message-ID"] != build_message(RESET, SENDER)["Message-ID"]


def test_a_message_key_makes_the_same_message_id_each_time() -> None:
    """A job sending its message again after a retry: mail clients see one message."""
    keyed = OutgoingMail(to=RESET.to, subject=RESET.subject, text=RESET.text, message_key="01a2-f")
    first, again = build_message(keyed, SENDER), build_message(keyed, SENDER)
    assert first["Message-ID"] == again["Message-ID"] == "<01a2-f@clinic.example>"


@pytest.mark.parametrize("key", ["", "a b", "a>b", "a@b", "-a", "x" * 129, "a\r\nBcc: x@y.org"])
def test_a_message_key_that_would_not_make_a_message_id_is_refused(key: str) -> None:
    keyed = OutgoingMail(to=RESET.to, subject=RESET.subject, text=RESET.text, message_key=key)
    with pytest.raises(ValueError, match="message key"):
        build_message(keyed, SENDER)


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("ana@patients.example\r\nBcc: everyone@evil.example", "Reset"),
        ("ana@patients.example\n", "Reset"),
        ("ana@patients.example", "Reset\r\nBcc: everyone@evil.example"),
        ("ana@patients.example", "Reset\rX-Injected: 1"),
        ("ana@patients.example", "Reset\nyour password"),
    ],
)
def test_header_injection_is_refused(to: str, subject: str) -> None:
    with pytest.raises(ValueError, match="line breaks"):
        build_message(OutgoingMail(to=to, subject=subject, text="body"), SENDER)


@pytest.mark.parametrize("to", ["ana@patients.example, bob@patients.example", "ana", ""])
def test_recipient_must_be_one_address(to: str) -> None:
    with pytest.raises(ValueError, match="exactly one email address"):
        build_message(OutgoingMail(to=to, subject="Hello", text="body"), SENDER)


def test_sender_needs_a_domain() -> None:
    with pytest.raises(ValueError, match="domain"):
        build_message(RESET, "noreply")


# --- the file sender ------------------------------------------------------------------


async def test_file_sender_writes_a_private_parseable_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "mail" / "outbox"
    sender = FileMailSender(directory, sender=SENDER)
    assert sender.list_messages() == []

    with caplog.at_level(logging.INFO, logger="clinicdesk.core.mail"):
        await sender.send(RESET)

    [path] = sender.list_messages()
    assert mode(directory) == 0o700
    assert mode(path) == 0o600
    assert not list(directory.glob(".*"))  # no partial file left behind
    message = parse(path)
    assert message["From"] == SENDER
    assert message["To"] == RESET.to
    assert message["Subject"] == RESET.subject
    assert message["Message-ID"].endswith("@clinic.example>")
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert not message.is_multipart()
    assert message.get_content() == RESET.text

    # The log names the transport and the recipient's domain: no address, subject or body.
    [event] = mail_events(caplog)
    assert event["transport"] == "file"
    assert event["recipient_domain"] == "patients.example"
    assert event["message_id"] == message["Message-ID"]
    logged = repr(event)
    for secret in ("ana@", "Ana", "Reset your", "reset/abc"):
        assert secret not in logged


async def test_file_sender_adds_the_html_alternative(tmp_path: Path) -> None:
    sender = FileMailSender(tmp_path, sender=SENDER)
    html = '<p>Open <a href="https://clinic.example/reset/abc">this link</a>.</p>'
    await sender.send(OutgoingMail(to="ana@patients.example", subject="Hi", text="Hi", html=html))

    message = parse(sender.list_messages()[0])
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    assert text_part.get_content().strip() == "Hi"
    assert html_part.get_content().strip() == html


async def test_file_sender_tightens_an_existing_open_directory(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    await FileMailSender(directory, sender=SENDER).send(RESET)
    assert mode(directory) == 0o700


async def test_file_names_sort_in_sending_order(tmp_path: Path) -> None:
    sender = FileMailSender(tmp_path, sender=SENDER)
    subjects = [f"Message {n}" for n in range(12)]
    for subject in subjects:
        await sender.send(OutgoingMail(to="ana@patients.example", subject=subject, text="."))

    paths = sender.list_messages()
    assert [parse(path)["Subject"] for path in paths] == subjects
    names = [path.name for path in paths]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        stamp, _, rest = name.partition("-")
        assert len(stamp) == len("20260101T120000.000000Z") and stamp.endswith("Z")
        assert len(rest) == len("0123456789abcdef.eml")


async def test_file_sender_refuses_injection_without_writing(tmp_path: Path) -> None:
    sender = FileMailSender(tmp_path / "outbox", sender=SENDER)
    with pytest.raises(ValueError, match="line breaks"):
        await sender.send(OutgoingMail(to="ana@patients.example", subject="a\r\nb", text="."))
    assert sender.list_messages() == []


# --- a real SMTP server -----------------------------------------------------------------


@dataclass
class Inbox:
    """Collects what the test SMTP server accepted and who logged in."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    # aiosmtpd looks the hook up by this exact name.
    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if data.login.decode() == USER and data.password.decode() == PASSWORD:
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int

    def url(self, userinfo: str = "") -> str:
        at = "@" if userinfo else ""
        return f"smtp://{userinfo}{at}127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_smtp_server(inbox: Inbox, **options: Any) -> tuple[SmtpServer, Callable[[], None]]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return SmtpServer(inbox=inbox, port=port), controller.stop


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A server on 127.0.0.1 that accepts every message, without AUTH or STARTTLS."""
    server, stop = start_smtp_server(Inbox())
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def smtp_server_with_auth() -> Iterator[SmtpServer]:
    """A server offering AUTH (PLAIN, LOGIN) over plain text, which is fine on loopback."""
    inbox = Inbox()
    server, stop = start_smtp_server(
        inbox, authenticator=inbox.authenticate, auth_require_tls=False
    )
    try:
        yield server
    finally:
        stop()


async def test_smtp_sender_delivers_to_a_real_server(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    sender = SmtpMailSender(smtp_server.url(), sender=SENDER)
    mail = OutgoingMail(to=RESET.to, subject=RESET.subject, text=RESET.text, html="<p>Hi</p>")

    with caplog.at_level(logging.INFO, logger="clinicdesk.core.mail"):
        await sender.send(mail)

    [envelope] = smtp_server.inbox.envelopes
    assert envelope.mail_from == "noreply@clinic.example"
    assert envelope.rcpt_tos == ["ana@patients.example"]
    assert isinstance(envelope.content, bytes)
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == RESET.subject
    assert message.get_content_type() == "multipart/alternative"
    [event] = mail_events(caplog)
    assert event["transport"] == "smtp"
    assert event["recipient_domain"] == "patients.example"
    assert "ana@" not in repr(event)


async def test_smtp_sender_logs_in_with_url_decoded_credentials(
    smtp_server_with_auth: SmtpServer,
) -> None:
    url = smtp_server_with_auth.url(f"{USER_IN_URL}:{PASSWORD_IN_URL}")
    await SmtpMailSender(url, sender=SENDER).send(RESET)

    assert smtp_server_with_auth.inbox.logins == [USER]
    assert len(smtp_server_with_auth.inbox.envelopes) == 1


async def test_refused_login_raises_without_the_password(
    smtp_server_with_auth: SmtpServer,
) -> None:
    wrong = "wr0ng:pa%24%24"  # decodes to "wr0ng:pa$$"
    url = smtp_server_with_auth.url(f"{USER_IN_URL}:{wrong}")
    sender = SmtpMailSender(url, sender=SENDER)

    with pytest.raises(MailDeliveryError) as caught:
        await sender.send(RESET)

    text = str(caught.value)
    assert f"127.0.0.1:{smtp_server_with_auth.port}" in text
    for secret in ("wr0ng", "pa$$", wrong):
        assert secret not in text
        assert secret not in repr(sender)
    assert smtp_server_with_auth.inbox.envelopes == []


async def test_unreachable_server_raises_delivery_error() -> None:
    port = free_port()  # nothing listens here any more
    sender = SmtpMailSender(
        f"smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{port}", sender=SENDER
    )
    with pytest.raises(MailDeliveryError, match=rf"127\.0\.0\.1:{port}") as caught:
        await sender.send(RESET)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD_IN_URL not in str(caught.value)


async def test_starttls_is_not_silently_skipped(smtp_server: SmtpServer) -> None:
    # The test server does not offer STARTTLS: asking for it must fail, not send in clear.
    sender = SmtpMailSender(f"{smtp_server.url()}?starttls=true", sender=SENDER)
    with pytest.raises(MailDeliveryError, match=r"127\.0\.0\.1"):
        await sender.send(RESET)
    assert smtp_server.inbox.envelopes == []


# --- URLs and the factory -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("smtp://mail.example", "mail.example", 25),
        ("smtp://mail.example?starttls=true", "mail.example", 587),
        ("smtp://mail.example?starttls=false", "mail.example", 25),
        ("smtps://mail.example", "mail.example", 465),
        ("SMTPS://u:p@Mail.Example:2465", "mail.example", 2465),
        ("smtp://u:p@mail.example:2525?starttls=true", "mail.example", 2525),
    ],
)
def test_smtp_url_default_ports(url: str, host: str, port: int) -> None:
    sender = SmtpMailSender(url, sender=SENDER)
    assert (sender.host, sender.port) == (host, port)
    assert sender.timeout == 10.0


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://mail.example", "use smtp:// or smtps://"),
        ("mail.example:25", "use smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://mail.example:notaport", "invalid port"),
        ("smtp://mail.example?starttls=maybe", "true or false"),
        ("smtp://mail.example?tls=true", "unknown SMTP URL option"),
        ("smtps://mail.example?starttls=true", "smtp:// only"),
    ],
)
def test_bad_smtp_urls_are_refused(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SmtpMailSender(url, sender=SENDER)


def test_bad_url_error_does_not_repeat_the_password() -> None:
    with pytest.raises(ValueError, match="use smtp:// or smtps://") as caught:
        make_mail_sender(
            smtp_url=f"http://u:{PASSWORD}@mail.example", mail_dir=Path(), sender=SENDER
        )
    assert PASSWORD not in str(caught.value)


def test_factory_picks_the_transport(tmp_path: Path) -> None:
    file_sender = make_mail_sender(smtp_url=None, mail_dir=tmp_path, sender=SENDER)
    assert isinstance(file_sender, FileMailSender)
    assert file_sender.directory == tmp_path
    assert isinstance(
        make_mail_sender(smtp_url="", mail_dir=tmp_path, sender=SENDER), FileMailSender
    )

    smtp_sender = make_mail_sender(
        smtp_url="smtps://u:p@mail.example", mail_dir=tmp_path, sender=SENDER
    )
    assert isinstance(smtp_sender, SmtpMailSender)
    assert (smtp_sender.host, smtp_sender.port) == ("mail.example", 465)
    assert not list(tmp_path.iterdir())  # choosing SMTP touches no files

    with pytest.raises(ValueError, match="use smtp:// or smtps://"):
        make_mail_sender(smtp_url="http://mail.example", mail_dir=tmp_path, sender=SENDER)
