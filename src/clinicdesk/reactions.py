"""Which domain reacts to which signal: every handler is connected here, once, when the
application (or a CLI command, or the test session) is built. ``core.signals`` says what
a handler may do; each domain's ``reactions`` module holds its handlers."""

from __future__ import annotations

from clinicdesk.billing import reactions as billing
from clinicdesk.clinical import reactions as clinical
from clinicdesk.notifications import reactions as notifications
from clinicdesk.queue import reactions as queue
from clinicdesk.scheduling import reactions as scheduling


def connect_reactions() -> None:
    """Connect every domain's handlers (idempotent: a second call changes nothing)."""
    scheduling.connect()
    queue.connect()
    clinical.connect()
    billing.connect()
    notifications.connect()
