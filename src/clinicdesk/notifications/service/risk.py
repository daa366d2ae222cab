"""No-show risk: training an organization's model on its history, and scoring booked
appointments with it (the kernel is ``notifications.risk_model``).

* ``train`` reads the organization's finished appointments of the last
  ``HISTORY_DAYS`` (through scheduling's public face), fits the model with a
  time-ordered hold-out for its AUC, and stores it as the newest ``no_show_models`` row.
  A history too short for a regression stores the prior (the base rate); no history at
  all stores nothing.
* ``score`` is cheap enough for the booking transaction: the appointment (already in
  the session when just booked), one grouped query on the (patient, start) index for the
  patient's record, the location's zone, and the newest model row by its index; then
  one UPDATE of the derived column. Without a model the prior answers.
* ``rescore_upcoming`` (after each nightly training) scores the booked appointments of
  the next ``RESCORE_DAYS`` with the new model and the patients' latest records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import utcnow
from clinicdesk.notifications import risk_model
from clinicdesk.notifications.risk_model import AppointmentFacts, FittedModel
from clinicdesk.notifications.risk_records import NoShowModel
from clinicdesk.scheduling import public as scheduling

HISTORY_DAYS = 730
RESCORE_DAYS = 60
KEEP_MODELS = 30
"""Older model rows are pruned at training (a month of nightly AUCs stays to look at)."""


def facts_of(
    appointment: scheduling.Appointment, attendance: scheduling.Attendance, time_zone: str
) -> AppointmentFacts:
    """The model's view of a booked appointment: lead time from when it was booked, the
    local weekday and hour at its location."""
    local = appointment.starts_at.astimezone(ZoneInfo(time_zone))
    booked_at = appointment.created_at or utcnow()
    return AppointmentFacts(
        patient_prior_visits=attendance.finished,
        patient_prior_no_shows=attendance.no_shows,
        lead_days=max((appointment.starts_at - booked_at).total_seconds() / 86400, 0.0),
        weekday=local.weekday(),
        local_hour=local.hour,
        type_key=str(appointment.type_id),
    )


async def latest_model(session: AsyncSession) -> FittedModel | None:
    """The organization's newest stored model, or None before its first training."""
    text = await session.scalar(
        select(NoShowModel.model).order_by(NoShowModel.trained_at.desc()).limit(1)
    )
    return FittedModel.from_json(text) if text is not None else None


async def train(session: AsyncSession, *, now: datetime | None = None) -> FittedModel | None:
    """Fit and store the model of the session's organization; None (nothing stored) when
    it has no finished appointment yet."""
    now = now or utcnow()
    history = await scheduling.no_show_history(
        session, now - timedelta(days=HISTORY_DAYS), until=now
    )
    if not history:
        return None
    examples = risk_model.examples_from_history(
        risk_model.PastAppointment(
            patient_key=str(row.patient_id),
            starts_at=row.starts_at,
            booked_at=row.booked_at,
            time_zone=row.time_zone,
            type_key=str(row.type_id),
            no_show=row.no_show,
        )
        for row in history
    )
    model = risk_model.fit(examples, trained_at=now)
    session.add(
        NoShowModel(
            trained_at=now,
            kind=model.kind,
            model=model.to_json(),
            n_samples=model.n_samples,
            base_rate=model.base_rate,
            auc=model.auc,
        )
    )
    await session.flush()
    kept = list(
        await session.scalars(
            select(NoShowModel.id).order_by(NoShowModel.trained_at.desc()).limit(KEEP_MODELS)
        )
    )
    await session.execute(
        delete(NoShowModel)
        .where(NoShowModel.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
    return model


async def score(
    session: AsyncSession, appointment_id: uuid.UUID, *, model: FittedModel | None = None
) -> float:
    """Predict the appointment's no-show risk from the patient's finished appointments
    before it and write it on the appointment. ``model`` saves the look-up when the
    caller has it; otherwise the newest stored one (or the prior)."""
    appointment = await scheduling.get_appointment(session, appointment_id)
    records = await scheduling.attendance_before(
        session, [appointment.patient_id], appointment.starts_at
    )
    zone = await scheduling.location_zone(session, appointment.location_id)
    if model is None:
        model = await latest_model(session)
    facts = facts_of(
        appointment, records.get(appointment.patient_id, scheduling.Attendance()), zone.key
    )
    risk = risk_model.predict(model, facts)
    await scheduling.set_no_show_risk(session, appointment.id, risk)
    return risk


async def explain_appointment(
    session: AsyncSession, appointment_id: uuid.UUID, type_names: Mapping[str, str]
) -> list[tuple[str, float]]:
    """What makes up the appointment's risk (``risk_model.explain``), for a tooltip."""
    appointment = await scheduling.get_appointment(session, appointment_id)
    records = await scheduling.attendance_before(
        session, [appointment.patient_id], appointment.starts_at
    )
    zone = await scheduling.location_zone(session, appointment.location_id)
    facts = facts_of(
        appointment, records.get(appointment.patient_id, scheduling.Attendance()), zone.key
    )
    return risk_model.explain(await latest_model(session), facts, type_names)


async def rescore_upcoming(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Score every appointment still booked in the next ``RESCORE_DAYS`` with the newest
    model; the number scored."""
    now = now or utcnow()
    upcoming = await scheduling.booked_between(session, now, now + timedelta(days=RESCORE_DAYS))
    if not upcoming:
        return 0
    model = await latest_model(session)
    # Every finished appointment started before now, so before each of these.
    records = await scheduling.attendance_before(session, {a.patient_id for a in upcoming}, now)
    zones = {
        location: (await scheduling.location_zone(session, location)).key
        for location in {a.location_id for a in upcoming}
    }
    for appointment in upcoming:
        facts = facts_of(
            appointment,
            records.get(appointment.patient_id, scheduling.Attendance()),
            zones[appointment.location_id],
        )
        await scheduling.set_no_show_risk(session, appointment.id, risk_model.predict(model, facts))
    return len(upcoming)
