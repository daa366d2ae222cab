"""Sending one message: the ``notifications.deliver`` job.

The job works in three steps so that no database lock is held while a provider answers,
and so that a process stopped at any point sends the message exactly once after restart:

1. **check and claim** (one short transaction): the message is still queued and still
   wanted (its appointment not moved or cancelled, the patient reachable and not opted
   out, the day's limit not reached; a due time inside quiet hours moves to their end),
   its text is rendered and stored, and it is marked ``sending``. Commit.
2. **hand over** to the channel, outside any transaction.
3. **record** the provider's id and ``sent``; a permanent refusal is ``failed`` (and the
   desk is told); a temporary one puts it back in the queue and the job retries.

A message found ``sending`` when its job starts was interrupted between 1 and 3: the
channel is asked first whether it already has it (``find_sent``), and only if not is it
handed over again — with the text stored at step 1, so it is the same message. One found
``sending`` since moments ago may still be in another worker's hands: the job tries again
later, and on its last attempt leaves a recheck job behind (``recheck_later``) rather than
a message ``sending`` for good.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_date, format_time
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical import public as clinical
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.jobs import enqueue
from clinicdesk.core.models import utcnow
from clinicdesk.core.tokens import new_token
from clinicdesk.identity import public as identity
from clinicdesk.notifications.channels import Outgoing, Senders, SendRefused
from clinicdesk.notifications.kernel.templating import TemplateInvalid, render
from clinicdesk.notifications.kernel.timing import (
    after_quiet_hours,
    local_day_bounds,
    parse_clock,
)
from clinicdesk.notifications.message_models import Message, ReplyLink
from clinicdesk.notifications.service.configuration import TemplateKey, get_settings, wording
from clinicdesk.notifications.service.contacts import (
    Reach,
    address_hash,
    patient_to_message,
    reach,
)
from clinicdesk.notifications.service.desk_alerts import tell_desk_of_failure
from clinicdesk.notifications.service.planning import (
    DELIVER,
    TOO_LATE,
    DeliverMessage,
    job_key,
    schedule_delivery,
)
from clinicdesk.notifications.vocabulary import (
    ANSWERABLE,
    GONE_OUT,
    Channel,
    MessageStatus,
    Purpose,
)
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling

log = structlog.get_logger(__name__)

WEBHOOK_STATUS_PATH = "/api/v1/notifications/twilio/status"
REPLY_PATH = "/r"
ERROR_LENGTH = 500
# A hand-over that began longer ago than this is over: the provider call times out after
# 10 s, so its worker either recorded the outcome or stopped. A younger one may still be
# under way in another worker, even for the same job (its lease can lapse while the
# worker is slow), so it is left alone and looked at again later.
SENDING_STALE = timedelta(seconds=20)


class StillSending(Exception):
    """A message another worker is handing over: the job tries again later."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a queued message is not sent now: ``status`` is what it becomes (or None with
    ``postpone_to`` set)."""

    reason: str
    status: MessageStatus | None = None
    postpone_to: datetime | None = None


def message_event(message: Message) -> Event:
    """The live event a messages page updates from (no address, no text)."""
    return Event(
        organization_id=message.organization_id,
        type="message.status",
        data={
            "message_id": str(message.id),
            "status": message.status,
            "patient_id": str(message.patient_id) if message.patient_id else None,
        },
    )


def set_status(
    session: AsyncSession, message: Message, status: MessageStatus, reason: str | None = None
) -> None:
    now = utcnow()
    message.status = status.value
    message.updated_at = now
    if reason is not None:
        message.status_reason = reason[:300]
    if status == MessageStatus.SENT:
        message.sent_at = message.sent_at or now
    elif status == MessageStatus.DELIVERED:
        message.delivered_at = now
        message.sent_at = message.sent_at or now
    elif status in (MessageStatus.FAILED, MessageStatus.BOUNCED):
        message.failed_at = now
    publish_after_commit(session, message_event(message))


async def _appointment_verdict(session: AsyncSession, message: Message) -> Verdict | None:
    if message.appointment_id is None:
        return None
    appointment = await scheduling.get_appointment(session, message.appointment_id)
    if message.purpose == Purpose.CANCELLED.value:
        return None
    active = {
        scheduling.AppointmentStatus.BOOKED,
        scheduling.AppointmentStatus.PENDING,
        scheduling.AppointmentStatus.PROPOSED,
    }
    if appointment.status not in active:
        return Verdict(f"The appointment is {appointment.status}.", MessageStatus.CANCELLED)
    if message.planned_for is not None and appointment.starts_at != message.planned_for:
        return Verdict("The appointment moved.", MessageStatus.CANCELLED)
    if appointment.starts_at - TOO_LATE <= utcnow():
        return Verdict("Too close to the appointment to be useful.", MessageStatus.CANCELLED)
    return None


async def _waitlist_verdict(session: AsyncSession, message: Message) -> Verdict | None:
    if message.waitlist_entry_id is None:
        return None
    entry = await scheduling.get_waitlist_entry(session, message.waitlist_entry_id)
    if entry.status != "offered" or entry.offered_start != message.planned_for:
        return Verdict("The offer is no longer open.", MessageStatus.CANCELLED)
    return None


async def _sent_today(session: AsyncSession, message: Message, zone: ZoneInfo) -> int:
    start, end = local_day_bounds(utcnow(), zone)
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.patient_id == message.patient_id,
            Message.status.in_(GONE_OUT),
            Message.sending_at >= start,
            Message.sending_at < end,
            Message.id != message.id,
        )
    )
    return int(count or 0)


async def _zone_of(session: AsyncSession, message: Message) -> ZoneInfo:
    if message.appointment_id is not None:
        appointment = await scheduling.get_appointment(session, message.appointment_id)
        return await scheduling.location_zone(session, appointment.location_id)
    if message.waitlist_entry_id is not None:
        entry = await scheduling.get_waitlist_entry(session, message.waitlist_entry_id)
        return await scheduling.location_zone(session, entry.location_id)
    organization = await identity.get_organization(session)
    return ZoneInfo(organization.time_zone)


async def _turn_verdict(session: AsyncSession, message: Message) -> Verdict | None:
    if message.visit_id is None:
        return None
    visit = await queue.get_visit(session, message.visit_id)
    if visit.status != queue.VisitStatus.WAITING:
        return Verdict(f"The patient is {visit.status} already.", MessageStatus.CANCELLED)
    return None


async def _recall_verdict(session: AsyncSession, message: Message) -> Verdict | None:
    if message.recall_id is None:
        return None
    recall = await clinical.find_recall(session, message.recall_id)
    if recall is None or recall.status != clinical.RecallStatus.OPEN:
        state = recall.status if recall is not None else "gone"
        return Verdict(f"The recall is {state}.", MessageStatus.CANCELLED)
    return None


async def _recall_location(session: AsyncSession, recall_id: uuid.UUID) -> uuid.UUID | None:
    """Where a recall message sends the patient: the location of the consultation that
    planned it, else the organization's first active location."""
    recall = await clinical.find_recall(session, recall_id)
    if recall is not None and recall.encounter_id is not None:
        encounter = await clinical.find_encounter(session, recall.encounter_id)
        if encounter.location_id is not None:
            return encounter.location_id
    locations = await identity.active_locations(session)
    return locations[0].id if locations else None


