"""The queue boards: every provider's queue at a location with positions and estimated
waits (front desk, doctor), the waiting-room display, and one patient's own status.

Estimates come from ``queue.estimates`` (pure): the provider's recent consultation
lengths per appointment type, the running consultation, the provider's status and ETA,
and booked patients due before someone who have not arrived yet. The learned lengths are
kept per organization for a minute: every screen refreshes on every queue event, and
the history they come from changes only when a consultation finishes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import Location
from clinicdesk.patients.public import patients_by_id
from clinicdesk.queue import estimates
from clinicdesk.queue.models import ProviderStatus, Visit
from clinicdesk.queue.policies import VisitAction, actions_for
from clinicdesk.queue.service import providers as provider_status
from clinicdesk.queue.service.queues import day_counts, open_visits, split_by_provider
from clinicdesk.queue.vocabulary import ProviderState, VisitStatus
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.public import AppointmentType, Provider
from clinicdesk.scheduling.vocabulary import AppointmentStatus

MODEL_TTL_SECONDS = 60.0
_models: dict[uuid.UUID, tuple[float, estimates.DurationModel]] = {}

# The length a visit is expected to take when nothing was learned: its type's duration,
# else the provider's default.
Fallback = Callable[[Visit, Provider | None], float]


@dataclass(slots=True)
class Line:
    """One patient on a board."""

    visit: Visit
    name: str
    type_name: str | None
    waited_minutes: int
    position: int | None = None
    estimate_minutes: int | None = None

    @property
    def actions(self) -> frozenset[VisitAction]:
        """The steps the desk may offer for this patient (the flow refuses the rest)."""
        return actions_for(self.visit.status)


@dataclass(slots=True)
class ProviderQueue:
    provider: Provider | None  # None: the location's unassigned walk-ins
    state: str = ProviderState.AVAILABLE
    since: datetime | None = None
    eta_at: datetime | None = None
    note: str | None = None
    current: Line | None = None
    called: list[Line] = field(default_factory=list)
    waiting: list[Line] = field(default_factory=list)

    @property
    def eta_minutes(self) -> int | None:
        if self.eta_at is None:
            return None
        return max(0, round((self.eta_at - utcnow()).total_seconds() / 60))


@dataclass(slots=True)
class Board:
    location: Location
    day: date
    now: datetime
    queues: list[ProviderQueue]
    done: int
    left: int

    def line_of(self, visit_id: uuid.UUID) -> Line | None:
        for queue in self.queues:
            for line in [queue.current, *queue.called, *queue.waiting]:
                if line is not None and line.visit.id == visit_id:
                    return line
        return None


async def _model(
    session: AsyncSession, provider_ids: Sequence[uuid.UUID], now: datetime
) -> estimates.DurationModel:
    organization_id = current_tenant(session)
    cached = _models.get(organization_id)
    if cached is not None and time.monotonic() - cached[0] < MODEL_TTL_SECONDS:
        return cached[1]
    rows = await session.execute(
        select(Visit.provider_id, Visit.type_id, Visit.started_at, Visit.finished_at).where(
            Visit.status == VisitStatus.DONE,
            Visit.finished_at >= now - timedelta(weeks=estimates.HISTORY_WEEKS),
            Visit.provider_id.is_not(None),
            Visit.started_at.is_not(None),
        )
    )
    model = estimates.DurationModel.learn(
        (
            estimates.Consultation(
                provider_id=provider_id, type_id=type_id, started_at=started, finished_at=finished
            )
            for provider_id, type_id, started, finished in rows
            if provider_id is not None and started is not None and finished is not None
        ),
        now=now,
    )
    _models[organization_id] = (time.monotonic(), model)
    return model


def forget_learned_lengths(organization_id: uuid.UUID) -> None:
    """A consultation finished: the next board learns again."""
    _models.pop(organization_id, None)


async def _location_providers(
    session: AsyncSession, location_id: uuid.UUID, extra: set[uuid.UUID]
) -> list[Provider]:
    """Who works here, and anyone else with a patient in this location's queue today."""
    here = await scheduling.providers_at(session, location_id)
    elsewhere = extra - {p.id for p in here}
    if not elsewhere:  # the usual case: the board refreshes often, so no second query
        return here
    visiting = [p for p in await scheduling.list_providers(session) if p.id in elsewhere]
    return sorted(here + visiting, key=lambda p: p.display_name)


async def _upcoming(
    session: AsyncSession,
    *,
    location_id: uuid.UUID,
    now: datetime,
    end: datetime,
    types: dict[uuid.UUID, AppointmentType],
) -> dict[uuid.UUID, list[estimates.Upcoming]]:
    """Booked for later today (or a little late) and not arrived yet, per provider."""
    found: dict[uuid.UUID, list[estimates.Upcoming]] = {}
    if end <= now:
        return found
    for appointment in await scheduling.find_between(
        session, start=now - timedelta(minutes=30), end=end, location_id=location_id
    ):
        if appointment.status != AppointmentStatus.BOOKED:
            continue
        kind = types.get(appointment.type_id)
        found.setdefault(appointment.provider_id, []).append(
            estimates.Upcoming(
                starts_at=appointment.starts_at,
                type_id=appointment.type_id,
                fallback_minutes=float(kind.duration_minutes if kind else 15),
            )
        )
    return found


