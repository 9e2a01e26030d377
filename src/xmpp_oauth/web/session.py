"""Browser login sessions (DESIGN §6; OIDC Core §3.1.2.3 ``auth_time``).

Theory of operation
-------------------
A session id is a 256-bit random secret.  The browser holds ``<id>.<mac>`` in a cookie; the
MAC (HMAC-SHA-256 under a key derived from the cookie secret) lets us drop forged cookies
without touching the store, and the store keeps only ``hash_secret(id)`` so a leaked database
opens no session.  A new id is minted on every sign-in (no session fixation) and the old
session is deleted.

Cookie attributes: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``; over TLS (or when the public
URL is https, i.e. behind a TLS-terminating proxy) also ``Secure`` and the ``__Host-`` name
prefix, which forbids a sibling host from planting the cookie.  ``Lax`` still sends the cookie
on the top-level GET an app uses to open ``/authorize``.

Cookies are queued on the request and written by :func:`apply_cookies` (called from the
pages middleware) onto whatever response leaves the handler: an ``/authorize`` response is
built by the protocol handler, not by the page that signed the user in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import web

from ..clock import Clock
from ..errors import ConfigError
from ..settings import Settings
from ..store.base import LoginSession, Store
from ..tokens.secrets import constant_time_equal, hash_secret, new_secret

SESSION_COOKIE: Final = "xo_session"
SECURE_PREFIX: Final = "__Host-"
SECRET_BYTES: Final = 32


@dataclass(slots=True)
class Cookie:
    """A Set-Cookie waiting for the response; ``value is None`` deletes it."""

    name: str
    value: str | None
    max_age: int
    secure: bool


@dataclass(slots=True)
class BrowserState:
    """Per-request browser state: the session as loaded, and cookies to send."""

    loaded: bool = False
    session: LoginSession | None = None
    session_id: str | None = None
    csrf_anchor: str | None = None
    cookies: list[Cookie] = field(default_factory=list)


BROWSER_STATE_KEY: Final = web.RequestKey("xmpp_oauth_browser_state", BrowserState)


def browser_state(request: web.Request) -> BrowserState:
    state = request.get(BROWSER_STATE_KEY)
    if state is None:
        state = BrowserState()
        request[BROWSER_STATE_KEY] = state
    return state


def queue_cookie(request: web.Request, cookie: Cookie) -> None:
    cookies = browser_state(request).cookies
    cookies[:] = [c for c in cookies if c.name != cookie.name]
    cookies.append(cookie)


def apply_cookies(request: web.Request, response: web.StreamResponse) -> None:
    """Write queued cookies (HttpOnly, SameSite=Lax, Path=/; Secure when asked)."""
    state = request.get(BROWSER_STATE_KEY)
    if state is None or response.prepared:
        return
    for c in state.cookies:
        if c.value is None:
            response.del_cookie(
                c.name, path="/", secure=c.secure or None, httponly=True, samesite="Lax"
            )
        else:
            response.set_cookie(
                c.name,
                c.value,
                max_age=c.max_age,
                path="/",
                secure=c.secure or None,
                httponly=True,
                samesite="Lax",
            )


def load_cookie_secret(settings: Settings) -> bytes:
    """The secret behind session and CSRF MACs; generated (mode 0600) on first use."""
    path = Path(settings.http.cookie_secret_file or Path(settings.data_dir) / "cookie.key")
    key = "http.cookie_secret_file"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(key, f"cannot create {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(os.urandom(SECRET_BYTES)).decode("ascii") + "\n")
    try:
        text = path.read_text("ascii").strip()
        secret = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (OSError, ValueError) as exc:
        raise ConfigError(key, f"cannot read {path}: {exc}") from None
    if len(secret) < SECRET_BYTES:
        raise ConfigError(key, f"{path} holds fewer than {SECRET_BYTES} bytes")
    return secret


def derive_key(secret: bytes, purpose: str) -> bytes:
    """One key per purpose, so a MAC made for one use is never valid for another."""
    return hmac.new(secret, b"xmpp-oauth " + purpose.encode("ascii"), hashlib.sha256).digest()


def mac(key: bytes, *parts: str) -> str:
    """URL-safe HMAC-SHA-256 over NUL-separated parts."""
    digest = hmac.new(key, "\0".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Sessions:
    """Login sessions: cookie <-> store record."""

    def __init__(
        self, *, store: Store, clock: Clock, secret: bytes, ttl: int, force_secure: bool
    ) -> None:
        self._store = store
        self._clock = clock
        self._key = derive_key(secret, "session cookie")
        self._ttl = ttl
        self._force_secure = force_secure

    def is_secure(self, request: web.Request) -> bool:
        """Served over TLS, directly or (per the public URL) behind a terminating proxy."""
        return request.secure or self._force_secure

    def cookie_name(self, request: web.Request, base: str) -> str:
        return SECURE_PREFIX + base if self.is_secure(request) else base

    def _unsign(self, value: str) -> str | None:
        sid, _, sig = value.partition(".")
        if not sid or not sig or not constant_time_equal(sig, mac(self._key, sid)):
            return None
        return sid

    async def current(self, request: web.Request) -> LoginSession | None:
        """The signed-in session, or None (cached for the rest of the request)."""
        state = browser_state(request)
        if state.loaded:
            return state.session
        state.loaded = True
        raw = request.cookies.get(self.cookie_name(request, SESSION_COOKIE))
        sid = self._unsign(raw) if raw else None
        if sid is not None:
            session = await self._store.get_session(hash_secret(sid), now=self._clock.now())
            if session is not None:
                state.session, state.session_id = session, sid
        return state.session

    def current_id(self, request: web.Request) -> str | None:
        """The raw id of the loaded session (binds CSRF tokens); call after ``current``."""
        return browser_state(request).session_id

    async def start(
        self, request: web.Request, jid: str, *, amr: tuple[str, ...] = ("pwd",)
    ) -> LoginSession:
        """Sign ``jid`` in: a fresh session id replaces any previous one."""
        await self._drop(request)
        now = self._clock.now()
        sid = new_secret()
        session = LoginSession(
            session_hash=hash_secret(sid),
            jid=jid,
            auth_time=now,
            created_at=now,
            expires_at=now + self._ttl,
            amr=amr,
        )
        await self._store.create_session(session)
        state = browser_state(request)
        state.loaded, state.session, state.session_id = True, session, sid
        queue_cookie(
            request,
            Cookie(
                self.cookie_name(request, SESSION_COOKIE),
                f"{sid}.{mac(self._key, sid)}",
                self._ttl,
                self.is_secure(request),
            ),
        )
        return session

    async def end(self, request: web.Request) -> None:
        """Sign out: forget the session in the store and in the browser."""
        await self._drop(request)
        state = browser_state(request)
        state.loaded, state.session, state.session_id = True, None, None
        queue_cookie(
            request,
            Cookie(self.cookie_name(request, SESSION_COOKIE), None, 0, self.is_secure(request)),
        )

    async def _drop(self, request: web.Request) -> None:
        await self.current(request)
        sid = browser_state(request).session_id
        if sid is not None:
            await self._store.delete_session(hash_secret(sid))


__all__ = [
    "BROWSER_STATE_KEY",
    "BrowserState",
    "Cookie",
    "SESSION_COOKIE",
    "Sessions",
    "apply_cookies",
    "browser_state",
    "derive_key",
    "load_cookie_secret",
    "mac",
    "queue_cookie",
]
