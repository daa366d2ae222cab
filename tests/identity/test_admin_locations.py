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
