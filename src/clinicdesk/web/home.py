"""The home page: the cards a person works from today, chosen by their roles.

A card is a function of the request (``Seat``: who asks, the session, the location they
chose) that returns what to show (``Shown``: a template and its context) or None when it
has nothing for this person. ``@card("name", Role.X, ...)`` registers it with the roles
that see it, in the order the page shows cards; a role never gets another role's card,
and a person with two roles gets both sets. Each card reads the owning domain's public
face (``queue.public``, ``scheduling.public``, ``identity.public``), never a table: the
clinical, billing and notification cards join the same way when those domains arrive.

A card's template is a partial whose ``{% block card %}`` is the card itself: the page
includes it, and ``GET /home/{name}`` answers htmx with that block alone (a live card
reloads itself from there when the queue changes).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing import public as billing_public
from clinicdesk.clinical import public as clinical
from clinicdesk.config import Settings
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.permissions import Permission
from clinicdesk.core.runtime import Runtime
from clinicdesk.core.templating import is_htmx
from clinicdesk.identity import public as identity
from clinicdesk.identity.permissions import Role
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling


@dataclass(frozen=True, slots=True)
class Seat:
    """What a card is given: the request and who sits in front of it."""

    request: Request
    session: AsyncSession
    actor: Actor
    runtime: Runtime
    location_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """A card as the page shows it."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    live: bool = False  # reloads itself on the queue's live events
    wide: bool = False  # takes the page's whole width


Loader = Callable[[Seat], Awaitable[Shown | None]]


@dataclass(frozen=True, slots=True)
class Card:
    name: str
    roles: frozenset[str]
    load: Loader


@dataclass(frozen=True, slots=True)
class ShownCard:
    name: str
    shown: Shown


CARDS: dict[str, Card] = {}


def card(name: str, *roles: Role) -> Callable[[Loader], Loader]:
    """Register a home card for ``roles`` (in the order the page shows them)."""

    def register(load: Loader) -> Loader:
        if name in CARDS:
            raise ValueError(f"home card {name!r} is registered twice")
        CARDS[name] = Card(name=name, roles=frozenset(roles), load=load)
        return load

    return register


def cards_of(actor: Actor) -> list[Card]:
    """The cards ``actor``'s roles see, in page order."""
    return [c for c in CARDS.values() if c.roles & actor.roles]


async def load_cards(seat: Seat, cards: list[Card]) -> list[ShownCard]:
    found = []
    for each in cards:
        shown = await each.load(seat)
        if shown is not None:
            found.append(ShownCard(each.name, shown))
    return found


def live_events() -> str:
    """The event names a page with a live card listens to."""
    return " ".join(queue.LIVE_EVENTS)


