"""How far an organization's set-up has come, from identity's side: its details, its
locations, and who works there. Reads only; the admin's home turns it into a checklist."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Location, Organization, User, UserKind
from clinicdesk.identity.service.organizations import active_locations, get_organization

# A clinic has tens of staff; this bounds the read should an installation have thousands.
STAFF_READ_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class OrganizationSetup:
    organization: Organization
    locations: list[Location]  # the active ones, by name
    staff: int  # active staff accounts
    staff_by_role: dict[str, int] = field(default_factory=dict)
    not_joined: int = 0  # invited, no password set yet
    admins_without_mfa: int = 0


async def organization_setup(session: AsyncSession) -> OrganizationSetup:
    """The organization, its active locations, and its active staff counted by role."""
    organization = await get_organization(session)
    locations = await active_locations(session)
    rows = (
        await session.execute(
            select(User.roles, User.password_hash.is_(None), User.totp_enabled_at.is_(None))
            .where(User.kind == UserKind.STAFF, User.is_active.is_(True))
            .limit(STAFF_READ_LIMIT)
        )
    ).all()
    by_role: Counter[str] = Counter()
    not_joined = admins_without_mfa = 0
    for roles, no_password, no_mfa in rows:
        by_role.update(roles or [])
        not_joined += bool(no_password)
        admins_without_mfa += bool(no_mfa and "admin" in (roles or []))
    return OrganizationSetup(
        organization=organization,
        locations=locations,
        staff=len(rows),
        staff_by_role=dict(by_role),
        not_joined=not_joined,
        admins_without_mfa=admins_without_mfa,
    )
