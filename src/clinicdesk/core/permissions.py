"""The named permissions of ClinicDesk: the vocabulary every domain's routes declare
(``require(Permission.AUDIT_READ)``). Which role holds which permission is identity's
written access policy (``identity/permissions.py``).
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"
    PATIENTS_INSURANCE = "patients:insurance"
    PAYERS_MANAGE = "patients:payers"
    CLINICAL_READ = "clinical:read"
    CLINICAL_WRITE = "clinical:write"
    VITALS_WRITE = "clinical:vitals"
    ALLERGIES_WRITE = "clinical:allergies"
    PRESCRIBE = "clinical:prescribe"
    SCHEDULING_READ = "scheduling:read"
    SCHEDULING_WRITE = "scheduling:write"
    SCHEDULING_OVERBOOK = "scheduling:overbook"
    QUEUE_WRITE = "queue:write"
    QUEUE_DISPLAYS = "queue:displays"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    REPORTS_READ = "reports:read"
    AUDIT_READ = "audit:read"
    ORGANIZATION_READ = "organization:read"
    ADMIN_USERS = "admin:users"
    ADMIN_SETTINGS = "admin:settings"
    # Money going back or records of money undone: credit notes, refunds, voids.
    BILLING_REFUND = "billing:refund"
    # Patient messaging: the messages log (reception and the admin), and its settings,
    # templates, test sends and connection tests (the admin).
    NOTIFICATIONS_READ = "notifications:read"
    NOTIFICATIONS_MANAGE = "notifications:manage"
    # Every staff member reads their own in-app alerts (notifications, issue 17).
    ALERTS_READ = "alerts:read"
