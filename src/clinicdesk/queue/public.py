"""What other domains (and the house's live stream) may use of the queue: resolving the
secret links of a waiting-room display and of a patient's status page, and the signal
that a visit finished (clinical and billing react to it).
"""

from clinicdesk.queue.models import Visit
from clinicdesk.queue.service.links import (
    DisplayAccess,
    VisitAccess,
    resolve_display,
    resolve_visit,
)
from clinicdesk.queue.signals import VisitFinished, visit_finished

__all__ = [
    "DisplayAccess",
    "Visit",
    "VisitAccess",
    "VisitFinished",
    "resolve_display",
    "resolve_visit",
    "visit_finished",
]
