"""Pieces every domain's schemas share: the strict base of request bodies, text that cannot
carry control or text-direction characters, and the small answers of several APIs."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

# Bidi overrides/isolates make text display differently from what is stored (a "Trojan
# Source" trick); control characters break exports and screens.
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Strict(BaseModel):
    """Unknown fields are refused, except ``organization_id``, which is dropped: the
    tenant always comes from the signed-in user, never from the client."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _ignore_client_tenant(cls, data: object) -> object:
        if isinstance(data, dict) and "organization_id" in data:
            return {k: v for k, v in data.items() if k != "organization_id"}
        return data


def safe_text(value: str | None) -> str | None:
    """Refuse control and text-direction characters; an empty string becomes None."""
    if value is None:
        return None
    if _UNSAFE_TEXT.search(value):
        raise ValueError("contains control or text-direction characters; retype it")
    return value or None


SafeText = Annotated[str | None, AfterValidator(safe_text)]


class Accepted(BaseModel):
    """The answer to a request that was taken in (202): what happens next."""

    detail: str


class Created(BaseModel):
    """The answer to a request that created a record with nothing more to show."""

    id: uuid.UUID
