"""Where a patient can be reached, and whether they want to be.

A patient is reached on the first channel of the organization's order that they have an
address for and have not opted out of. An opt-out is per channel (a STOP by text stops
texts; e-mail goes on unless they ask), recorded with where it came from, and audited
as a change to the patient's record. Nobody is messaged whose record was merged into
another (the kept record carries the appointments and gets the messages), nor anyone
whose death is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.models import utcnow
from clinicdesk.notifications.message_models import ContactPreference
from clinicdesk.notifications.vocabulary import DEFAULT_LANGUAGE, LANGUAGES, Channel
from clinicdesk.patients.public import Patient, patients_by_id


@dataclass(frozen=True, slots=True)
class Reach:
    channel: Channel
    address: str
    language: str


def address_hash(address: str) -> str:
    """The keyed hash a reply's sender is found by (never the address itself). Addresses
    are stored normalized (E.164 numbers, lower-case e-mail), so the hash is of the value
    itself, as key rotation re-computes it."""
    return field_keyring().lookup_hash(address)


def language_of(patient: Patient) -> str:
    preferred = (patient.preferred_language or "").split("-")[0].lower()
    return preferred if preferred in LANGUAGES else DEFAULT_LANGUAGE


def address_for(patient: Patient, channel: Channel) -> str | None:
    if channel == Channel.EMAIL:
        return patient.email.strip().lower() if patient.email else None
    return patient.phone or None  # stored in E.164 by the patients domain


async def opted_out_channels(session: AsyncSession, patient_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(ContactPreference.channel).where(
            ContactPreference.patient_id == patient_id, ContactPreference.opted_out.is_(True)
        )
    )
    return set(rows)


def why_unreachable(patient: Patient) -> str | None:
    """Why no message may go to this record at all, or None."""
    if patient.merged_into_id is not None:
        return "The record was merged into another one."
    if patient.deceased_on is not None:
        return "The patient has died."
    return None


async def reach(session: AsyncSession, patient: Patient, order: Sequence[str]) -> Reach | str:
    """The channel and address to use, or a sentence saying why there is none."""
    blocked = why_unreachable(patient)
    if blocked is not None:
        return blocked
    opted_out = await opted_out_channels(session, patient.id)
    missing = []
    for name in order:
        channel = Channel(name)
        address = address_for(patient, channel)
        if address is None:
            missing.append(channel.value)
            continue
        if channel.value in opted_out:
            continue
        return Reach(channel=channel, address=address, language=language_of(patient))
    if opted_out:
        return "The patient opted out of " + ", ".join(sorted(opted_out)) + "."
    return "The patient has no " + " or ".join(missing) + " on record."


async def set_opt_out(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    channel: Channel,
    opted_out: bool,
    source: str,
) -> ContactPreference:
    """Record the patient's wish for ``channel`` (audited on the patient's record)."""
    preference = await session.scalar(
        select(ContactPreference).where(
            ContactPreference.patient_id == patient_id,
            ContactPreference.channel == channel.value,
        )
    )
    before = audit.snapshot(preference) if preference is not None else None
    if preference is None:
        preference = ContactPreference(patient_id=patient_id, channel=channel.value)
        session.add(preference)
    elif preference.opted_out == opted_out:
        return preference
    preference.opted_out = opted_out
    preference.source = source
    preference.changed_at = utcnow()
    preference.changed_by_id = actor.user_id
    await session.flush()
    await audit.record_change(
        session,
        actor,
        "notifications.opted_out" if opted_out else "notifications.opted_in",
        preference,
        before,
        resource_type="contact_preference",
    )
    return preference


async def patient_to_message(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    """The record a message is about, as stored (a merged one stays merged: nobody is
    messaged through it). Messaging is the system acting, not a person reading a chart,
    so there is no read to audit and no care-team check here."""
    found = (await patients_by_id(session, {patient_id})).get(patient_id)
    if found is None:
        raise LookupError(f"patient {patient_id} is gone")
    return found
