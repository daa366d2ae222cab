"""One-time messages shown on the next page ("Saved.", "Appointment cancelled.").

Kept in a short-lived signed cookie, so they survive the redirect after a form post
without a server-side session. The text is the application's own wording; never put
patient data in a flash message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

FLASH_COOKIE = "clinicdesk_flash"
FLASH_MAX_AGE_SECONDS = 300
Category = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Flash:
    category: Category
    message: str


class FlashMessages:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="clinicdesk.flash")

    def add(
        self, request: Request, response: Response, message: str, category: Category = "info"
    ) -> None:
        """Queue ``message`` for the next page this browser loads."""
        queued = [*self.read(request), Flash(category, message)][-5:]
        response.set_cookie(
            FLASH_COOKIE,
            self._serializer.dumps([[f.category, f.message] for f in queued]),
            max_age=FLASH_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    @staticmethod
    def clear(response: Response) -> None:
        """Forget the messages once ``response`` has shown them."""
        response.delete_cookie(FLASH_COOKIE, path="/")

    def read(self, request: Request) -> list[Flash]:
        """The messages queued for this browser (an altered or expired cookie has none)."""
        raw = request.cookies.get(FLASH_COOKIE)
        if not raw:
            return []
        try:
            data = self._serializer.loads(raw, max_age=FLASH_MAX_AGE_SECONDS)
        except BadSignature:
            return []
        flashes = []
        for item in data if isinstance(data, list) else []:
            if (
                isinstance(item, list)
                and len(item) == 2
                and item[0] in ("success", "info", "warning", "error")
                and isinstance(item[1], str)
            ):
                flashes.append(Flash(item[0], item[1]))
        return flashes
