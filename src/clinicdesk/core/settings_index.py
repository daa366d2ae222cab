"""The sections of the settings area (``/admin/settings``): each domain lists the admin
pages it owns as ``SettingsSection``s in its views package (``SETTINGS``), and the web
shell's index page shows those the signed-in person may open. A new domain (clinical,
billing, notifications) adds its sections the same way, next to the others."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid
from clinicdesk.core.permissions import Permission


@dataclass(frozen=True, slots=True)
class SettingsSection:
    title: str
    href: str
    summary: str
    permission: Permission = Permission.ADMIN_SETTINGS


@dataclass(frozen=True, slots=True)
class Refused:
    """A settings form that was refused, to show again: which form on the page, the one
    sentence for its top, a message per field (next to each field) and what was typed."""

    form: str
    message: str
    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, form: str, error: ClinicError, values: Mapping[str, object]) -> Refused:
        errors = error.fields if isinstance(error, FormInvalid) else {}
        return cls(form=form, message=error.detail, errors=errors, values=values)
