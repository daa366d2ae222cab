"""Durable jobs: the outbox, the runner, retries and dead letters, periodic schedules.

* ``enqueue(session, KIND, payload)`` adds a job in the caller's transaction;
* a domain declares ``KIND = JobKind("domain.verb", PayloadModel)`` and registers its
  handler on the application's ``JobRegistry`` (``registry.register(KIND, handler)``);
* ``JobRunner`` runs them: inside ``clinicdesk serve`` and/or ``clinicdesk worker``;
* ``Schedule`` makes a job periodic, enqueued once per period by exactly one process;
* ``admin`` lists jobs and retries dead ones (the identity domain audits it).

Handlers run at least once, never "exactly once": make them safe to run twice.
"""

from clinicdesk.core.jobs.enqueue import enqueue
from clinicdesk.core.jobs.models import Job, JobStatus
from clinicdesk.core.jobs.registry import JobContext, JobKind, JobRegistry, Schedule
from clinicdesk.core.jobs.runner import (
    Backoff,
    JobRunner,
    PermanentJobError,
    run_due_jobs,
)

__all__ = [
    "Backoff",
    "Job",
    "JobContext",
    "JobKind",
    "JobRegistry",
    "JobRunner",
    "JobStatus",
    "PermanentJobError",
    "Schedule",
    "enqueue",
    "run_due_jobs",
]
