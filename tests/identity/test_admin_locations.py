"""Locations edited on /admin/organization keep their time zone (scheduling reads hours
in it), and a bad zone is refused with a message."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Location, Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, create_user


async def test_location_time_zone_is_set_kept_and_validated(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    added = await admin.post(
        "/admin/locations", data={"name": "Lakeside", "time_zone": "America/Chicago"}
    )
    assert added.status_code == 303
    await scope_to_tenant(session, clinic.id)
    location = (await session.scalars(select(Location).where(Location.name == "Lakeside"))).one()
    assert location.time_zone == "America/Chicago"
    page = await admin.get("/admin/organization")
    assert 'value="America/Chicago"' in page.text

    cleared = await admin.post(
        f"/admin/locations/{location.id}",
        data={"version": str(location.version), "name": "Lakeside", "time_zone": ""},
    )
    assert cleared.status_code == 303
    stored = await session.scalar(
        select(Location.time_zone)
        .where(Location.id == location.id)
        .execution_options(populate_existing=True)
    )
    assert stored is None  # the organization's zone from now on

    refused = await admin.post(
        "/admin/locations", data={"name": "Nowhere", "time_zone": "Mars/Olympus"}
    )
    assert refused.status_code == 400
    assert "IANA" in refused.text


async def test_a_refused_settings_form_marks_each_field_and_keeps_what_was_typed(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    """One message per field, next to it, and nothing the admin typed is lost."""
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    await scope_to_tenant(session, clinic.id)
    organization = await session.get(Organization, clinic.id)
    assert organization is not None
    refused = await admin.post(
        "/admin/organization",
        data={
            "version": str(organization.version),
            "name": "Renamed Clinic",
            "time_zone": "Mars/Olympus",
            "locale": "en",
            "currency": "ZZ9",
            "country": "US",
            "date_format": "YYYY-MM-DD",
        },
    )
    assert refused.status_code == 400
    page = refused.text
    assert 'aria-invalid="true" aria-describedby="e-time_zone"' in page
    assert 'id="e-time_zone" class="field-error"' in page
    assert 'id="e-currency" class="field-error"' in page
    assert 'id="e-name" class="field-error"' not in page
    assert 'value="Renamed Clinic"' in page  # typed, not the stored name
    assert 'value="Mars/Olympus"' in page
    assert "Please correct the marked fields." in page

    new_location = await admin.post(
        "/admin/locations", data={"name": "Hilltop", "rooms": "A, B", "time_zone": "Nowhere/X"}
    )
    assert new_location.status_code == 400
    assert 'id="new-time_zone-error" class="field-error"' in new_location.text
    assert 'value="Hilltop"' in new_location.text and 'value="A, B"' in new_location.text
    assert 'id="e-time_zone"' not in new_location.text  # the organization form is untouched


async def test_the_location_form_holds_rooms_to_the_rooms_page_rule(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    """Rooms typed in the location form obey what the Rooms page does: at most 40
    characters, one name whatever its case."""
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    too_long = await admin.post("/admin/locations", data={"name": "Eastside", "rooms": "R" * 41})
    assert too_long.status_code == 400
    assert "40 characters" in too_long.text
    twice = await admin.post(
        "/admin/locations", data={"name": "Eastside", "rooms": "Room 1, room 1"}
    )
    assert twice.status_code == 400
    assert "listed twice" in twice.text
    await scope_to_tenant(session, clinic.id)
    assert (await session.scalars(select(Location).where(Location.name == "Eastside"))).all() == []
