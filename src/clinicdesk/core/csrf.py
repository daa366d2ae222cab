"""CSRF protection for the cookie-authenticated web UI (the API takes bearer tokens only).

* Signed-in pages: the synchronizer token pattern. The token is an HMAC of the session
  token under the application secret, sent in a hidden ``csrf_token`` field or the
  ``X-CSRF-Token`` header (htmx adds it to every request from ``hx-headers``).
* Public forms before sign-in (login, password reset, invitation): a random value in a
  ``SameSite=Strict`` cookie, and the form carries its HMAC (signed double submit).
* Any state-changing request a browser marks ``Sec-Fetch-Site: cross-site`` is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
ANON_COOKIE = "clinicdesk_csrf"


class CsrfProtection:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(("csrf:" + secret_key).encode()).digest()

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def token_for_session(self, session_token: str) -> str:
        return self._sign("session:" + session_token)

    def anonymous_token(self, request: Request) -> tuple[str, str | None]:
        """The token for a public form, and the new cookie seed to set (None when the
        browser already has one; see ``set_anonymous_seed``)."""
        seed = request.cookies.get(ANON_COOKIE)
        if seed and len(seed) >= 32:
            return self._sign("anon:" + seed), None
        seed = secrets.token_urlsafe(32)
        return self._sign("anon:" + seed), seed

    @staticmethod
    def set_anonymous_seed(request: Request, response: Response, seed: str) -> None:
        response.set_cookie(
            ANON_COOKIE,
            seed,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )

    @staticmethod
    async def submitted(request: Request) -> str:
        header = request.headers.get(HEADER)
        if header:
            return header
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FORM_FIELD)
            return value if isinstance(value, str) else ""
        return ""

    def cross_site(self, request: Request) -> bool:
        return request.headers.get("sec-fetch-site") == "cross-site"

    async def valid_for_session(self, request: Request, session_token: str) -> bool:
        if self.cross_site(request):
            return False
        expected = self.token_for_session(session_token)
        return hmac.compare_digest(await self.submitted(request), expected)

    async def valid_anonymous(self, request: Request) -> bool:
        if self.cross_site(request):
            return False
        seed = request.cookies.get(ANON_COOKIE)
        if not seed:
            return False
        return hmac.compare_digest(await self.submitted(request), self._sign("anon:" + seed))
