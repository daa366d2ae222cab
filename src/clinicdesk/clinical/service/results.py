"""Results of orders: enter them (each flagged against the range that applies to the
patient), sign them off, the doctor's inbox of results still to read, and a patient's
series of one analyte (the trend).

Entering results is CLINICAL_WRITE (doctors): a value typed from a lab report is a
clinical statement someone must answer for. Nurses hold VITALS_WRITE only, which lets
them mark a sample collected, not report it. Signing off is a doctor's too; any doctor
may sign (a colleague covers the inbox of one who is away), and the sign-off names who.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import OrderStepRefused, ResultNotFound
from clinicdesk.clinical.kernel.order_flow import OrderStatus, Step, status_after_review
from clinicdesk.clinical.kernel.result_flags import (
    Flag,
    Limits,
    RangeBand,
    flag_for,
    pick_band,
    severity,
)
from clinicdesk.clinical.models import Order, Result, TestCatalogueItem
from clinicdesk.clinical.schemas.orders import ResultEntry, ResultsEntry
from clinicdesk.clinical.service import catalogue
from clinicdesk.clinical.service.orders import (
    OrderWithResults,
    check_step,
    find_order,
    get_order,
    writable_order,
)
from clinicdesk.clinical.signals import ResultsEntered, results_entered
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients import public as patients

RESOURCE = "result"
# A lab's clock and ours differ a little; a report time further ahead is a typing slip.
CLOCK_SKEW = timedelta(minutes=5)


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _band_for(
    item: TestCatalogueItem | None, analyte: str, patient: patients.Patient, when: datetime
) -> RangeBand | None:
    """The catalogue's range for the patient, when the analyte is the ordered test."""
    if item is None or analyte.strip().lower() != item.name.strip().lower():
        return None
    return pick_band(
        catalogue.bands_of(item),
        sex=patient.sex_at_birth,
        age_years=age_on(patient.birth_date, when.date()),
    )


def _result_of(
    entry: ResultEntry,
    *,
    order: Order,
    item: TestCatalogueItem | None,
    patient: patients.Patient,
    actor: Actor,
    when: datetime,
) -> Result:
    """The lab's printed range wins over the catalogue's; the catalogue's critical
    limits (the clinic's own call-me-now thresholds) apply either way."""
    analyte = entry.analyte or order.name
    band = _band_for(item, analyte, patient, when)
    from_catalogue = band.limits if band is not None else Limits()
    limits = Limits(
        low=entry.reference_low if entry.reference_low is not None else from_catalogue.low,
        high=entry.reference_high if entry.reference_high is not None else from_catalogue.high,
        critical_low=from_catalogue.critical_low,
        critical_high=from_catalogue.critical_high,
    )
    flag: Flag | None = None
    if entry.value_numeric is not None:
        flag = flag_for(entry.value_numeric, limits)
    if flag is None and entry.abnormal:
        flag = Flag.ABNORMAL
    same_test = item is not None and analyte.strip().lower() == item.name.strip().lower()
    return Result(
        order_id=order.id,
        patient_id=order.patient_id,
        analyte=analyte,
        code=entry.code or (order.code if analyte == order.name else None),
        value_numeric=entry.value_numeric,
        value_text=entry.value_text,
        unit=entry.unit or (item.default_unit if same_test and item is not None else None),
        reference_low=limits.low,
        reference_high=limits.high,
        reference_text=entry.reference_text
        or (item.reference_text if same_test and item is not None else None),
        flag=flag,
        resulted_at=when,
        entered_by_id=actor.user_id,
    )


async def enter_results(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: uuid.UUID,
    data: ResultsEntry,
    expected_version: int | None,
) -> OrderWithResults:
    """Results onto an order that is not cancelled (more may follow the first ones);
    the order is "resulted" until each is signed off. A report time in the future is
    refused (422)."""
    order = await writable_order(session, order_id, actor=actor, expected_version=expected_version)
    check_step(order, Step.ENTER_RESULTS)
    now = utcnow()
    when = data.resulted_at or now
    if when > now + CLOCK_SKEW:
        raise InvalidField("resulted_at", "The report time is in the future; check the date.")
    patient = await patients.get_patient(session, order.patient_id, actor=actor)
    item = (
        await session.get(TestCatalogueItem, order.catalogue_item_id)
        if order.catalogue_item_id is not None
        else None
    )
    created = [
        _result_of(entry, order=order, item=item, patient=patient, actor=actor, when=when)
        for entry in data.results
    ]
    session.add_all(created)
    before = audit.snapshot(order)
    order.status = OrderStatus.RESULTED
    order.resulted_at = when
    order.reviewed_at = None
    await session.flush()
    for result in created:
        await audit.record(
            session,
            action="result.entered",
            actor=actor,
            resource_type=RESOURCE,
            resource_id=result.id,
            patient_id=result.patient_id,
            changes=audit.changes(None, audit.snapshot(result)),
        )
    await audit.record(
        session,
        action="order.resulted",
        actor=actor,
        resource_type="order",
        resource_id=order.id,
        patient_id=order.patient_id,
        changes=audit.changes(before, audit.snapshot(order)),
    )
    worst = max((severity(r.flag) for r in created), default=0)
    await results_entered.send(
        session,
        ResultsEntered(
            actor=actor,
            order_id=order.id,
            order_name=order.name,
            patient_id=order.patient_id,
            ordered_by_id=order.ordered_by_id,
            count=len(created),
            urgency=("normal", "abnormal", "critical")[worst],
        ),
    )
    return await get_order(session, order.id, actor=actor)


