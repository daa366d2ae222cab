"""Inviting an address that already has an account in another organization."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, create_org, create_user


async def test_an_address_taken_in_another_organization_is_a_409_not_a_500(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    """Addresses are unique across the installation (sign-in asks for no organization),
    so the invitation cannot be made; the admin gets the same answer as for an address
    of their own organization, never an error page."""
    other = await create_org(session, "Elsewhere Clinic")
    await create_user(session, other, Role.NURSE, email="taken@example.org")
    await create_user(session, clinic, Role.NURSE, email="mine@example.org")
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    answers = [
        await admin.post(
            "/api/v1/users",
            json={"email": email, "full_name": "Someone Else", "roles": ["nurse"]},
        )
        for email in ("taken@example.org", "mine@example.org")
    ]
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
