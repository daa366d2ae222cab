"""Errors of notifications, each with its status."""

from __future__ import annotations

from clinicdesk.core.errors import NotFound


class AlertNotFound(NotFound):
    title = "Alert not found"
    code = "alert-not-found"
