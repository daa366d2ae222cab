"""The staff's in-app alerts: raise one (``notify_staff``), count, list and read them.

Rules:
* An alert is for one staff member (``user_id``) or for everyone holding a role
  (``role``; "receptionist" is the front desk's inbox), delivered when it is raised: a
  row per recipient, each with its own read mark (``alert_models`` says why). A role's
  alert is shown only while the reader still holds the role.
* An alert about a patient is shown only to those the record is open to: a restricted
  record's alerts reach its care team and live break-glass grants only (the rule of
  ``patients.check_restricted``, applied in the query, so the count agrees with the list).
* Everything is the session's organization's: another organization's alert is not found.
* ``notify_staff`` writes in the caller's transaction and publishes its live event after
  commit; a rolled-back change raises no alert. It writes no audit entry: an alert is not
  a change to patient data, it points at one that its producer already recorded in the
  same transaction (a result entered, an offer booked). Reading a list of alerts that
  names patients is a read and is recorded as one; marking an alert read is the reader's
  own screen state and is not.
* Alerts are pointers, not records: those older than ``KEEP_DAYS`` are deleted when the
  organization's next alert is raised (a range of an index, usually empty), so the table
  stays the size of a quarter's alerts and patients' names do not linger in it. The
  records they pointed at (the result, the appointment) and the audit trail stay.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import write_after_read
from clinicdesk.core.errors import Forbidden
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, BadCursor
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.identity import public as identity
from clinicdesk.notifications.alert_models import StaffAlert, StaffAlertRecipient
from clinicdesk.notifications.alert_schemas import RAISED, READ, AlertKind
from clinicdesk.notifications.errors import AlertNotFound
from clinicdesk.patients import public as patients

KEEP_DAYS = 90
TITLE_MAX = 200
BODY_MAX = 1000
LINK_MAX = 500

A = StaffAlert
R = StaffAlertRecipient


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as its reader sees it: ``read_at`` is when *they* read it."""

    id: uuid.UUID
    kind: AlertKind
    title: str
    body: str | None
    link: str | None
    patient_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


@dataclass(frozen=True, slots=True)
class AlertList:
    items: list[Alert]
    next_cursor: str | None
    unread: int  # all the reader's unread alerts, not only this page's


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _in_app(link: str | None) -> str | None:
    """Only a path of this site: the alert page redirects to it."""
    if link is None:
        return None
    if not link.startswith("/") or link.startswith(("//", "/\\")) or len(link) > LINK_MAX:
        raise ValueError(f"an alert's link is a path of this site, not {link[:40]!r}")
    return link


async def notify_staff(
    session: AsyncSession,
    *,
    kind: AlertKind | str,
    title: str,
    body: str | None = None,
    link: str | None = None,
    patient_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    role: str | None = None,
) -> uuid.UUID:
    """Raise an alert for ``user_id`` (a staff member of this organization) or for every
    active staff member holding ``role``; exactly one of the two. In the caller's
    transaction; the recipients' headers hear of it after commit. ``link`` is a path of
    this site (``/orders/...``). Answers the alert's id."""
    if (user_id is None) == (role is None):
        raise ValueError("an alert is for a user or for a role, exactly one of them")
    organization_id = current_tenant(session)
    if user_id is not None:
        await identity.get_user(session, user_id)  # of this organization, or not found
        recipients = [user_id]
    else:
        recipients = await identity.active_staff_with_role(session, str(role))
    await _purge_old(session)
    alert = StaffAlert(
        id=new_id(),
        recipient_user_id=user_id,
        recipient_role=role,
        kind=AlertKind(kind).value,
        title=_clip(title, TITLE_MAX) or AlertKind(kind).label,
        body=_clip(body, BODY_MAX) if body else None,
        link=_in_app(link),
        patient_id=patient_id,
        created_at=utcnow(),
    )
    session.add(alert)
    await session.flush()
    session.add_all(StaffAlertRecipient(alert_id=alert.id, user_id=u) for u in recipients)
    await session.flush()
    address = {"user_id": str(user_id)} if user_id is not None else {"role": role}
    publish_after_commit(
        session,
        Event(
            organization_id=organization_id,
            type=RAISED,
            data={"alert_id": str(alert.id), **address},
        ),
    )
    return alert.id


async def _purge_old(session: AsyncSession) -> None:
    cutoff = utcnow() - timedelta(days=KEEP_DAYS)
    await session.execute(
        delete(StaffAlertRecipient)
        .where(R.alert_id.in_(select(A.id).where(A.created_at < cutoff)))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(StaffAlert).where(A.created_at < cutoff).execution_options(synchronize_session=False)
    )


def _reader(actor: Actor) -> uuid.UUID:
    if actor.kind != ActorKind.STAFF or actor.user_id is None:
        raise Forbidden("Alerts are for staff members.")
    return actor.user_id