# Sent whatever the hour and the day's count: the patient is at the clinic, now.
_AT_ONCE = frozenset({Purpose.TEST.value, Purpose.TURN_NEAR.value})


async def verdict(session: AsyncSession, message: Message) -> Verdict | None:
    """Whether a queued message goes now (None) or what becomes of it."""
    for check in (_appointment_verdict, _waitlist_verdict, _turn_verdict, _recall_verdict):
        found = await check(session, message)
        if found is not None:
            return found
    if message.purpose == Purpose.TEST.value:
        return None
    settings = await get_settings(session)
    if message.patient_id is not None:
        patient = await patient_to_message(session, message.patient_id)
        found_reach = await reach(session, patient, [message.channel, *settings.channels])
        if isinstance(found_reach, str):
            return Verdict(found_reach, MessageStatus.SUPPRESSED)
        _retarget(message, found_reach)
    if message.purpose in _AT_ONCE:
        return None
    zone = await _zone_of(session, message)
    quiet = (parse_clock(settings.quiet_start), parse_clock(settings.quiet_end))
    later = after_quiet_hours(utcnow(), zone, *quiet)
    if later > utcnow():
        return Verdict("Quiet hours.", postpone_to=later)
    if (
        message.patient_id is not None
        and await _sent_today(session, message, zone) >= settings.daily_limit
    ):
        return Verdict(
            f"The patient already had {settings.daily_limit} messages today.",
            MessageStatus.SUPPRESSED,
        )
    return None