def clock(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """``10:42`` in the location's time zone."""

    def show(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%H:%M") if value else "—"

    return show


# Where a patient of today's list is: the visit's step once checked in, else the
# appointment's status. Each shows as a word (the colour only repeats it).
WHERE_WORDS: dict[str, str] = {
    "proposed": "Proposed",
    "pending": "Pending",
    "booked": "Booked",
    "arrived": "Arrived",
    "checked-in": "Checked in",
    "fulfilled": "Seen",
    "noshow": "No-show",
    "cancelled": "Cancelled",
    "waiting": "Waiting",
    "called": "Called",
    "in_consultation": "In consultation",
    "done": "Seen",
    "left": "Left unseen",
}


# --- the front desk: today at a location -----------------------------------------------


@card("desk", Role.RECEPTIONIST, Role.NURSE)
async def desk(seat: Seat) -> Shown | None:
    """Today's appointments at a location with where each patient is, a one-click check
    in for those expected (for whoever may check in), the day's counts and the queue."""
    try:
        day = await queue.desk_day(seat.session, actor=seat.actor, location_id=seat.location_id)
    except ClinicError as error:  # no location yet
        return Shown("web/home/_notice.html", {"title": "Today", "message": error.detail})
    return Shown(
        "web/home/_desk.html",
        {
            "day": day,
            "clock": clock(day.zone),
            "where_words": WHERE_WORDS,
            "can_check_in": seat.actor.can(Permission.QUEUE_WRITE),
        },
        live=True,
        wide=True,
    )


# --- a provider's own day ----------------------------------------------------------------


@card("my-day", Role.DOCTOR, Role.NURSE)
async def my_day(seat: Seat) -> Shown | None:
    """The provider's queue (with them, called, waiting) and their appointments today.
    A nurse who sees no patients of their own has the front desk's card instead."""
    try:
        day = await queue.provider_day(seat.session, actor=seat.actor, location_id=seat.location_id)
    except queue.NotAProvider as error:
        if Role.DOCTOR not in seat.actor.roles:
            return None
        return Shown("web/home/_notice.html", {"title": "My queue", "message": error.detail})
    except ClinicError as error:  # a provider who works nowhere yet
        return Shown("web/home/_notice.html", {"title": "My queue", "message": error.detail})
    return Shown(
        "web/home/_my_day.html",
        {"day": day, "clock": clock(day.zone), "where_words": WHERE_WORDS},
        live=True,
        wide=True,
    )


@card("open-consultations", Role.DOCTOR)
async def open_consultations(seat: Seat) -> Shown | None:
    """Consultations the doctor has not finished (a visit done with the note unsigned
    leaves its consultation open): each with what is left and a link back into it."""
    found = await clinical.my_open_consultations(seat.session, actor=seat.actor)
    if not found:
        return None
    return Shown("web/home/_open_consultations.html", {"open": found})


@card("results-to-review", Role.DOCTOR)
async def results_to_review(seat: Seat) -> Shown | None:
    """Results of the doctor's orders not yet signed off, critical and abnormal first."""
    found = await clinical.results_to_review(seat.session, actor=seat.actor, limit=6)
    if not found:
        return None
    return Shown("web/home/_results_to_review.html", {"results": found})


# --- the administrator: set-up and system status --------------------------------------


Status = Literal["done", "todo", "check", "info"]


@dataclass(frozen=True, slots=True)
class SetupItem:
    """One line of the set-up checklist: what, how it stands, where it is fixed."""

    title: str
    status: Status
    detail: str
    href: str | None = None
    link_text: str | None = None


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


_UTC = frozenset({"UTC", "Etc/UTC"})


def _organization(org: identity.OrganizationSetup) -> SetupItem:
    organization = org.organization
    zones = {loc.time_zone for loc in org.locations if loc.time_zone}
    # UTC everywhere is what a new organization starts with: most clinics are elsewhere.
    all_utc = organization.time_zone in _UTC and not zones - _UTC
    detail = (
        f"{organization.name} · time zone {organization.time_zone} · currency "
        f"{organization.currency} · dates {organization.date_format}."
    )
    if all_utc:
        detail += " Times show in UTC: if the clinic is elsewhere, choose its time zone."
    return SetupItem(
        "Organization details",
        "check" if all_utc else "done",
        detail,
        "/admin/organization",
        "Organization settings",
    )


def _locations(org: identity.OrganizationSetup) -> SetupItem:
    if not org.locations:
        return SetupItem(
            "Locations",
            "todo",
            "No location yet: nothing can be booked and nobody checked in.",
            "/admin/organization",
            "Add the first location",
        )
    detail = ", ".join(loc.name for loc in org.locations) + "."
    bare = [loc.name for loc in org.locations if not loc.rooms]
    if not bare:
        return SetupItem(
            _plural(len(org.locations), "location").capitalize(),
            "done",
            detail,
            "/admin/organization",
            "Locations",
        )
    detail += f" No rooms listed at {', '.join(bare)}: a call cannot say where to go."
    return SetupItem(
        _plural(len(org.locations), "location").capitalize(),
        "check",
        detail,
        "/admin/settings/rooms",
        "Rooms",
    )


def _staff(org: identity.OrganizationSetup) -> SetupItem:
    others = org.staff - org.staff_by_role.get(Role.ADMIN, 0)
    roles = [
        _plural(count, role.value)
        for role in Role
        if role != Role.ADMIN and (count := org.staff_by_role.get(role, 0))
    ]
    detail = ", ".join(roles) + "." if roles else "Only administrators have accounts."
    if org.not_joined:
        waiting = _plural(org.not_joined, "person has", "people have")
        detail += f" {waiting} not accepted the invitation yet."
    status: Status = "todo" if others == 0 else "check" if org.not_joined else "done"
    return SetupItem("Staff", status, detail, "/admin/users", "Invite staff")


def _providers(schedule: scheduling.ScheduleSetup) -> SetupItem:
    href, label = "/admin/settings/providers", "Providers and hours"
    if not schedule.providers:
        return SetupItem(
            "Providers and working hours",
            "todo",
            "Nobody sees patients yet: add the doctors and nurses patients book with.",
            href,
            label,
        )
    detail = _plural(len(schedule.providers), "provider")
    missing = [p.display_name for p in schedule.without_hours]
    if missing:
        detail += f". No working hours yet: {', '.join(missing)} (nobody can book them)."
    else:
        detail += ", all with working hours."
    return SetupItem(
        "Providers and working hours", "todo" if missing else "done", detail, href, label
    )


def _types(schedule: scheduling.ScheduleSetup) -> SetupItem:
    href, label = "/admin/settings/appointment-types", "Appointment types"
    if not schedule.types:
        detail = "No appointment type yet: nothing can be booked."
    else:
        detail = _plural(schedule.types, "type") + " to book."
    return SetupItem("Appointment types", "done" if schedule.types else "todo", detail, href, label)


def _mail(settings: Settings) -> SetupItem:
    if settings.smtp_url is not None:
        return SetupItem("E-mail", "done", "Sent through the SMTP server set on this server.")
    return SetupItem(
        "E-mail",
        "check",
        "Not sent: invitations, password resets and reminders are written to files on "
        "the server. Set CLINICDESK_SMTP_URL on the server to send them.",
    )


def _admin_mfa(org: identity.OrganizationSetup) -> SetupItem:
    title = "Two-factor sign-in for administrators"
    if not org.organization.mfa_required_for_admins:
        return SetupItem(
            title,
            "check",
            "Not required: an administrator's password alone opens everything.",
            "/admin/organization",
            "Organization settings",
        )
    if org.admins_without_mfa:
        who = _plural(org.admins_without_mfa, "administrator has", "administrators have")
        return SetupItem(
            title, "check", f"Required; {who} not set it up yet.", "/admin/users", "Staff"
        )
    return SetupItem(title, "done", "Required, and every administrator has it.")


def _keys_and_backups(settings: Settings) -> SetupItem:
    # The server cannot see where backups go (cron writes them elsewhere): a note, not a
    # tick that could only ever be a guess.
    where = (
        "The encryption keys were generated on this server, in the data directory's secrets folder"
        if settings.field_encryption_key is None
        else "The field encryption key comes from the server's settings"
    )
    return SetupItem(
        "Keys and backups",
        "info",
        f"{where}: keep a copy somewhere safe, apart from the backups. ClinicDesk cannot "
        "see your backups from here: run “clinicdesk backup” every night and “clinicdesk "
        "backup verify” now and then (README, “Backups”).",
    )


def setup_checklist(
    org: identity.OrganizationSetup,
    schedule: scheduling.ScheduleSetup,
    settings: Settings,
) -> list[SetupItem]:
    """What a clinic needs before its first morning, each item computed from what is
    really there, each linking to the page where it is done."""
    return [
        _organization(org),
        _locations(org),
        _staff(org),
        _providers(schedule),
        _types(schedule),
        _mail(settings),
        _admin_mfa(org),
        _keys_and_backups(settings),
    ]


@card("setup", Role.ADMIN)
async def setup(seat: Seat) -> Shown | None:
    """The set-up checklist, computed from the organization's real data."""
    items = setup_checklist(
        await identity.organization_setup(seat.session),
        await scheduling.schedule_setup(seat.session),
        seat.runtime.settings,
    )
    done = sum(1 for item in items if item.status == "done")
    counted = sum(1 for item in items if item.status != "info")
    return Shown(
        "web/home/_setup.html",
        {"checklist": items, "done": done, "counted": counted},
    )


@card("system-status", Role.ADMIN)
async def system_status(seat: Seat) -> Shown | None:
    """The readiness figures (the card loads itself from /system-status)."""
    return Shown("web/home/_system_status.html", {"database_kind": seat.runtime.db.kind})


# --- billing ----------------------------------------------------------------------------


@card("billing", Role.BILLING)
async def billing(seat: Seat) -> Shown | None:
    """Where the billing desk starts: the drafts to issue, a patient's invoices, the
    fee schedule and the other settings billing keeps."""
    return Shown("web/home/_billing.html", {"can_search": seat.actor.can(Permission.PATIENTS_READ)})


CHECKOUT_SHOWN = 8


@card("checkout", Role.RECEPTIONIST, Role.BILLING)
async def checkout(seat: Seat) -> Shown | None:
    """Today's finished consultations still to settle (their invoice a draft, or issued
    with something due), each one click from its checkout panel. No card on a page
    with none to settle (it appears with the next page load once a consultation
    finishes); a card already shown that refreshes itself says so instead."""
    if not seat.actor.can(Permission.BILLING_READ):
        return None
    try:
        rows = await billing_public.to_check_out(
            seat.session, actor=seat.actor, limit=CHECKOUT_SHOWN
        )
    except ClinicError:  # no currency set yet: nothing can be invoiced
        return None
    if not rows and not is_htmx(seat.request):
        return None

    def money(amount: int, currency: str) -> str:
        return f"{billing_public.to_major(amount, currency):,}"

    return Shown("web/home/_checkout.html", {"rows": rows, "money": money}, live=True)
