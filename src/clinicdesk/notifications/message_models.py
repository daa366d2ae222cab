"""The records of patient messaging.

* ``notification_settings``: one row per organization (the reminder lead times, quiet
  hours, the grace delay, the daily limit, which channels are on and in what order).
* ``notification_templates``: an organization's own wording of a purpose for a channel
  and language; without one, the shipped default is used (``kernel.defaults``).
* ``messages``: one row per message, written in the transaction of the change that
  causes it (a rolled-back booking leaves none). The address and the text are encrypted
  (``EncryptedText``); ``address_hash`` (the keyed lookup hash) finds the sender of a
  reply. The text is rendered when the message goes out, so an edit of the appointment
  or of the template before then is what the patient reads.
* ``contact_preferences``: a patient's opt-out (or opt back in) per channel.
* ``inbound_messages``: what patients sent back, once per provider message id (a
  provider's retried webhook changes nothing the second time).
* ``reply_links``: the single-use, expiring links of an e-mail (confirm / cancel without
  signing in); only the hash of the secret is stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.crypto import EncryptedText
from clinicdesk.core.models import Base, IdMixin, utcnow
from clinicdesk.core.tenancy import TenantScoped
from clinicdesk.notifications.vocabulary import MessageStatus

DEFAULT_LEADS_MINUTES = [48 * 60, 2 * 60]


class NotificationSettings(Base, IdMixin, TenantScoped):
    __tablename__ = "notification_settings"
    __table_args__ = (UniqueConstraint("organization_id", name="uq_notification_settings_org"),)

    # Reminder lead times in minutes before the start; whole days keep the local time.
    reminder_leads: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_LEADS_MINUTES)
    )
    # Per appointment type (its id as text) when it differs from the above.
    type_leads: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    # Local clock times "HH:MM"; a message due in between waits for quiet_end.
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    grace_seconds: Mapped[int] = mapped_column(Integer, default=120)
    daily_limit: Mapped[int] = mapped_column(Integer, default=4)
    # Channels in the order they are tried for a patient (the first one they can get).
    channels: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["sms", "email"])
    # An extra reminder the day before for appointments with a high no-show risk.
    extra_reminder_for_high_risk: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationTemplate(Base, IdMixin, TenantScoped):
    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "purpose", "channel", "language", name="uq_notification_template"
        ),
    )

    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class Message(Base, IdMixin, TenantScoped):
    __tablename__ = "messages"

    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), default=None
    )
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    waitlist_entry_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # "Your turn is near": the visit of a patient following the queue from outside.
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("visits.id", ondelete="SET NULL"), default=None
    )
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(EncryptedText())
    address_hash: Mapped[str] = mapped_column(
        String(100), info={"audit": "derived", "lookup_hash_of": "address"}
    )
    # For a reminder: minutes before the start it was planned for.
    lead_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    # What the appointment's start was when planned: a moved appointment's old reminders
    # are cancelled, and this lets a sender notice one that was not.
    planned_for: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    status_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    subject: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    body: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    provider: Mapped[str | None] = mapped_column(String(32), default=None)
    provider_id: Mapped[str | None] = mapped_column(String(100), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None] = mapped_column(default=None)
    # The delivery job that last began handing it over (for the record; ``delivery.claim``
    # decides by ``sending_at`` whether that hand-over is over).
    sending_job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A recall message: the planned follow-up it asks the patient to book.
    recall_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("recalls.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_messages_org_created", "organization_id", "created_at"),
        Index("ix_messages_appointment", "appointment_id", "status"),
        Index("ix_messages_visit", "visit_id"),
        Index("ix_messages_patient_sent", "patient_id", "sent_at"),
        Index("ix_messages_address_hash", "address_hash", "sent_at"),
        Index("ix_messages_status_due", "status", "due_at"),
        Index(
            "ux_messages_provider_id",
            "provider",
            "provider_id",
            unique=True,
            sqlite_where=text("provider_id IS NOT NULL"),
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
        Index("ix_messages_recall", "recall_id"),
    )


class ContactPreference(Base, IdMixin, TenantScoped):
    __tablename__ = "contact_preferences"
    __table_args__ = (UniqueConstraint("patient_id", "channel", name="uq_contact_preference"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # "reply" (STOP by text), "link", "staff"
    source: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class InboundMessage(Base, IdMixin, TenantScoped):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id", name="uq_inbound_provider_id"),
        Index("ix_inbound_org_received", "organization_id", "received_at"),
    )

    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), default=None
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(100))
    address_hash: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(EncryptedText())
    action: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReplyLink(Base, IdMixin, TenantScoped):
    __tablename__ = "reply_links"

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE")
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_for: Mapped[str | None] = mapped_column(String(16), default=None)