def _retarget(message: Message, to: Reach) -> None:
    """The patient's address may have changed, or they opted out of the planned channel
    and have another: the message follows them."""
    if message.channel != to.channel.value or message.address != to.address:
        message.channel = to.channel.value
        message.address = to.address
        message.address_hash = address_hash(to.address)
        message.language = to.language


async def _values(session: AsyncSession, message: Message) -> dict[str, str]:
    organization = await identity.get_organization(session)
    values = dict.fromkeys(("location_name", "location_address", "location_phone"), "")
    values |= {"clinic_name": organization.name, "patient_name": "", "provider_name": ""}
    values |= {"date": "", "time": "", "position": "", "confirm_link": "", "cancel_link": ""}
    if message.patient_id is not None:
        patient = await patient_to_message(session, message.patient_id)
        values["patient_name"] = patient.preferred_name or patient.given_name
    start: datetime | None = None
    location_id = provider_id = None
    if message.appointment_id is not None:
        appointment = await scheduling.get_appointment(session, message.appointment_id)
        start, location_id, provider_id = (
            appointment.starts_at,
            appointment.location_id,
            appointment.provider_id,
        )
    elif message.waitlist_entry_id is not None:
        entry = await scheduling.get_waitlist_entry(session, message.waitlist_entry_id)
        start, location_id, provider_id = (
            entry.offered_start,
            entry.location_id,
            entry.offered_provider_id,
        )
    elif message.visit_id is not None:
        visit = await queue.get_visit(session, message.visit_id)
        location_id, provider_id = visit.location_id, visit.provider_id
        values["position"] = str(await _places_ahead(session, visit))
    elif message.recall_id is not None:
        location_id = await _recall_location(session, message.recall_id)
    if location_id is not None:
        location = await identity.get_location(session, location_id)
        values |= {
            "location_name": location.name,
            "location_address": " ".join(location.address.split()),
            "location_phone": location.phone,
        }
    if provider_id is not None:
        values["provider_name"] = (await scheduling.get_provider(session, provider_id)).display_name
    if start is not None and location_id is not None:
        local = start.astimezone(await scheduling.location_zone(session, location_id))
        values["date"] = format_date(local.date(), format="full", locale=message.language)
        values["time"] = format_time(local.time(), format="short", locale=message.language)
    return values


async def _places_ahead(session: AsyncSession, visit: queue.Visit) -> int:
    board = await queue.location_board(session, visit.location_id)
    for provider_queue in board.queues:
        for line in provider_queue.waiting:
            if line.visit.id == visit.id and line.position is not None:
                return line.position - 1
    return 0


async def _reply_link(
    session: AsyncSession, message: Message, appointment_id: uuid.UUID, base_url: str
) -> str:
    """A new single-use link for the e-mail (only its hash is kept)."""
    secret, secret_hash = new_token()
    appointment = await scheduling.get_appointment(session, appointment_id)
    session.add(
        ReplyLink(
            message_id=message.id,
            appointment_id=appointment.id,
            secret_hash=secret_hash,
            expires_at=appointment.starts_at,
        )
    )
    return f"{base_url}{REPLY_PATH}/{secret}"


async def render_message(session: AsyncSession, message: Message, base_url: str) -> None:
    """Fill in the message's text from its template (stored encrypted with the row)."""
    values = await _values(session, message)
    channel = Channel(message.channel)
    if (
        channel == Channel.EMAIL
        and message.appointment_id is not None
        and message.purpose in ANSWERABLE
    ):
        link = await _reply_link(session, message, message.appointment_id, base_url)
        values["confirm_link"] = f"{link}?do=confirm"
        values["cancel_link"] = f"{link}?do=cancel"
    text = await wording(session, TemplateKey(Purpose(message.purpose), channel, message.language))
    rendered = render(text.subject if channel == Channel.EMAIL else None, text.body, values)
    message.subject = rendered.subject
    message.body = rendered.body


