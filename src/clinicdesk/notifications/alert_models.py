"""Tables of the staff's in-app alerts: the alert (``StaffAlert``: what happened, for
whom) and one row per person it was delivered to (``StaffAlertRecipient``: their own
read state).

Why a row per recipient (written when the alert is raised) rather than a table of reads
(a row once someone reads): the unread count is in the header of every staff page, so it
must cost one indexed query whatever the history. With reads kept apart, "unread for me"
is "every alert addressed to me or my roles, ever, without a read row of mine": a scan
that grows with every alert the front desk has had. With a row per recipient and
``read_at`` empty until read, it is a count over a partial index that holds the unread
rows only (``ix_staff_alert_recipients_unread``), so it costs what is unread, not what
was. A role alert ("receptionist": the front desk's inbox) is delivered to every active
staff member holding the role at that moment, each reading it for themselves; someone
who takes the role later does not inherit yesterday's alerts (they were for the people
on duty), and someone who leaves the role stops seeing its alerts (the addressing is
kept on the alert and checked against the reader's current roles).

Alerts are not clinical or financial records and are never changed but for the read
mark: there is no version counter. The title may name the patient (it is for staff); an
alert about a patient carries ``patient_id`` so that a restricted record's alerts are
shown only to those the record is open to (checked when they are read, so a record
restricted later hides its earlier alerts too).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, IdMixin, utcnow
from clinicdesk.core.tenancy import TenantScoped

# The partial index's condition, the same words on both databases.
UNREAD = text("read_at IS NULL")


class StaffAlert(Base, IdMixin, TenantScoped):
    """Something a staff member should look at: addressed to one user
    (``recipient_user_id``) or to everyone holding a role (``recipient_role``)."""

    __tablename__ = "staff_alerts"

    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    recipient_role: Mapped[str | None] = mapped_column(String(32), default=None)
    kind: Mapped[str] = mapped_column(String(32))  # alert_schemas.AlertKind
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(String(1000), default=None)
    link: Mapped[str | None] = mapped_column(String(500), default=None)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The purge of old alerts (``service/alerts.py``) reads by age.
    __table_args__ = (Index("ix_staff_alerts_created", "organization_id", "created_at"),)


class StaffAlertRecipient(Base, TenantScoped):
    """One person's copy of an alert: unread while ``read_at`` is empty."""

    __tablename__ = "staff_alert_recipients"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_alerts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        # The list, newest first (alert ids are time-ordered UUIDv7).
        Index("ix_staff_alert_recipients_inbox", "organization_id", "user_id", "alert_id"),
        # The header's count: the unread rows only.
        Index(
            "ix_staff_alert_recipients_unread",
            "organization_id",
            "user_id",
            "alert_id",
            postgresql_where=UNREAD,
            sqlite_where=UNREAD,
        ),
    )
