"""The messages log and what an administrator does with it: read what was sent to whom,
send one again, send a test, and the figures an operator watches.

* **Lists** name each message's patient (through ``patients.public``), as every list of
  the front desk does, restricted records included (``patients.service.restricted``:
  lists name the patient, the record stays closed). The list is recorded as one read of
  the patients it names.
* **One message** shows its text, which is the patient's data: the patient must be open
  to the reader (a restricted record needs its care team or a grant, as its chart does)
  and the read is audited.
* **Resend** writes a new message (a copy of purpose, patient, appointment, channel and
  address), due now, with its delivery job; the delivery's own checks still apply (a
  moved appointment's reminder is withdrawn then, not sent). A message still waiting or
  being sent is not copied, nor one whose moment is gone (a waitlist offer, "your turn").
* **A test** goes to an address the administrator types, in the wording of the
  organization's test template for that channel and language, to no patient.
* **Figures**: per organization (this session's scope), or for the whole installation
  (health and metrics) through a narrow function on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import utcnow
from clinicdesk.core.observability import BusinessFigures
from clinicdesk.core.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from clinicdesk.core.tenancy import (
    clear_scope,
    current_scope,
    scope_to_tenant,
    use_system_scope,
)
from clinicdesk.identity import public as identity
from clinicdesk.notifications.channels import Senders, SendRefused
from clinicdesk.notifications.errors import (
    ChannelCheckFailed,
    ChannelNotFound,
    MessageNotFound,
    ResendRefused,
    TemplateNotFound,
)
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.message_schemas import (
    MessageDetail,
    MessageFigures,
    MessageFilters,
    MessagePage,
    MessageRow,
    TestSend,
)
from clinicdesk.notifications.service.configuration import TemplateKey
from clinicdesk.notifications.service.contacts import Reach, address_hash
from clinicdesk.notifications.service.planning import add_message
from clinicdesk.notifications.vocabulary import LANGUAGES, Channel, MessageStatus, Purpose
from clinicdesk.patients import public as patients

# Purposes whose moment passes: sent again later they would mislead.
NOT_RESENT = frozenset({Purpose.WAITLIST_OFFER.value, Purpose.TURN_NEAR.value})
STILL_GOING = frozenset({MessageStatus.QUEUED.value, MessageStatus.SENDING.value})
FAILED = (MessageStatus.FAILED.value, MessageStatus.BOUNCED.value)


async def _zone(session: AsyncSession) -> ZoneInfo:
    return ZoneInfo((await identity.get_organization(session)).time_zone)


def _day_start(day: Any, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


async def _filtered(session: AsyncSession, filters: MessageFilters) -> Select[Any]:
    query = select(Message)
    if filters.status is not None:
        query = query.where(Message.status == filters.status.value)
    if filters.channel is not None:
        query = query.where(Message.channel == filters.channel.value)
    if filters.purpose is not None:
        query = query.where(Message.purpose == filters.purpose.value)
    if filters.patient_id is not None:
        query = query.where(Message.patient_id == filters.patient_id)
    if filters.date_from is not None or filters.date_to is not None:
        zone = await _zone(session)
        if filters.date_from is not None:
            query = query.where(Message.created_at >= _day_start(filters.date_from, zone))
        if filters.date_to is not None:
            end = _day_start(filters.date_to + timedelta(days=1), zone)
            query = query.where(Message.created_at < end)
    return query


def _name(patient: patients.Patient | None) -> str | None:
    return patient.display_name if patient is not None else None


async def list_messages(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: MessageFilters,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MessagePage:
    """Newest first, ``limit`` a page; each row names its patient (a read of the list)."""
    offset = decode_cursor(cursor)
    query = await _filtered(session, filters)
    rows = list(
        await session.scalars(
            query.order_by(Message.created_at.desc(), Message.id.desc())
            .offset(offset)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {m.patient_id for m in rows if m.patient_id is not None}
    found = await patients.patients_by_id(session, ids)
    await audit.record_list_read(session, actor=actor, patient_ids=sorted(ids), view="messages")
    items = [
        MessageRow.model_validate(m).model_copy(
            update={"patient_name": _name(found.get(m.patient_id) if m.patient_id else None)}
        )
        for m in rows
    ]
    return MessagePage(items=items, next_cursor=encode_cursor(offset + limit) if more else None)


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Message:
    message = await session.get(Message, message_id)
    if message is None:
        raise MessageNotFound("No message with this id.")
    return message


async def read_message(
    session: AsyncSession, *, actor: Actor, message_id: uuid.UUID
) -> MessageDetail:
    """The message with its text, for ``actor`` to read (audited as a read of its
    patient; a restricted record is refused as its chart would be)."""
    message = await get_message(session, message_id)
    patient = None
    if message.patient_id is not None:
        patient = await patients.get_patient(
            session, message.patient_id, actor=actor, follow_merge=False
        )
        await audit.record_read(
            session,
            actor=actor,
            patient_id=message.patient_id,
            view="message",
            resource_type="message",
            resource_id=message.id,
        )
    return MessageDetail.model_validate(
        {
            **MessageRow.model_validate(message).model_dump(),
            "patient_name": _name(patient),
            "address": message.address,
            "subject": message.subject,
            "body": message.body,
            "lead_minutes": message.lead_minutes,
            "planned_for": message.planned_for,
            "sending_at": message.sending_at,
            "updated_at": message.updated_at,
        }
    )


def why_not_resend(message: Message) -> str | None:
    """Why this message cannot be sent again (None: it can)."""
    if message.status in STILL_GOING:
        return "It has not gone yet: it is still waiting or being sent."
    if message.purpose in NOT_RESENT:
        return "Its moment has passed: an offer or a call to come back is not sent twice."
    if message.channel not in {c.value for c in Channel} or not message.address:
        return "It had no address. Add the patient's phone or e-mail; the next message uses it."
    return None


async def resend(session: AsyncSession, *, actor: Actor, message_id: uuid.UUID) -> Message:
    """A new message copying ``message_id``'s purpose, patient, appointment, channel and
    address, due now (``ResendRefused`` says why not)."""
    original = await get_message(session, message_id)
    if original.patient_id is not None:
        # The same door as reading it: a closed record's messages stay closed.
        await patients.get_patient(session, original.patient_id, actor=actor, follow_merge=False)
    refusal = why_not_resend(original)
    if refusal is not None:
        raise ResendRefused(refusal)
    copy = await add_message(
        session,
        purpose=Purpose(original.purpose),
        to=Reach(
            channel=Channel(original.channel),
            address=original.address,
            language=original.language,
        ),
        due_at=utcnow(),
        patient_id=original.patient_id,
        appointment_id=original.appointment_id,
        waitlist_entry_id=original.waitlist_entry_id,
        lead_minutes=original.lead_minutes,
        planned_for=original.planned_for,
        created_by_id=actor.user_id,
    )
    await audit.record(
        session,
        action="notifications.message_resent",
        actor=actor,
        resource_type="message",
        resource_id=copy.id,
        patient_id=original.patient_id,
        details={"copy_of": str(original.id)},
    )
    return copy


async def normalized_address(session: AsyncSession, channel: Channel, to: str) -> str:
    """The address as messages store it (E.164 numbers, lower-case e-mail), or
    ``InvalidField`` saying how to write it."""
    if channel == Channel.EMAIL:
        try:
            return validate_email(to.strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError as error:
            raise InvalidField("to", f"This is not an e-mail address: {error}") from None
    country = (await identity.get_organization(session)).country
    try:
        number = phonenumbers.parse(to.strip(), country or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidField(
            "to",
            "This is not a phone number: write it with its country code, e.g. +1 617 555 0100.",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def send_test(session: AsyncSession, *, actor: Actor, data: TestSend) -> Message:
    """A test message to ``data.to`` in the organization's test wording (no patient)."""
    if data.language not in LANGUAGES:
        raise InvalidField("language", f"Choose one of: {', '.join(LANGUAGES)}.")
    address = await normalized_address(session, data.channel, data.to)
    message = await add_message(
        session,
        purpose=Purpose.TEST,
        to=Reach(channel=data.channel, address=address, language=data.language),
        due_at=utcnow(),
        patient_id=None,
        created_by_id=actor.user_id,
    )
    await audit.record(
        session,
        action="notifications.test_sent",
        actor=actor,
        resource_type="message",
        resource_id=message.id,
        details={"channel": data.channel.value, "address_hash": address_hash(address)},
    )
    return message