async def location_board(session: AsyncSession, location_id: uuid.UUID) -> Board:
    location = await identity.get_location(session, location_id)
    now = utcnow()
    day = await scheduling.location_today(session, location_id)
    _start, end_of_day = await scheduling.day_bounds(session, location_id, day)
    visits = await open_visits(session, location_id=location_id, day=day)
    by_provider = split_by_provider(visits)
    provider_list = await _location_providers(
        session, location_id, {p for p in by_provider if p is not None}
    )
    states = await provider_status.statuses(session, [p.id for p in provider_list])
    types = {t.id: t for t in await scheduling.list_types(session, active_only=False)}
    names = {
        pid: p.display_name
        for pid, p in (await patients_by_id(session, {v.patient_id for v in visits})).items()
    }
    model = await _model(session, [p.id for p in provider_list], now)
    upcoming = await _upcoming(
        session, location_id=location_id, now=now, end=end_of_day, types=types
    )
    counts = await day_counts(session, location_id=location_id, day=day)

    def line(visit: Visit) -> Line:
        kind = types.get(visit.type_id) if visit.type_id else None
        return Line(
            visit=visit,
            name=names.get(visit.patient_id, "—"),
            type_name=kind.name if kind else None,
            waited_minutes=max(0, int((now - visit.arrived_at).total_seconds() // 60)),
        )

    def fallback(visit: Visit, provider: Provider | None) -> float:
        kind = types.get(visit.type_id) if visit.type_id else None
        if kind is not None:
            return float(kind.duration_minutes)
        return float(provider.default_duration_minutes if provider else 15)

    queues: list[ProviderQueue] = []
    for provider in provider_list:
        queue = ProviderQueue(provider=provider)
        status: ProviderStatus | None = states.get(provider.id)
        if status is not None:
            queue.state, queue.since = status.state, status.since
            queue.eta_at, queue.note = status.eta_at, status.note
        for visit in by_provider.get(provider.id, []):
            if visit.status == VisitStatus.IN_CONSULTATION:
                queue.current = line(visit)
            elif visit.status == VisitStatus.CALLED:
                queue.called.append(line(visit))
            else:
                queue.waiting.append(line(visit))
        _estimate_provider(queue, provider, model, now, upcoming.get(provider.id, []), fallback)
        queues.append(queue)
    unassigned = ProviderQueue(provider=None)
    unassigned.waiting = [line(v) for v in by_provider.get(None, [])]
    _estimate_unassigned(unassigned, queues, model, fallback)
    queues.append(unassigned)
    return Board(
        location=location,
        day=day,
        now=now,
        queues=queues,
        done=counts.get(VisitStatus.DONE, 0),
        left=counts.get(VisitStatus.LEFT, 0),
    )


def _estimate_provider(
    queue: ProviderQueue,
    provider: Provider,
    model: estimates.DurationModel,
    now: datetime,
    upcoming: list[estimates.Upcoming],
    fallback: Fallback,
) -> None:
    current = queue.current.visit if queue.current else None
    state = queue.state
    if current is not None:
        state = ProviderState.IN_CONSULTATION
    provider_now = estimates.ProviderNow(
        status=state,
        eta=queue.eta_at,
        current_started_at=current.started_at if current else None,
        current_type_id=current.type_id if current else None,
        current_fallback_minutes=fallback(current, provider) if current else 15.0,
    )
    lines = [*queue.called, *queue.waiting]
    waiting = [
        estimates.Waiting(
            visit_id=ln.visit.id,
            type_id=ln.visit.type_id,
            fallback_minutes=fallback(ln.visit, provider),
            called=ln.visit.status == VisitStatus.CALLED,
        )
        for ln in lines
    ]
    results = estimates.estimate_queue(
        now=now,
        provider_id=provider.id,
        provider=provider_now,
        queue=waiting,
        model=model,
        order_keys=[ln.visit.order_key for ln in lines],
        priorities=[ln.visit.priority for ln in lines],
        upcoming=upcoming,
    )
    for ln, result in zip(lines, results, strict=True):
        ln.position = result.position
        ln.estimate_minutes = result.minutes


def _estimate_unassigned(
    unassigned: ProviderQueue,
    queues: list[ProviderQueue],
    model: estimates.DurationModel,
    fallback: Fallback,
) -> None:
    """Walk-ins nobody has taken yet: the first provider to be free takes the next one,
    so the wait is the shortest provider backlog plus the walk-ins ahead shared among
    the providers seeing patients."""
    seeing = [q for q in queues if q.provider is not None and q.state != ProviderState.AWAY]
    backlogs: list[float] = []
    for queue in seeing:
        ahead_of_walk_ins = [*queue.called, *queue.waiting]
        if queue.provider is None or not ahead_of_walk_ins:
            backlogs.append(0.0)
            continue
        tail = ahead_of_walk_ins[-1]
        backlogs.append(
            (tail.estimate_minutes or 0)
            + model.expected(
                queue.provider.id, tail.visit.type_id, fallback(tail.visit, queue.provider)
            )
        )
    shortest = min(backlogs) if backlogs else None
    ahead = 0.0
    for index, ln in enumerate(unassigned.waiting):
        ln.position = index + 1
        if shortest is not None:
            ln.estimate_minutes = round(shortest + ahead / max(1, len(seeing)))
        ahead += fallback(ln.visit, None)


def patients_on(board: Board) -> list[uuid.UUID]:
    """The patients a board names (on its lines; done and left are only counted)."""
    return [
        line.visit.patient_id
        for queue in board.queues
        for line in [queue.current, *queue.called, *queue.waiting]
        if line is not None
    ]


async def read_board(session: AsyncSession, *, actor: Actor, location_id: uuid.UUID) -> Board:
    """The board for a staff screen or the API, its patients recorded as read by
    ``actor``. The waiting-room display uses ``location_board``: it shows tokens only."""
    found = await location_board(session, location_id)
    await audit.record_list_read(session, actor=actor, patient_ids=patients_on(found), view="queue")
    return found


async def board_for_visit(session: AsyncSession, visit: Visit) -> tuple[Board, Line | None]:
    board = await location_board(session, visit.location_id)
    return board, board.line_of(visit.id)
