"""What comes back: delivery receipts, patients' replies, and the e-mail reply links.

* A **delivery receipt** moves a message forward only (sent -> delivered, or failed /
  bounced); a late "sent" after "delivered" changes nothing. A failure tells the desk.
* A **reply** belongs to the organization that last messaged that address (the keyed
  hash of the number; a cross-organization look-up that names only the organization)
  and is kept once per provider message id, so a retried webhook does nothing twice.
  Its first word decides (``kernel.replies``): STOP / START change the opt-out of that
  channel; ``C`` confirms the appointment of the latest message that asked (or takes a
  waitlist offer), ``X`` cancels it — the freed time is offered to the waitlist at once
  — and ``R`` asks the desk to call. Each is audited as the patient's own act. Anything
  else goes to the front desk's inbox.
* A **reply link** (in an e-mail) confirms or cancels without signing in: it is single
  use, expires when the appointment starts, and a GET never acts (mail scanners open
  links); the page asks, and the POST does it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_by_lookup, scope_to_tenant, use_system_scope
from clinicdesk.core.tokens import hash_token
from clinicdesk.notifications.errors import ReplyLinkInvalid
from clinicdesk.notifications.kernel.replies import Intent, intent_of
from clinicdesk.notifications.message_models import InboundMessage, Message, ReplyLink
from clinicdesk.notifications.service.contacts import set_opt_out
from clinicdesk.notifications.service.delivery import set_status
from clinicdesk.notifications.service.desk_alerts import tell_desk_of_failure, tell_desk_of_reply
from clinicdesk.notifications.vocabulary import (
    ANSWERABLE,
    Channel,
    MessageStatus,
    Purpose,
    ReplyAction,
)
from clinicdesk.scheduling import public as scheduling

# A receipt may only move a message forward.
_RANK = {
    MessageStatus.SENDING.value: 0,
    MessageStatus.SENT.value: 1,
    MessageStatus.DELIVERED.value: 2,
    MessageStatus.FAILED.value: 2,
    MessageStatus.BOUNCED.value: 2,
}
CANCEL_REASON = "The patient cancelled by replying to a reminder."


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    provider_id: str
    status: str | None
    error_code: str | None = None


async def apply_receipt(session: AsyncSession, receipt: Receipt) -> Message | None:
    """Record a provider's delivery receipt; the message (None if unknown or no change)."""
    if receipt.status is None:
        return None
    found = await scope_by_lookup(session, Message.provider_id, receipt.provider_id)
    if found is None:
        return None
    message = await session.scalar(
        select(Message).where(
            Message.provider == receipt.provider, Message.provider_id == receipt.provider_id
        )
    )
    if message is None or message.status not in _RANK:
        return None
    if _RANK[receipt.status] <= _RANK[message.status]:
        return None
    if receipt.error_code:
        message.last_error = f"Provider error {receipt.error_code}"
    reason = None
    if receipt.status in (MessageStatus.FAILED.value, MessageStatus.BOUNCED.value):
        reason = "The provider could not deliver it."
    set_status(session, message, MessageStatus(receipt.status), reason)
    if reason is not None:
        await tell_desk_of_failure(session, message)
    return message


async def organization_of_address(session: AsyncSession, hashes: list[str]) -> uuid.UUID | None:
    """The organization that last sent a message to this address (its hash)."""
    for candidate in hashes:
        if session.get_bind().dialect.name == "postgresql":
            found = await session.scalar(
                text("SELECT clinicdesk_last_sender_of(:hash)"), {"hash": candidate}
            )
        else:
            await use_system_scope(session)
            found = await session.scalar(
                select(Message.organization_id)
                .where(Message.address_hash == candidate, Message.sent_at.is_not(None))
                .order_by(Message.sent_at.desc())
                .limit(1)
            )
        if found is not None:
            return found if isinstance(found, uuid.UUID) else uuid.UUID(str(found))
    return None


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    action: ReplyAction
    inbound: InboundMessage | None
    detail: str


def patient_actor(organization_id: uuid.UUID, patient_id: uuid.UUID) -> Actor:
    """The patient acting through a reply: audited as their own act."""
    return Actor(kind=ActorKind.PATIENT, organization_id=organization_id, patient_id=patient_id)


async def _last_message(session: AsyncSession, hashes: list[str]) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.address_hash.in_(hashes), Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc())
        .limit(1)
    )


async def _last_answerable(session: AsyncSession, hashes: list[str]) -> Message | None:
    """The latest message that asked for an answer, about something still ahead."""
    rows = await session.scalars(
        select(Message)
        .where(
            Message.address_hash.in_(hashes),
            Message.sent_at.is_not(None),
            Message.purpose.in_([*(p.value for p in ANSWERABLE), Purpose.WAITLIST_OFFER.value]),
        )
        .order_by(Message.sent_at.desc())
        .limit(5)
    )
    now = utcnow()
    for message in rows:
        if message.planned_for is not None and message.planned_for > now:
            return message
    return None