def _figures(queued: Any, failed: Any, oldest: Any, now: datetime) -> MessageFigures:
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = round(max((now - oldest).total_seconds(), 0.0), 3) if oldest is not None else None
    return MessageFigures(
        queued=int(queued or 0), failed_24h=int(failed or 0), oldest_due_queued_seconds=age
    )


async def figures(session: AsyncSession) -> MessageFigures:
    """The figures of the session's scope (the organization's, or every one in the
    system scope on SQLite)."""
    now = utcnow()
    queued = await session.scalar(
        select(func.count()).select_from(Message).where(Message.status == "queued")
    )
    failed = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.status.in_(FAILED), Message.failed_at >= now - timedelta(hours=24))
    )
    oldest = await session.scalar(
        select(func.min(Message.due_at)).where(Message.status == "queued", Message.due_at <= now)
    )
    return _figures(queued, failed, oldest, now)


async def installation_figures(session: AsyncSession) -> MessageFigures:
    """The figures across every organization: on PostgreSQL through
    ``clinicdesk_message_figures`` (counts and a time, never a row); on SQLite in the
    system scope, which the session is put back from."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        row = (
            await session.execute(
                text("SELECT * FROM clinicdesk_message_figures(:now)"), {"now": now}
            )
        ).one()
        return _figures(row[0], row[1], row[2], now)
    before = current_scope(session)
    await use_system_scope(session)
    try:
        return await figures(session)
    finally:
        if before.organization_id is not None:
            await scope_to_tenant(session, before.organization_id)
        elif not before.system:
            await clear_scope(session)


async def _installation_values(session: AsyncSession) -> dict[str, float | None]:
    found = await installation_figures(session)
    return {
        "queued": found.queued,
        "failed_24h": found.failed_24h,
        "oldest_due_queued_seconds": found.oldest_due_queued_seconds,
    }


# What /health/ready and /metrics show of patient messaging (registered by the app).
FIGURES = BusinessFigures(
    name="notifications",
    read=_installation_values,
    help={
        "queued": "Patient messages waiting to be sent (due or not).",
        "failed_24h": "Patient messages that failed or bounced in the last 24 hours.",
        "oldest_due_queued_seconds": "How long the oldest due, unsent message has waited.",
    },
)


def template_key(purpose: str, channel: str, language: str) -> TemplateKey:
    """The template named by an address's three parts; ``TemplateNotFound`` otherwise."""
    try:
        key = TemplateKey(Purpose(purpose), Channel(channel), language)
    except ValueError:
        raise TemplateNotFound(
            "No such template: the purpose, channel or language is not one ClinicDesk has."
        ) from None
    if language not in LANGUAGES:
        raise TemplateNotFound(f"No template in {language!r}: use one of {', '.join(LANGUAGES)}.")
    return key


async def check_channel(senders: Senders, channel: Channel) -> str:
    """Test the channel's connection: the sender's sentence, or ``ChannelCheckFailed``
    with the provider's words (never an unexpected error for a refused connection)."""
    try:
        return await senders.for_channel(channel).check()
    except SendRefused as error:
        raise ChannelCheckFailed(str(error)) from None
    except OSError as error:
        raise ChannelCheckFailed(f"The channel cannot be reached: {error}") from None


def channel_named(name: str) -> Channel:
    """The channel an address names; ``NotFound`` for one ClinicDesk does not have."""
    try:
        return Channel(name)
    except ValueError:
        raise ChannelNotFound(
            f"No channel {name!r}: use one of {', '.join(c.value for c in Channel)}."
        ) from None
