"""How a message leaves: one sender per channel, chosen from the settings.

* E-mail goes through the application's ``MailSender`` (SMTP, or ``.eml`` files in the
  data directory when no SMTP server is set).
* SMS and WhatsApp go through Twilio's REST API when ``text_provider`` is "twilio";
  otherwise into the **file sink**: ``<data_dir>/messages/<channel>/<message id>.txt``
  (owner-only), so a fresh install and the demo show what would have been sent.

Delivery is at least once by nature (a process can stop after the provider took a
message and before that was recorded). ``find_sent`` is how a sender that was
interrupted learns whether the provider already has the message: the file sink looks for
its file, Twilio is asked for a message to that number with that text since the attempt
began. E-mail cannot be asked; its retry may send a second copy, which carries the same
Message-ID (made of the message's id) so mail clients show one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import structlog

from clinicdesk.config import Settings
from clinicdesk.core.keys import ensure_private_dir
from clinicdesk.core.mail import MailDeliveryError, MailSender, OutgoingMail
from clinicdesk.notifications.twilio import ProviderRefused, TwilioClient, TwilioSettings
from clinicdesk.notifications.vocabulary import Channel

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: uuid.UUID
    channel: Channel
    to: str
    subject: str | None
    body: str
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    provider: str
    provider_id: str


class SendRefused(Exception):
    """The channel did not take the message. ``permanent``: trying again cannot help (a
    wrong number, an opted-out recipient); otherwise it is tried again later."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        maybe_accepted: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        # No answer came (a timeout after the request went out): the provider may have
        # the message, so the next attempt asks before sending again.
        self.maybe_accepted = maybe_accepted


class ChannelSender(Protocol):
    provider: str

    async def send(self, outgoing: Outgoing) -> Accepted: ...

    async def find_sent(self, outgoing: Outgoing, since: datetime) -> str | None: ...

    async def check(self) -> str:
        """Test the connection; a sentence saying what works, or ``SendRefused``."""
        ...


class FileSink:
    """Text messages written to files instead of sent (the default, and the demo's)."""

    provider = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, outgoing: Outgoing) -> Path:
        return self.directory / outgoing.channel.value / f"{outgoing.message_id}.txt"

    def _write(self, outgoing: Outgoing) -> None:
        target = self._path(outgoing)
        ensure_private_dir(self.directory)
        ensure_private_dir(target.parent)
        if target.exists():
            return  # written before an interruption: the same message, not a second one
        partial = target.with_name(f".{target.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(f"To: {outgoing.to}\nChannel: {outgoing.channel.value}\n\n{outgoing.body}\n")
        os.replace(partial, target)

    async def send(self, outgoing: Outgoing) -> Accepted:
        await asyncio.to_thread(self._write, outgoing)
        return Accepted(provider=self.provider, provider_id=str(outgoing.message_id))

    async def find_sent(self, outgoing: Outgoing, since: datetime) -> str | None:
        exists = await asyncio.to_thread(self._path(outgoing).exists)
        return str(outgoing.message_id) if exists else None

    async def check(self) -> str:
        await asyncio.to_thread(ensure_private_dir, self.directory)
        return f"Text messages are written to files in {self.directory} (no provider is set)."


class EmailSender:
    """E-mail through the application's mail sender."""

    provider = "email"

    def __init__(self, mailer: MailSender) -> None:
        self.mailer = mailer

    async def send(self, outgoing: Outgoing) -> Accepted:
        try:
            await self.mailer.send(
                OutgoingMail(
                    to=outgoing.to,
                    subject=outgoing.subject or "",
                    text=outgoing.body,
                    message_key=str(outgoing.message_id),
                )
            )
        except ValueError as error:
            raise SendRefused(f"The e-mail address was refused: {error}", permanent=True) from None
        except (MailDeliveryError, OSError) as error:
            raise SendRefused(
                f"The mail server did not take it: {error}", permanent=False
            ) from None
        return Accepted(provider=self.provider, provider_id=str(outgoing.message_id))

    async def find_sent(self, outgoing: Outgoing, since: datetime) -> str | None:
        return None  # a mail server cannot be asked what it already took

    async def check(self) -> str:
        return f"E-mail goes through {type(self.mailer).__name__}."


class TwilioSender:
    """SMS and WhatsApp through Twilio's REST API.

    Each call opens its own HTTP client and closes it: a clinic sends a few hundred
    messages a day, and no connection is left open by a process that never closes its
    senders (the app, a worker, a test)."""

    provider = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings

    @staticmethod
    def _channel(outgoing: Outgoing) -> Literal["sms", "whatsapp"]:
        return "whatsapp" if outgoing.channel == Channel.WHATSAPP else "sms"

    async def send(self, outgoing: Outgoing) -> Accepted:
        client = TwilioClient(self.settings)
        try:
            receipt = await client.send(
                channel=self._channel(outgoing),
                to=outgoing.to,
                body=outgoing.body,
                status_callback=outgoing.status_callback,
            )
        except ProviderRefused as error:
            raise SendRefused(
                str(error),
                permanent=error.permanent,
                code=error.code,
                maybe_accepted=error.maybe_accepted,
            ) from None
        finally:
            await client.aclose()
        return Accepted(provider=self.provider, provider_id=receipt.provider_id)

    async def find_sent(self, outgoing: Outgoing, since: datetime) -> str | None:
        client = TwilioClient(self.settings)
        try:
            return await client.find_sent(
                channel=self._channel(outgoing), to=outgoing.to, body=outgoing.body, since=since
            )
        except ProviderRefused as error:
            raise SendRefused(str(error), permanent=False, code=error.code) from None
        finally:
            await client.aclose()

    async def check(self) -> str:
        client = TwilioClient(self.settings)
        try:
            await client.check_connection()
        except ProviderRefused as error:
            raise SendRefused(str(error), permanent=error.permanent, code=error.code) from None
        finally:
            await client.aclose()
        return "Twilio answered: the account and its credentials work."


@dataclass(frozen=True, slots=True)
class Senders:
    """The sender of each channel, built once per process (``senders_from_settings``)."""

    email: ChannelSender
    text: ChannelSender
    webhook_base: str
    """Where providers call back (the server's public address)."""
    text_auth_token: str | None = None
    """Twilio's auth token: what its webhook signatures are checked with."""

    def for_channel(self, channel: Channel) -> ChannelSender:
        return self.email if channel == Channel.EMAIL else self.text


def senders_from_settings(settings: Settings, mailer: MailSender) -> Senders:
    """The senders a process uses: e-mail through ``mailer``; texts through Twilio when
    it is configured, else into files under the data directory."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    text: ChannelSender
    if settings.text_provider == "twilio" and settings.twilio_account_sid and token:
        text = TwilioSender(
            TwilioSettings(
                account_sid=settings.twilio_account_sid,
                auth_token=token,
                sms_from=settings.text_from or "",
                whatsapp_from=settings.whatsapp_from,
                base_url=settings.twilio_api_url,
            )
        )
    else:
        text = FileSink(settings.data_dir / "messages")
        token = None
    return Senders(
        email=EmailSender(mailer),
        text=text,
        webhook_base=settings.base_url,
        text_auth_token=token,
    )