def outgoing(message: Message, senders: Senders) -> Outgoing:
    channel = Channel(message.channel)
    callback = (
        f"{senders.webhook_base}{WEBHOOK_STATUS_PATH}"
        if channel != Channel.EMAIL and senders.text.provider == "twilio"
        else None
    )
    return Outgoing(
        message_id=message.id,
        channel=channel,
        to=message.address,
        subject=message.subject,
        body=message.body or "",
        status_callback=callback,
    )


async def claim(
    session: AsyncSession, message_id: uuid.UUID, senders: Senders, *, job_id: uuid.UUID
) -> tuple[Message, bool] | None:
    """Step 1: the message ready to hand over and whether it was interrupted before (so
    the channel is asked first); None when there is nothing to send now."""
    message = await session.get(Message, message_id, with_for_update=True)
    if message is None:
        return None
    if message.status == MessageStatus.SENDING.value:
        if message.sending_at is not None and message.sending_at > utcnow() - SENDING_STALE:
            raise StillSending(f"message {message.id} may be being sent right now")
        message.sending_job_id = job_id
        return message, True
    if message.status != MessageStatus.QUEUED.value or message.due_at > utcnow() + timedelta(
        seconds=1
    ):
        return None
    found = await verdict(session, message)
    if found is not None and found.postpone_to is not None:
        message.due_at = found.postpone_to
        message.status_reason = found.reason
        message.updated_at = utcnow()
        await schedule_delivery(session, message)
        return None
    if found is not None and found.status is not None:
        set_status(session, message, found.status, found.reason)
        return None
    try:
        await render_message(session, message, senders.webhook_base)
    except TemplateInvalid as error:
        set_status(session, message, MessageStatus.FAILED, f"The template cannot be used: {error}")
        await tell_desk_of_failure(session, message)
        return None
    message.attempts += 1
    message.sending_at = utcnow()
    message.sending_job_id = job_id
    message.provider = senders.for_channel(Channel(message.channel)).provider
    set_status(session, message, MessageStatus.SENDING)
    return message, False


async def recheck_later(session: AsyncSession, message_id: uuid.UUID) -> None:
    """A delivery job on its last attempt met the message still being handed over
    (``StillSending``): instead of dying and leaving it ``sending`` for good, it leaves a
    job to look again once that hand-over is over, which finds it sent, or interrupted
    and asks the channel first (``claim``)."""
    message = await session.get(Message, message_id)
    if message is None or message.status != MessageStatus.SENDING.value:
        return
    began = message.sending_at or utcnow()
    await enqueue(
        session,
        DELIVER,
        DeliverMessage(message_id=message.id),
        run_at=began + SENDING_STALE + timedelta(seconds=1),
        dedupe_key=f"{job_key(message)}:recheck:{int(began.timestamp())}",
    )


async def record_sent(session: AsyncSession, message: Message, provider_id: str) -> None:
    message.provider_id = provider_id
    message.last_error = None
    set_status(session, message, MessageStatus.SENT)
    log.info(
        "notifications.sent",
        message_id=str(message.id),
        channel=message.channel,
        provider=message.provider,
    )


async def record_refused(
    session: AsyncSession, message: Message, error: SendRefused, *, last_attempt: bool
) -> bool:
    """Step 3 after a refusal; True when the job should retry."""
    message.last_error = str(error)[:ERROR_LENGTH]
    if error.permanent or last_attempt:
        set_status(
            session,
            message,
            MessageStatus.FAILED,
            "The provider refused it." if error.permanent else "It could not be sent; gave up.",
        )
        await tell_desk_of_failure(session, message)
        log.warning(
            "notifications.failed",
            message_id=str(message.id),
            channel=message.channel,
            code=error.code,
        )
        return False
    if error.maybe_accepted:
        # Stays "sending": the job's next attempt asks the provider before sending again.
        message.status_reason = "No answer from the provider; checking before trying again."
        return True
    set_status(session, message, MessageStatus.QUEUED, "Waiting to try again.")
    return True
