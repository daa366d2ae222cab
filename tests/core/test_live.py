"""The registry of live-event rules: a prefix has one owner, the most specific prefix
decides, a kind without a rule and an unclaimed event get nothing, and another
organization's events never reach a rule."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.events import Event
from clinicdesk.core.live import Filter, Listener, LiveRules, Shown, requires

ORG = uuid.uuid4()


def tagged(tag: str) -> Filter:
    def rule(listener: Listener, event: Event) -> Shown:
        return event.type, {"by": tag}

    return rule


def test_the_most_specific_prefix_decides_and_unclaimed_events_go_to_nobody() -> None:
    rules = LiveRules()
    rules.register("billing.", staff=tagged("billing"))
    rules.register("billing.invoice.", staff=tagged("invoices"))
    staff = rules.selector(Listener(organization_id=ORG, kind="staff"))
    display = rules.selector(Listener(organization_id=ORG, kind="display"))

    assert staff(Event(ORG, "billing.payment", {})) == ("billing.payment", {"by": "billing"})
    assert staff(Event(ORG, "billing.invoice.issued", {})) == (
        "billing.invoice.issued",
        {"by": "invoices"},
    )
    assert display(Event(ORG, "billing.payment", {})) is None  # no rule for displays
    assert staff(Event(ORG, "clinical.note", {})) is None  # nobody claimed it
    assert staff(Event(uuid.uuid4(), "billing.payment", {})) is None  # another organization


def test_a_prefix_has_one_owner() -> None:
    rules = LiveRules()
    rules.register("queue.", staff=requires("scheduling:read"))
    with pytest.raises(ValueError, match="already claimed"):
        rules.register("queue.", display=requires("scheduling:read"))
    with pytest.raises(ValueError, match="empty"):
        rules.register("", staff=requires("scheduling:read"))


def test_requires_hands_the_whole_event_to_holders_of_the_permission() -> None:
    rules = LiveRules()
    rules.register("queue.", staff=requires("scheduling:read"))
    event = Event(ORG, "queue.called", {"token": "A-1"})
    allowed = Listener(
        organization_id=ORG, kind="staff", permissions=frozenset({"scheduling:read"})
    )
    assert rules.selector(allowed)(event) == ("queue.called", {"token": "A-1"})
    assert rules.selector(Listener(organization_id=ORG, kind="staff"))(event) is None


async def test_facts_loaders_fill_the_listener() -> None:
    rules = LiveRules()

    async def where(_session: AsyncSession, listener: Listener) -> None:
        listener.facts["test.where"] = "here"

    rules.add_facts(where)
    listener = Listener(organization_id=ORG, kind="patient")
    await rules.load_facts(None, listener)  # type: ignore[arg-type]  # the loader reads nothing
    assert listener.facts == {"test.where": "here"}