async def _act(
    session: AsyncSession, actor: Actor, intent: Intent, hashes: list[str], channel: Channel
) -> tuple[ReplyAction, str, Message | None]:
    if intent in (Intent.STOP, Intent.START):
        stop = intent == Intent.STOP
        assert actor.patient_id is not None  # noqa: S101 - a reply is always the patient's
        await set_opt_out(
            session,
            actor=actor,
            patient_id=actor.patient_id,
            channel=channel,
            opted_out=stop,
            source="reply",
        )
        return (ReplyAction.OPTED_OUT if stop else ReplyAction.OPTED_IN), intent.value, None
    if intent == Intent.CALL_BACK:
        return ReplyAction.CALL_BACK, "The patient asks for a call back.", None
    if intent not in (Intent.CONFIRM, Intent.CANCEL):
        return ReplyAction.TO_INBOX, "An answer the system does not understand.", None
    asked = await _last_answerable(session, hashes)
    if asked is None:
        return ReplyAction.TO_INBOX, "Nothing ahead to confirm or cancel.", None
    try:
        if asked.waitlist_entry_id is not None:
            if intent == Intent.CANCEL:
                return ReplyAction.TO_INBOX, "The patient declined the offered time.", asked
            accepted = await scheduling.accept_offer(
                session, actor=actor, entry_id=asked.waitlist_entry_id
            )
            if isinstance(accepted.outcome, ClinicError):
                return ReplyAction.TO_INBOX, f"Taking the offer failed: {accepted.outcome}", asked
            return ReplyAction.CONFIRMED, "The patient took the offered time.", asked
        assert asked.appointment_id is not None  # noqa: S101 - an answerable message
        if intent == Intent.CONFIRM:
            await scheduling.record_patient_confirmation(
                session, actor=actor, appointment_id=asked.appointment_id
            )
            return ReplyAction.CONFIRMED, "The patient confirmed.", asked
        await scheduling.cancel(
            session,
            actor=actor,
            appointment_id=asked.appointment_id,
            reason=CANCEL_REASON,
            expected_version=None,
        )
        return ReplyAction.CANCELLED, "The patient cancelled.", asked
    except ClinicError as error:
        return ReplyAction.TO_INBOX, f"The reply could not be applied: {error.detail}", asked


async def receive_reply(
    session: AsyncSession,
    *,
    provider: str,
    provider_id: str,
    channel: Channel,
    from_address: str,
    body: str,
) -> ReplyOutcome:
    """Apply a patient's text reply (see the module rules), once per provider id."""
    hashes = field_keyring().lookup_hashes(from_address.strip())
    organization_id = await organization_of_address(session, hashes)
    if organization_id is None:
        return ReplyOutcome(ReplyAction.NOTHING, None, "No message was sent to this number.")
    await scope_to_tenant(session, organization_id)
    seen = await session.scalar(
        select(InboundMessage).where(
            InboundMessage.provider == provider, InboundMessage.provider_id == provider_id
        )
    )
    if seen is not None:
        return ReplyOutcome(ReplyAction(seen.action), seen, "Already received.")
    last = await _last_message(session, hashes)
    patient_id = last.patient_id if last is not None else None
    if patient_id is None:
        return ReplyOutcome(ReplyAction.NOTHING, None, "The number belongs to no patient.")
    inbound = InboundMessage(
        patient_id=patient_id,
        message_id=last.id if last is not None else None,
        channel=channel.value,
        provider=provider,
        provider_id=provider_id,
        address_hash=hashes[0],
        body=body[:1600],
        action=ReplyAction.NOTHING.value,
        received_at=utcnow(),
    )
    session.add(inbound)
    try:
        # Kept first: the same webhook delivered twice at once waits here for the first
        # one's commit and then stops, so a reply never acts twice.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        return ReplyOutcome(ReplyAction.NOTHING, None, "Already received.")
    actor = patient_actor(organization_id, patient_id)
    action, detail, about = await _act(session, actor, intent_of(body), hashes, channel)
    inbound.action = action.value
    if about is not None:
        inbound.message_id = about.id
    await session.flush()
    await tell_desk_of_reply(session, patient_id=patient_id, action=action, body=body)
    return ReplyOutcome(action, inbound, detail)


@dataclass(frozen=True, slots=True)
class LinkView:
    link: ReplyLink
    appointment: scheduling.Appointment


async def open_reply_link(session: AsyncSession, secret: str) -> LinkView:
    """The link and its appointment, or ``ReplyLinkInvalid`` (used, expired, unknown)."""
    digest = hash_token(secret)
    if await scope_by_lookup(session, ReplyLink.secret_hash, digest) is None:
        raise ReplyLinkInvalid("This link is not valid. Call the clinic to change your visit.")
    link = await session.scalar(select(ReplyLink).where(ReplyLink.secret_hash == digest))
    if link is None:
        raise ReplyLinkInvalid("This link is not valid. Call the clinic to change your visit.")
    if link.used_at is not None:
        raise ReplyLinkInvalid("This link was already used. Call the clinic to change your visit.")
    if link.expires_at <= utcnow():
        raise ReplyLinkInvalid("This link has expired. Call the clinic to change your visit.")
    appointment = await scheduling.get_appointment(session, link.appointment_id)
    return LinkView(link=link, appointment=appointment)


async def use_reply_link(session: AsyncSession, secret: str, *, answer: str) -> LinkView:
    """Confirm or cancel through an e-mail's link (single use; the patient's own act)."""
    view = await open_reply_link(session, secret)
    message = await session.get(Message, view.link.message_id)
    if message is None or message.patient_id is None:
        raise ReplyLinkInvalid("This link is not valid. Call the clinic to change your visit.")
    actor = patient_actor(view.link.organization_id, message.patient_id)
    if answer == "confirm":
        await scheduling.record_patient_confirmation(
            session, actor=actor, appointment_id=view.appointment.id
        )
    else:
        await scheduling.cancel(
            session,
            actor=actor,
            appointment_id=view.appointment.id,
            reason="The patient cancelled through the link in an e-mail.",
            expected_version=None,
        )
    view.link.used_at = utcnow()
    view.link.used_for = answer
    await session.flush()
    return view


async def link_language(session: AsyncSession, view: LinkView) -> str:
    """The language the e-mail with this link was written in."""
    message = await session.get(Message, view.link.message_id)
    return message.language if message is not None and message.language in ("en", "es") else "en"
