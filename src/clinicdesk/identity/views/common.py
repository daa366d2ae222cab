"""What identity's pages share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

Text = Annotated[str, Form(max_length=1024)]
NEXT_EXPIRED = "The form expired. Please try again."