async def _sign(session: AsyncSession, actor: Actor, result: Result, comment: str | None) -> None:
    before = audit.snapshot(result)
    result.reviewed_at = utcnow()
    result.reviewed_by_id = actor.user_id
    result.review_comment = comment
    await session.flush()
    await audit.record(
        session,
        action="result.reviewed",
        actor=actor,
        resource_type=RESOURCE,
        resource_id=result.id,
        patient_id=result.patient_id,
        changes=audit.changes(before, audit.snapshot(result)),
    )


async def _follow_reviews(session: AsyncSession, actor: Actor, order: Order) -> None:
    """The order is "reviewed" once none of its results is left unsigned."""
    unsigned = await session.scalar(
        select(func.count())
        .select_from(Result)
        .where(Result.order_id == order.id, Result.reviewed_at.is_(None))
    )
    status = status_after_review(unsigned or 0)
    if status == order.status:
        return
    before = audit.snapshot(order)
    order.status = status
    order.reviewed_at = utcnow() if status == OrderStatus.REVIEWED else None
    await session.flush()
    await audit.record(
        session,
        action="order.reviewed",
        actor=actor,
        resource_type="order",
        resource_id=order.id,
        patient_id=order.patient_id,
        changes=audit.changes(before, audit.snapshot(order)),
    )


async def review_result(
    session: AsyncSession,
    *,
    actor: Actor,
    result_id: uuid.UUID,
    comment: str | None,
    expected_version: int | None,
) -> Result:
    """Sign off one result (once: a second sign-off is refused, naming the first)."""
    result = await session.get(Result, result_id)
    if result is None:
        raise ResultNotFound("No result with this id.")
    await patients.get_writable_patient(session, result.patient_id, actor=actor)
    check_version(result, expected_version)
    if result.reviewed_at is not None:
        raise OrderStepRefused("This result is already signed off.")
    await _sign(session, actor, result, comment)
    await _follow_reviews(session, actor, await find_order(session, result.order_id))
    return result


async def review_order(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: uuid.UUID,
    comment: str | None,
    expected_version: int | None,
) -> OrderWithResults:
    """Sign off every result of the order not yet signed."""
    order = await writable_order(session, order_id, actor=actor, expected_version=expected_version)
    unsigned = list(
        await session.scalars(
            select(Result).where(Result.order_id == order.id, Result.reviewed_at.is_(None))
        )
    )
    if not unsigned:
        raise OrderStepRefused("This order has no results waiting to be signed off.")
    for result in unsigned:
        await _sign(session, actor, result, comment)
    await _follow_reviews(session, actor, order)
    return await get_order(session, order.id, actor=actor)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    result: Result
    order: Order
    patient: patients.Patient

    @property
    def flag_label(self) -> str:
        """The flag in words ("Critically high"), "Normal" when there is none."""
        return Flag(self.result.flag).label if self.result.flag else "Normal"

    @property
    def urgency(self) -> str:
        """ "critical", "abnormal" or "normal": the style the flag shows in."""
        return ("normal", "abnormal", "critical")[severity(self.result.flag)]


SEVERITY = case(
    (Result.flag.in_([Flag.CRITICAL_LOW.value, Flag.CRITICAL_HIGH.value]), 2),
    (Result.flag.is_not(None), 1),
    else_=0,
)


def _waiting_for(actor: Actor) -> list[ColumnElement[bool]]:
    return [
        Order.ordered_by_id == actor.user_id,
        Order.status != OrderStatus.CANCELLED,
        Result.reviewed_at.is_(None),
    ]


async def count_to_review(session: AsyncSession, *, actor: Actor) -> int:
    """How many results of ``actor``'s orders wait for sign-off (the inbox shows a page)."""
    statement = (
        select(func.count()).select_from(Result).join(Order, Order.id == Result.order_id)
    ).where(*_waiting_for(actor))
    return int(await session.scalar(statement) or 0)


async def results_to_review(
    session: AsyncSession, *, actor: Actor, limit: int = 50
) -> list[InboxEntry]:
    """The results of ``actor``'s own orders not yet signed off: critical first, then
    abnormal, then the rest, each group oldest first (the longest waiting). A page of
    ``limit``; the list names patients, so it is recorded as a list read."""
    rows = (
        await session.execute(
            select(Result, Order)
            .join(Order, Order.id == Result.order_id)
            .where(*_waiting_for(actor))
            .order_by(SEVERITY.desc(), Result.resulted_at, Result.id)
            .limit(limit)
        )
    ).all()
    found = await patients.patients_by_id(session, {r.patient_id for r, _ in rows})
    await audit.record_list_read(
        session, actor=actor, patient_ids=found.keys(), view="results to review"
    )
    return [InboxEntry(r, o, found[r.patient_id]) for r, o in rows if r.patient_id in found]


async def patient_results(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    analyte: str | None = None,
    limit: int = 300,
) -> Sequence[Result]:
    """The patient's results, by analyte then newest first; ``analyte`` (a name or a
    code, any case) keeps one series. The newest ``limit`` rows."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    statement = select(Result).where(Result.patient_id == patient.id)
    if analyte:
        wanted = analyte.strip().lower()
        statement = statement.where(
            or_(func.lower(Result.analyte) == wanted, func.lower(Result.code) == wanted)
        )
    rows = (
        await session.scalars(
            statement.order_by(Result.resulted_at.desc(), Result.id.desc()).limit(limit)
        )
    ).all()
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="results")
    return sorted(rows, key=lambda r: r.analyte.lower())
