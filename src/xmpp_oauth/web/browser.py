"""Shared machinery of the browser pages: sign-in form handling and page helpers (DESIGN §6).

Everything the pages need (templates, sessions, CSRF, throttle, plus the runtime's store,
clock and account backend) is bundled in one :class:`PageKit`, built at startup from the
runtime the protocol side opens (or on the first request, if the runtime came later).

Sign-in failures all read the same (:data:`LOGIN_FAILED`), whether the address is unknown,
the password wrong or the account disabled: the page never tells whether an account exists.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ..errors import AccountDisabledError, InvalidCredentialsError
from ..store.base import LoginSession
from .csrf import CsrfGuard
from .keys import RUNTIME_KEY
from .middlewares import client_address
from .session import Sessions, load_cookie_secret
from .templating import ClientView, Pages
from .throttle import LoginThrottle

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

LOGIN_FAILED: Final = (
    "Sign-in failed. Check your XMPP address and password and try again. "
    "If they are right, your account may be disabled."
)
MAX_JID_LENGTH: Final = 3071  # RFC 7622 §3.1: localpart + "@" + domainpart


def throttled_message(retry_after: int) -> str:
    minutes = max(1, math.ceil(retry_after / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed sign-in attempts. For your security, sign-in is paused: "
        f"please wait {minutes} {unit} and try again."
    )


class PageKit:
    """Templates, sessions, CSRF and throttle, with the runtime they work on."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        secret = load_cookie_secret(settings)
        self.runtime = runtime
        self.settings = settings
        self.store = runtime.store
        self.clock = runtime.clock
        self.pages = Pages(settings)
        self.sessions = Sessions(
            store=runtime.store,
            clock=runtime.clock,
            secret=secret,
            ttl=settings.http.session_ttl,
            force_secure=settings.issuer.startswith("https://"),
        )
        self.csrf = CsrfGuard(secret=secret, sessions=self.sessions)
        self.throttle = LoginThrottle(
            store=runtime.store,
            clock=runtime.clock,
            max_failures=settings.accounts.max_login_failures,
            window=settings.accounts.login_failure_window,
        )
        self.ticket_secret = secret

    def url(self, path: str) -> str:
        """An absolute path under the public URL's prefix."""
        return self.pages.base + path

    def normalize_jid(self, raw: str) -> str | None:
        """A bare JID on a served domain, lowercase; a bare username gets the only domain."""
        name = raw.strip().lower()
        if not name or len(name) > MAX_JID_LENGTH or "/" in name or any(c.isspace() for c in name):
            return None
        if "@" not in name:
            if len(self.settings.domains) != 1:
                return None
            name = f"{name}@{self.settings.domains[0]}"
        local, _, domain = name.rpartition("@")
        if not local or "@" in local or domain not in self.settings.domains:
            return None
        return name

    async def render(
        self,
        request: web.Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """Render with the signed-in user and a CSRF token in the context."""
        session = await self.sessions.current(request)
        full: dict[str, Any] = {
            "user": session.jid if session else None,
            "csrf_token": await self.csrf.token(request),
            "domain": self.settings.domains[0],
        }
        full.update(context)
        return self.pages.render(template, full, status=status, headers=headers)

    async def error_page(
        self,
        request: web.Request,
        *,
        status: int,
        title: str,
        message: str,
        error: str | None = None,
        detail: str | None = None,
        back: str | None = None,
    ) -> web.Response:
        return await self.render(
            request,
            "error.html",
            {"title": title, "message": message, "error": error, "detail": detail, "back": back},
            status=status,
        )

    async def login_page(
        self,
        request: web.Request,
        *,
        action: str,
        hidden: Sequence[tuple[str, str]],
        error: str | None = None,
        status: int = 200,
        username: str = "",
        client: ClientView | None = None,
        current_user: str | None = None,
        retry_after: int | None = None,
    ) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return await self.render(
            request,
            "login.html",
            {
                "action": action,
                "hidden": list(hidden),
                "error": error,
                "username": username,
                "client": client,
                "current_user": current_user,
            },
            status=status,
            headers=headers,
        )

    async def try_login(
        self,
        request: web.Request,
        form: Mapping[str, Any],
        *,
        action: str,
        hidden: Sequence[tuple[str, str]],
        client: ClientView | None = None,
    ) -> LoginSession | web.Response:
        """Check the posted credentials: a new session, or the login page with an error."""
        raw = form.get("xo_username")
        password = form.get("xo_password")
        raw = raw if isinstance(raw, str) else ""
        password = password if isinstance(password, str) else ""
        jid = self.normalize_jid(raw)
        # Unknown names are counted like real ones, keyed the same way (no enumeration).
        account_key = jid or raw.strip().lower()[:MAX_JID_LENGTH]
        address = client_address(request)
        shown_name = raw.strip()[:MAX_JID_LENGTH]

        locked = await self.throttle.check_login(account_key, address)
        if locked is not None:
            return await self.login_page(
                request,
                action=action,
                hidden=hidden,
                client=client,
                username=shown_name,
                error=throttled_message(locked.retry_after),
                status=429,
                retry_after=locked.retry_after,
            )
        try:
            if jid is None or not password:
                raise InvalidCredentialsError("malformed address or empty password")
            await self.runtime.accounts.authenticate(jid, password)
        except (InvalidCredentialsError, AccountDisabledError):
            await self.throttle.login_failed(account_key, address)
            return await self.login_page(
                request,
                action=action,
                hidden=hidden,
                client=client,
                username=shown_name,
                error=LOGIN_FAILED,
                status=400,
            )
        await self.throttle.login_succeeded(jid)
        return await self.sessions.start(request, jid, amr=("pwd",))


class _KitHolder:
    """Created at setup; the kit itself is built once the runtime exists."""

    def __init__(self) -> None:
        self.kit: PageKit | None = None


KIT_HOLDER_KEY: Final = web.AppKey("xmpp_oauth_page_kit", _KitHolder)


def install(app: web.Application) -> None:
    app[KIT_HOLDER_KEY] = _KitHolder()
    app.on_startup.append(_build_at_startup)


async def _build_at_startup(app: web.Application) -> None:
    # The runtime is opened by a cleanup context, which runs before this hook; building the
    # kit here reads the cookie secret and checks the template settings before any request.
    if RUNTIME_KEY in app:
        app[KIT_HOLDER_KEY].kit = PageKit(app[RUNTIME_KEY])


def page_kit(request: web.Request) -> PageKit:
    holder = request.app[KIT_HOLDER_KEY]
    if holder.kit is None:
        holder.kit = PageKit(request.app[RUNTIME_KEY])
    return holder.kit


__all__ = [
    "KIT_HOLDER_KEY",
    "LOGIN_FAILED",
    "ClientView",
    "client_address",
    "PageKit",
    "install",
    "page_kit",
    "throttled_message",
]
