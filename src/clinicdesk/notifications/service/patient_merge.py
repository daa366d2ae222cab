"""A patient merge, as notifications sees it (``patients.signals.patient_merged``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from clinicdesk.audit import public as audit
from clinicdesk.notifications.alert_models import StaffAlert
from clinicdesk.notifications.message_models import ContactPreference, InboundMessage, Message
from clinicdesk.patients.public import PatientMerged, move_records


async def _fold_preferences(session: AsyncSession, merge: PatientMerged) -> None:
    """A channel both records have a wish for keeps one row, the kept record's, and an
    opt-out on either stands (nobody starts getting texts they stopped)."""
    duplicate = {
        p.channel: p
        for p in await session.scalars(
            select(ContactPreference).where(ContactPreference.patient_id == merge.duplicate_id)
        )
    }
    if not duplicate:
        return
    kept = await session.scalars(
        select(ContactPreference).where(
            ContactPreference.patient_id == merge.kept_id,
            ContactPreference.channel.in_(list(duplicate)),
        )
    )
    for preference in kept:
        other = duplicate[preference.channel]
        if other.opted_out and not preference.opted_out:
            before = audit.snapshot(preference)
            preference.opted_out = True
            preference.source = other.source
            preference.changed_at = other.changed_at
            await audit.record_change(
                session,
                merge.actor,
                "notifications.opted_out",
                preference,
                before,
                resource_type="contact_preference",
            )
        await session.execute(delete(ContactPreference).where(ContactPreference.id == other.id))
        await audit.record(
            session,
            action="notifications.preference_merged",
            actor=merge.actor,
            resource_type="contact_preference",
            resource_id=other.id,
            patient_id=merge.kept_id,
            details={"into": str(preference.id), "duplicate_id": str(merge.duplicate_id)},
        )
    await session.flush()


async def move_to_kept_patient(session: AsyncSession, merge: PatientMerged) -> dict[str, int]:
    """The duplicate's messages, replies, contact wishes and staff alerts follow the kept
    record."""
    await _fold_preferences(session, merge)
    # Some of the columns are nullable (a test message has no patient): a NULL never
    # equals the duplicate's id, so only rows of the duplicate move.
    records = cast(
        Sequence[tuple[InstrumentedAttribute[uuid.UUID], str]],
        (
            (Message.patient_id, "message"),
            (InboundMessage.patient_id, "inbound_message"),
            (ContactPreference.patient_id, "contact_preference"),
            # An alert about the duplicate follows the kept record, so a restricted kept
            # record hides it too.
            (StaffAlert.patient_id, "staff_alert"),
        ),
    )
    return await move_records(session, merge, records)
