"""The roles of a clinic and which role may do what (the permissions are named in
``core/permissions.py``).

This map is the written access policy: routes declare the permission they need and the
role x route test checks every route against it. Change it here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from clinicdesk.core.permissions import Permission


class Role(StrEnum):
    ADMIN = "admin"
    DOCTOR = "doctor"
    NURSE = "nurse"
    RECEPTIONIST = "receptionist"
    BILLING = "billing"


P = Permission

# How a small clinic works: the front desk books, checks in and bills but does not read
# clinical notes; billing sees invoices and the demographics on them, not notes; a nurse
# records vitals; a doctor writes notes and prescribes; the admin runs users, settings,
# the audit trail and the reports, and may overbook a schedule, but reads no notes.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            P.ADMIN_USERS,
            P.ADMIN_SETTINGS,
            P.AUDIT_READ,
            P.REPORTS_READ,
            P.ORGANIZATION_READ,
            P.PATIENTS_READ,
            # The payers a clinic bills are part of how it is set up.
            P.PAYERS_MANAGE,
            P.SCHEDULING_READ,
            P.SCHEDULING_WRITE,
            P.SCHEDULING_OVERBOOK,
            P.BILLING_READ,
            P.QUEUE_DISPLAYS,
            # Only billing and the admin give money back or undo it (issue 16).
            P.BILLING_REFUND,
            # Patient messaging: the log, and how messages are timed and worded (issue 17).
            P.NOTIFICATIONS_READ,
            P.NOTIFICATIONS_MANAGE,
        }
    ),
    Role.DOCTOR: frozenset(
        {
            P.PATIENTS_READ,
            P.PATIENTS_WRITE,
            P.CLINICAL_READ,
            P.CLINICAL_WRITE,
            P.VITALS_WRITE,
            P.ALLERGIES_WRITE,
            P.PRESCRIBE,
            P.SCHEDULING_READ,
            P.SCHEDULING_WRITE,
            P.QUEUE_WRITE,
            P.REPORTS_READ,
            P.ORGANIZATION_READ,
        }
    ),
    Role.NURSE: frozenset(
        {
            P.PATIENTS_READ,
            P.PATIENTS_WRITE,
            P.CLINICAL_READ,
            P.VITALS_WRITE,
            # Allergies are taken at triage as often as by the doctor, and the
            # prescribing checks are only as good as the list.
            P.ALLERGIES_WRITE,
            P.SCHEDULING_READ,
            P.QUEUE_WRITE,
            P.ORGANIZATION_READ,
        }
    ),
    Role.RECEPTIONIST: frozenset(
        {
            P.PATIENTS_READ,
            P.PATIENTS_WRITE,
            P.SCHEDULING_READ,
            P.SCHEDULING_WRITE,
            P.QUEUE_WRITE,
            # The front desk sets up the waiting-room screen it works next to.
            P.QUEUE_DISPLAYS,
            # The front desk takes the insurance card at registration and check-in.
            P.PATIENTS_INSURANCE,
            P.BILLING_READ,
            P.BILLING_WRITE,
            P.ORGANIZATION_READ,
            # The desk answers for patients' messages: what went, what failed (issue 17).
            P.NOTIFICATIONS_READ,
        }
    ),
    Role.BILLING: frozenset(
        {
            P.PATIENTS_READ,
            # Billing corrects policies when a claim is refused, and keeps the payer list.
            P.PATIENTS_INSURANCE,
            P.PAYERS_MANAGE,
            P.BILLING_READ,
            P.BILLING_WRITE,
            P.REPORTS_READ,
            P.ORGANIZATION_READ,
            P.BILLING_REFUND,
        }
    ),
}

# Every staff role reads its own in-app alerts (what is addressed to the person or to
# their role): granted to each role here, so a new role gets it too.
ROLE_PERMISSIONS = {role: granted | {P.ALERTS_READ} for role, granted in ROLE_PERMISSIONS.items()}


def permissions_for(roles: Iterable[str]) -> frozenset[str]:
    """The union of the roles' permissions; unknown role names grant nothing."""
    granted: set[str] = set()
    for name in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(name)]
        except ValueError:
            continue
    return frozenset(granted)


def roles_with(permission: str) -> frozenset[Role]:
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)
