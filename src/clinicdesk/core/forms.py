"""One way to read an HTML form into the schema the JSON API validates with.

``form_text`` keeps what the person typed (to show the form again); ``parse_form``
validates it with the API's Pydantic model, treating an empty field as "not given" (the
schema's default applies). A refusal is ``FormInvalid`` (422): a message per field, for
the template to show next to each field (``errors``), and one sentence for the top of
the form (``detail``). It is a ``ClinicError``, so a view that shows ``error.detail``
for any refusal needs nothing more, and the API's problem document lists the fields.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from clinicdesk.core.errors import ClinicError, field_error

Model = TypeVar("Model", bound=BaseModel)

_VALUE_ERROR = "Value error, "


class FormInvalid(ClinicError):
    status_code = 422
    title = "The submitted data is not valid"
    code = "validation"

    def __init__(self, fields: Mapping[str, str], detail: str, *, first: str) -> None:
        super().__init__(
            detail,
            errors=[field_error(name, message) for name, message in fields.items()],
        )
        self.fields = dict(fields)
        """Field name -> what is wrong with it, as the template shows it."""
        self.first = first
        """The first problem in one line: ``Substance: Field required``."""

    @property
    def first_message(self) -> str:
        return next(iter(self.fields.values()), self.detail)


def form_text(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """What the person typed in the named fields, trimmed ("" for a missing field)."""
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def parse_form(
    model: type[Model],
    values: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    hint: str | None = None,
    keep_empty: Collection[str] = (),
) -> Model:
    """``values`` as ``model``; an empty field (``""`` or None) is left out so the schema's
    default applies, except the names in ``keep_empty`` (an explicit "none").

    On a refusal the sentence at the top (``FormInvalid.detail``) is "Check these fields:
    ..." with the fields' ``labels`` (the messages stand next to the fields). A small
    form that shows no field messages gives a ``hint`` instead: what to do, unless a rule
    of the schema refused the first field, whose own words then say more."""
    given = {k: v for k, v in values.items() if (v is not None and v != "") or k in keep_empty}
    try:
        return model.model_validate(given)
    except ValidationError as error:
        raise _refusal(error, labels or {}, hint) from None


def _refusal(error: ValidationError, labels: Mapping[str, str], hint: str | None) -> FormInvalid:
    fields: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "form"
        fields.setdefault(name, str(item["msg"]).removeprefix(_VALUE_ERROR))
    first_item = error.errors()[0]
    first_name = next(iter(fields))
    first = f"{first_name.replace('_', ' ')}: {fields[first_name]}"
    if hint is not None and str(first_item["msg"]).startswith(_VALUE_ERROR):
        own = fields[first_name]
        detail = own[:1].upper() + own[1:] + "."
    elif hint is not None:
        detail = hint
    else:
        names = [labels.get(name, name.replace("_", " ")) for name in fields]
        detail = "Check these fields: " + ", ".join(names) + "."
    return FormInvalid(fields, detail, first=first)
