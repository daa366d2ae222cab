"""The queue's handlers of signals, connected when the application is built."""

from __future__ import annotations

from clinicdesk.patients.public import patient_merged
from clinicdesk.queue.service import patient_merge


def connect() -> None:
    patient_merged.connect(patient_merge.move_to_kept_patient)
