"""Cross-site request forgery protection for every form (RFC 6749 §10.12, DESIGN §6).

Theory of operation
-------------------
Each browser gets a random *anchor* in its own cookie (HttpOnly, SameSite=Lax, ``__Host-``
over TLS) before it sees its first form.  A form's token is
``HMAC(csrf key, anchor, session id)``: another site can neither read the anchor nor compute
the MAC, and a token minted before sign-in stops working once the session changes.  A POST
whose token is missing or differs (compared in constant time) is refused with
:class:`CsrfFailure`, a 403 that the pages middleware renders as an explanatory page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

from ..tokens.secrets import constant_time_equal, new_secret
from .session import Cookie, Sessions, browser_state, derive_key, mac, queue_cookie

CSRF_FIELD: Final = "xo_csrf"
ANCHOR_COOKIE: Final = "xo_csrf"
#: The anchor carries no authority of its own, so it may outlive sessions.
ANCHOR_MAX_AGE: Final = 30 * 24 * 3600


class CsrfFailure(web.HTTPForbidden):
    """A form POST without a valid CSRF token."""


class CsrfGuard:
    """Issues and checks the per-form CSRF token."""

    def __init__(self, *, secret: bytes, sessions: Sessions) -> None:
        self._key = derive_key(secret, "csrf token")
        self._sessions = sessions

    def _anchor(self, request: web.Request, *, create: bool) -> str | None:
        state = browser_state(request)
        if state.csrf_anchor is None:
            name = self._sessions.cookie_name(request, ANCHOR_COOKIE)
            value = request.cookies.get(name, "")
            if 20 <= len(value) <= 100:
                state.csrf_anchor = value
            elif create:
                state.csrf_anchor = new_secret()
                queue_cookie(
                    request,
                    Cookie(
                        name, state.csrf_anchor, ANCHOR_MAX_AGE, self._sessions.is_secure(request)
                    ),
                )
        return state.csrf_anchor

    def _expected(self, request: web.Request, anchor: str) -> str:
        return mac(self._key, anchor, self._sessions.current_id(request) or "")

    async def token(self, request: web.Request) -> str:
        """The token for forms on this page (sets the anchor cookie when new)."""
        await self._sessions.current(request)
        anchor = self._anchor(request, create=True)
        assert anchor is not None
        return self._expected(request, anchor)

    async def verify(self, request: web.Request, form: Mapping[str, object]) -> None:
        """Raise :class:`CsrfFailure` unless ``form`` carries this browser's token."""
        await self._sessions.current(request)
        anchor = self._anchor(request, create=False)
        sent = form.get(CSRF_FIELD)
        if anchor is None or not isinstance(sent, str) or not sent:
            raise CsrfFailure()
        if not constant_time_equal(sent, self._expected(request, anchor)):
            raise CsrfFailure()


__all__ = ["ANCHOR_COOKIE", "CSRF_FIELD", "CsrfFailure", "CsrfGuard"]
