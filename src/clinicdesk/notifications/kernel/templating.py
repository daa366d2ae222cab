"""Rendering a message from its template, safely.

Templates are edited by the clinic's administrators, so they are rendered in Jinja's
immutable sandbox: a template sees only the plain strings of ``FIELDS`` (never a server
object), cannot call methods that change anything, and an unknown name is an error
(``StrictUndefined``) when the template is saved, not a blank in a patient's message.
Nothing clinical is offered to a template: not the reason for the visit, not the type
of appointment's name unless the clinic chooses the neutral ``visit`` wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The names a template may use, with what each holds (shown in the template editor).
FIELDS: dict[str, str] = {
    "patient_name": "The patient's first (or preferred) name",
    "clinic_name": "The organization's name",
    "location_name": "Where the appointment is",
    "location_address": "The location's address",
    "location_phone": "The location's phone number",
    "provider_name": "Who the appointment is with",
    "date": "The appointment's date, in the patient's language",
    "time": "The appointment's local start time",
    "confirm_link": "E-mail only: a link that confirms without signing in",
    "cancel_link": "E-mail only: a link that cancels without signing in",
    "position": "Your turn is near: how many patients are ahead",
}

SUBJECT_MAX = 200
BODY_MAX = 1600  # ten SMS segments; a reminder needs one or two

_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


class TemplateInvalid(ValueError):
    """A template that cannot be rendered; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body: str


def _render(source: str, values: Mapping[str, str], what: str) -> str:
    try:
        return _ENV.from_string(source).render(dict(values)).strip()
    except SecurityError as error:
        raise TemplateInvalid(f"The {what} uses something templates may not: {error}") from None
    except TemplateError as error:
        raise TemplateInvalid(f"The {what} cannot be used: {error}") from None


def render(subject: str | None, body: str, values: Mapping[str, str]) -> Rendered:
    """The message text; ``TemplateInvalid`` if a name is unknown or the syntax wrong."""
    text = _render(body, values, "text")
    title = _render(subject, values, "subject") if subject else None
    if title is not None:
        title = " ".join(title.split())[:SUBJECT_MAX]
    if len(text) > BODY_MAX:
        raise TemplateInvalid(
            f"The text is {len(text)} characters once filled in; keep it under {BODY_MAX}."
        )
    return Rendered(subject=title, body=text)


def sample_values() -> dict[str, str]:
    """Made-up values for a preview and for checking a template when it is saved."""
    return {
        "patient_name": "Alex",
        "clinic_name": "Riverside Clinic",
        "location_name": "Main Street",
        "location_address": "1 Main Street",
        "location_phone": "+1 555 0100",
        "provider_name": "Dr. Rivera",
        "date": "Tuesday, 8 December 2026",
        "time": "10:30",
        "confirm_link": "https://clinic.example/r/confirm-link",
        "cancel_link": "https://clinic.example/r/cancel-link",
        "position": "2",
    }


def check(subject: str | None, body: str) -> Rendered:
    """Render with sample values: what the editor shows, and the check before a save."""
    if not body.strip():
        raise TemplateInvalid("The text is empty.")
    return render(subject, body, sample_values())
