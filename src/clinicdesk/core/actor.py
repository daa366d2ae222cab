"""Who is acting: the identity a request (or a job) runs as.

Produced by the identity domain from a session cookie or a bearer token, consumed by
permission checks, tenant scoping and the audit trail. Plain data: no database access.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class ActorKind(StrEnum):
    STAFF = "staff"
    PATIENT = "patient"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    patient_id: uuid.UUID | None = None
    """For a patient (portal) user: the patient record they may see."""
    session_id: uuid.UUID | None = None
    """The web session or token family the request came with (to mark "this device")."""

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def is_authenticated(self) -> bool:
        return self.kind in (ActorKind.STAFF, ActorKind.PATIENT)


ANONYMOUS = Actor(kind=ActorKind.ANONYMOUS)
SYSTEM = Actor(kind=ActorKind.SYSTEM)