def _still_for(actor: Actor, user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """Alerts the reader may still see: the role held, the record open to them."""
    return [
        or_(A.recipient_role.is_(None), A.recipient_role.in_(sorted(actor.roles))),
        or_(A.patient_id.is_(None), ~patients.closed_to(user_id, A.patient_id)),
    ]


def _shown_to(actor: Actor, user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """The reader's own copies of the alerts they may still see. The alert is asked
    about row by row (EXISTS on its key), so a query over these is driven by the
    reader's own rows (an index range), whatever the planner knows of the tables."""
    visible = select(A.id).where(A.id == R.alert_id, *_still_for(actor, user_id)).exists()
    return [R.user_id == user_id, visible]


async def unread_count(session: AsyncSession, *, actor: Actor) -> int:
    """The reader's unread alerts: one query over the unread rows' partial index."""
    me = _reader(actor)
    statement = (
        select(func.count()).select_from(R).where(R.read_at.is_(None), *_shown_to(actor, me))
    )
    return int(await session.scalar(statement) or 0)


def _rows(actor: Actor, me: uuid.UUID) -> Select[StaffAlert, datetime | None]:
    """One alert with the reader's read mark (a look-up by the alert's key)."""
    return (
        select(A, R.read_at)
        .join(R, R.alert_id == A.id)
        .where(R.user_id == me, *_still_for(actor, me))
    )


async def _page(
    session: AsyncSession, statement: Select[uuid.UUID, datetime | None]
) -> list[tuple[StaffAlert, datetime | None]]:
    """The page's rows of the reader's (ids and read marks, from their index), then
    their alerts by key."""
    marks = (await session.execute(statement)).all()
    found = {
        a.id: a for a in await session.scalars(select(A).where(A.id.in_([m[0] for m in marks])))
    }
    return [(found[alert_id], read_at) for alert_id, read_at in marks if alert_id in found]


def _alert(alert: StaffAlert, read_at: datetime | None) -> Alert:
    return Alert(
        id=alert.id,
        kind=AlertKind(alert.kind),
        title=alert.title,
        body=alert.body,
        link=alert.link,
        patient_id=alert.patient_id,
        created_at=alert.created_at,
        read_at=read_at,
    )


def encode_before(alert_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(alert_id.bytes).decode().rstrip("=")


def decode_before(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadCursor("The cursor is not valid; start again from the first page.") from exc


async def list_alerts(
    session: AsyncSession,
    *,
    actor: Actor,
    unread_only: bool = False,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> AlertList:
    """The reader's alerts, newest first, a page of ``limit`` after the cursor
    ``before``. It names patients, so it is recorded as a list read."""
    me = _reader(actor)
    limit = max(1, min(limit, MAX_LIMIT))
    statement = select(R.alert_id, R.read_at).where(*_shown_to(actor, me))
    if unread_only:
        statement = statement.where(R.read_at.is_(None))
    after = decode_before(before)
    if after is not None:
        statement = statement.where(R.alert_id < after)
    rows = await _page(session, statement.order_by(R.alert_id.desc()).limit(limit + 1))
    shown = [_alert(alert, read_at) for alert, read_at in rows[:limit]]
    await audit.record_list_read(
        session,
        actor=actor,
        patient_ids=[a.patient_id for a in shown if a.patient_id is not None],
        view="staff alerts",
    )
    more = len(rows) > limit
    return AlertList(
        items=shown,
        next_cursor=encode_before(shown[-1].id) if more else None,
        unread=await unread_count(session, actor=actor),
    )


async def mark_read(session: AsyncSession, *, actor: Actor, alert_id: uuid.UUID) -> Alert:
    """Mark one of the reader's alerts read (again: it stays read when it was). Another
    person's, another organization's, or one the reader may no longer see is not found.
    The reader's other screens hear of it."""
    me = _reader(actor)
    row = (await session.execute(_rows(actor, me).where(A.id == alert_id))).first()
    if row is None:
        raise AlertNotFound("No alert with this id.")
    alert, read_at = row
    if read_at is None:
        read_at = utcnow()
        mark = (
            update(R)
            .where(R.alert_id == alert_id, R.user_id == me, R.read_at.is_(None))
            .values(read_at=read_at)
            .execution_options(synchronize_session=False)
        )
        # Opening an alert is a GET (a link): on SQLite its read mark follows the read,
        # like the read's audit entry, instead of taking the write lock inside it.
        if not write_after_read(session, mark):
            await session.execute(mark)
        _tell_my_screens(session, actor, me)
    if alert.patient_id is not None:
        await audit.record_list_read(
            session, actor=actor, patient_ids=[alert.patient_id], view="staff alerts"
        )
    return _alert(alert, read_at)


async def mark_all_read(session: AsyncSession, *, actor: Actor) -> int:
    """Mark every alert the reader can see read; answers how many were unread."""
    me = _reader(actor)
    # Correlated with the row being updated: only the reader's unread rows are visited.
    result = await session.execute(
        update(R)
        .where(R.read_at.is_(None), *_shown_to(actor, me))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    marked = int(getattr(result, "rowcount", 0) or 0)
    if marked:
        _tell_my_screens(session, actor, me)
    return marked


def _tell_my_screens(session: AsyncSession, actor: Actor, me: uuid.UUID) -> None:
    organization_id = actor.organization_id or current_tenant(session)
    publish_after_commit(
        session, Event(organization_id=organization_id, type=READ, data={"user_id": str(me)})
    )
