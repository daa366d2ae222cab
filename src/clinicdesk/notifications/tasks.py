"""Background jobs and schedules of notifications, registered on the application's job
registry (``serve`` and ``clinicdesk worker`` build the same one)."""

from __future__ import annotations

from clinicdesk.core.jobs import JobRegistry


def register_notification_jobs(registry: JobRegistry) -> None:
    """Every job kind and schedule of notifications."""
