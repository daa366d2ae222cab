"""The words of notifications: why a message is sent, through what, and where it stands."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


TEXT_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


class Purpose(StrEnum):
    """Why a message goes out; each has its templates per channel and language."""

    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    REMINDER = "reminder"
    WAITLIST_OFFER = "waitlist_offer"
    TURN_NEAR = "turn_near"
    TEST = "test"
    RECALL = "recall"


# What a patient can answer to: the messages about an appointment that is still ahead.
ANSWERABLE = frozenset({Purpose.BOOKED, Purpose.RESCHEDULED, Purpose.REMINDER})


class MessageStatus(StrEnum):
    """queued -> sending -> sent -> delivered | failed | bounced; or, before it goes,
    cancelled (the reason for it went away) or suppressed (a rule held it back)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"


PENDING = (MessageStatus.QUEUED.value,)
# Counted against the daily limit: what the patient received or is receiving.
GONE_OUT = (
    MessageStatus.SENDING.value,
    MessageStatus.SENT.value,
    MessageStatus.DELIVERED.value,
)
FINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.BOUNCED,
        MessageStatus.CANCELLED,
        MessageStatus.SUPPRESSED,
    }
)


class ReplyAction(StrEnum):
    """What a patient's reply did."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    CALL_BACK = "call_back"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    TO_INBOX = "to_inbox"
    NOTHING = "nothing"


# Carrier opt-out words (the CTIA list US carriers honour); START and UNSTOP opt back in.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES START"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "YES", "Y", "SI", "SÍ", "OK"})
CANCEL_WORDS = frozenset({"X", "NO", "CANCELAR"})
CALL_BACK_WORDS = frozenset({"R", "CALL", "LLAMAR"})

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"

PURPOSE_LABELS = {
    "booked": "Booking confirmation",
    "rescheduled": "Rescheduled",
    "cancelled": "Cancellation",
    "reminder": "Reminder",
    "waitlist_offer": "Waitlist offer",
    "turn_near": "Your turn is near",
    "test": "Test message",
    "recall": "Recall (time for a check-up)",
}
CHANNEL_LABELS = {"email": "E-mail", "sms": "SMS", "whatsapp": "WhatsApp"}
STATUS_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
    "bounced": "Bounced",
    "cancelled": "Cancelled",
    "suppressed": "Not sent",
}
