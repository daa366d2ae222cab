"""Errors of the audit domain."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError


class UnknownFilter(ClinicError):
    """A report parameter that is not a filter: refused rather than ignored, since an
    ignored filter would answer with the whole trail as if it had matched."""

    status_code = 422
    title = "Unknown filter"
    code = "unknown-filter"
