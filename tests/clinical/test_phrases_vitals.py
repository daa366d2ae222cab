"""The quick phrases that read vital signs (``.bp``, ``.vitals``), on both databases."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.schemas.vitals import VitalsRecord
from clinicdesk.clinical.service import phrases, vitals
from clinicdesk.identity.models import User
from clinicdesk.identity.service.common import actor_for
from tests.support.queue import QueueClinic


async def test_bp_and_vitals_expand_to_the_latest_measurements(
    session: AsyncSession, qc: QueueClinic
) -> None:
    doctor = actor_for(await session.get_one(User, qc.user_ids["doctor"]))
    patient_id = qc.patient_ids[0]
    none_yet = await phrases.expand(session, actor=doctor, patient_id=patient_id, text=".bp")
    assert "BP" not in none_yet
    await vitals.record_vitals(
        session,
        actor=doctor,
        patient_id=patient_id,
        data=VitalsRecord(systolic=Decimal(128), diastolic=Decimal(82), heart_rate=Decimal(72)),
    )
    text = await phrases.expand(
        session, actor=doctor, patient_id=patient_id, text="Seen today. .bp, .vitals"
    )
    assert text.startswith("Seen today. BP 128/82 mmHg")
    assert "Pulse 72" in text or "72 /min" in text
