"""What other domains may use of scheduling: who works where, the appointment types,
today's appointments at a location and the attendance marks the queue sets on them, how
far the schedule's set-up has come, the signal that time was freed, and the finished
appointments the no-show model learns from (with the risk column it writes).

Other domains hold and show ``Provider``, ``AppointmentType`` and ``Appointment``; they
never query scheduling's tables themselves (an import-linter contract protects
``scheduling.models`` and ``scheduling.service``; tests/test_architecture.py checks queries).
"""

from clinicdesk.scheduling.errors import CheckInTooEarly
from clinicdesk.scheduling.models import Appointment, AppointmentType, Provider
from clinicdesk.scheduling.service.attendance import (
    day_bounds,
    location_today,
    mark_arrived,
    mark_fulfilled,
    record_patient_confirmation,
)
from clinicdesk.scheduling.service.booking import cancel, get_appointment, mark_no_show
from clinicdesk.scheduling.service.calendar import appointments_between, find_between
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.service.no_show import (
    Attendance,
    FinishedAppointment,
    attendance_before,
    booked_between,
    no_show_history,
    set_no_show_risk,
)
from clinicdesk.scheduling.service.setup import (
    check_works_at,
    get_provider,
    get_type,
    list_providers,
    list_types,
    provider_locations,
    providers_at,
)
from clinicdesk.scheduling.service.setup_status import ScheduleSetup, schedule_setup
from clinicdesk.scheduling.service.waitlist import accept_offer
from clinicdesk.scheduling.service.waitlist import get_entry as get_waitlist_entry
from clinicdesk.scheduling.signals import (
    AppointmentChanged,
    AppointmentFreed,
    WaitlistOffered,
    appointment_changed,
    appointment_freed,
    waitlist_offered,
)
from clinicdesk.scheduling.vocabulary import AppointmentStatus

__all__ = [
    "Appointment",
    "AppointmentChanged",
    "AppointmentFreed",
    "AppointmentStatus",
    "AppointmentType",
    "Attendance",
    "CheckInTooEarly",
    "FinishedAppointment",
    "Provider",
    "ScheduleSetup",
    "WaitlistOffered",
    "accept_offer",
    "appointment_changed",
    "appointment_freed",
    "appointments_between",
    "attendance_before",
    "booked_between",
    "cancel",
    "check_works_at",
    "day_bounds",
    "find_between",
    "get_appointment",
    "get_provider",
    "get_type",
    "get_waitlist_entry",
    "list_providers",
    "list_types",
    "location_today",
    "location_zone",
    "mark_arrived",
    "mark_fulfilled",
    "mark_no_show",
    "no_show_history",
    "provider_locations",
    "providers_at",
    "record_patient_confirmation",
    "schedule_setup",
    "set_no_show_risk",
    "waitlist_offered",
]

# A waitlist offer accepted and booked (notifications tells the front desk).
from clinicdesk.scheduling.signals import WaitlistOfferAccepted, waitlist_offer_accepted

__all__ += ["WaitlistOfferAccepted", "waitlist_offer_accepted"]
