"""Reading a form into a schema: empty fields are "not given", a refusal carries a message
per field (shown next to the field) and one sentence for the top of the form."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, field_validator
from starlette.datastructures import FormData

from clinicdesk.core.forms import FormInvalid, form_text, parse_form


class Visit(BaseModel):
    given_name: str = Field(min_length=1)
    room: str | None = "Lobby"
    minutes: int = Field(default=15, gt=0)

    @field_validator("minutes")
    @classmethod
    def _quarter_hours(cls, value: int) -> int:
        if value % 15:
            raise ValueError("minutes come in quarter hours")
        return value


def test_form_text_keeps_what_was_typed_trimmed() -> None:
    form = FormData([("given_name", "  Ada "), ("upload", "x")])
    assert form_text(form, ("given_name", "room")) == {"given_name": "Ada", "room": ""}


def test_an_empty_field_takes_the_schemas_default_unless_kept_empty() -> None:
    assert parse_form(Visit, {"given_name": "Ada", "room": ""}).room == "Lobby"
    assert parse_form(Visit, {"given_name": "Ada", "room": None}, keep_empty=("room",)).room is None


def test_a_refusal_names_each_field_with_its_message() -> None:
    with pytest.raises(FormInvalid) as refused:
        parse_form(Visit, {"given_name": "", "minutes": "10"}, labels={"given_name": "Given name"})
    error = refused.value
    assert error.status_code == 422
    assert set(error.fields) == {"given_name", "minutes"}
    assert error.fields["minutes"] == "minutes come in quarter hours"
    assert error.detail == "Check these fields: Given name, minutes."
    assert error.first == "given name: Field required"
    assert [e["field"] for e in error.extensions["errors"]] == ["given_name", "minutes"]


def test_a_hint_speaks_for_a_small_form_unless_the_schema_says_more() -> None:
    with pytest.raises(FormInvalid, match=r"^Give the patient's name\.$"):
        parse_form(Visit, {}, hint="Give the patient's name.")
    with pytest.raises(FormInvalid, match=r"^Minutes come in quarter hours\.$"):
        parse_form(Visit, {"given_name": "Ada", "minutes": 10}, hint="Give the patient's name.")
