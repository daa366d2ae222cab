"""What other domains (and the house's live stream) may use of the queue: resolving the
secret links of a waiting-room display and of a patient's status page, the day at a
glance for the home page (a location's day, a provider's own day), and the signal that a
visit started or finished (the consultation's encounter follows it), a visit by id and the
signed-in user's provider record.
"""

from clinicdesk.queue.errors import NotAProvider
from clinicdesk.queue.models import Visit
from clinicdesk.queue.service.board import Board, location_board
from clinicdesk.queue.service.common import get_visit
from clinicdesk.queue.service.flow import finish as finish_visit
from clinicdesk.queue.service.links import (
    DisplayAccess,
    VisitAccess,
    resolve_display,
    resolve_visit,
    someone_asked_for_a_text,
)
from clinicdesk.queue.service.providers import provider_of
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
from clinicdesk.queue.signals import (
    QueueMoved,
    VisitFinished,
    VisitStarted,
    queue_moved,
    visit_finished,
    visit_started,
)
from clinicdesk.queue.vocabulary import VisitStatus

__all__ = [
    "LIVE_EVENTS",
    "Board",
    "DayLine",
    "DeskDay",
    "DisplayAccess",
    "NotAProvider",
    "ProviderDay",
    "QueueGlance",
    "QueueLine",
    "QueueMoved",
    "Visit",
    "VisitAccess",
    "VisitFinished",
    "VisitStarted",
    "VisitStatus",
    "desk_day",
    "finish_visit",
    "get_visit",
    "location_board",
    "provider_day",
    "provider_of",
    "queue_moved",
    "resolve_display",
    "resolve_visit",
    "someone_asked_for_a_text",
    "visit_finished",
    "visit_started",
]
