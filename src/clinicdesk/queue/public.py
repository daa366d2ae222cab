"""What other domains (and the house's live stream) may use of the queue: resolving the
secret links of a waiting-room display and of a patient's status page, the day at a
glance for the home page (a location's day, a provider's own day), and the signal that a
visit finished (clinical and billing react to it).
"""

from clinicdesk.queue.errors import NotAProvider
from clinicdesk.queue.models import Visit
from clinicdesk.queue.service.links import (
    DisplayAccess,
    VisitAccess,
    resolve_display,
    resolve_visit,
)
from clinicdesk.queue.service.today import (
    LIVE_EVENTS,
    DayLine,
    DeskDay,
    ProviderDay,
    QueueGlance,
    QueueLine,
    desk_day,
    provider_day,
)
from clinicdesk.queue.signals import VisitFinished, visit_finished

__all__ = [
    "LIVE_EVENTS",
    "DayLine",
    "DeskDay",
    "DisplayAccess",
    "NotAProvider",
    "ProviderDay",
    "QueueGlance",
    "QueueLine",
    "Visit",
    "VisitAccess",
    "VisitFinished",
    "desk_day",
    "provider_day",
    "resolve_display",
    "resolve_visit",
    "visit_finished",
]
