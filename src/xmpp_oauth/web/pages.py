"""Sign-in and consent at the authorization endpoint (OIDC Core §3.1.2.3-§3.1.2.4, RFC 6749 §4.1.1).

Theory of operation
-------------------
The protocol handler validates an ``/authorize`` request into a
:class:`~xmpp_oauth.oauth.authorize.ValidatedAuthorization` and calls :func:`interact`, which
either returns a page (sign-in or consent) or an :class:`Approval` for the handler to turn
into a code.  The pages' forms POST back to ``/authorize`` carrying the original request
parameters as hidden fields plus our own ``xo_*`` fields, which the protocol side ignores
(RFC 6749 §3.1: unrecognized parameters MUST be ignored).  Each POST is re-validated from
scratch, so a form can never widen what was validated.

=============================  =============================================================
stage                          decision
=============================  =============================================================
authenticate (§3.1.2.3)        a session is needed; a new sign-in when there is none,
                               ``prompt=login``, the session is older than ``max_age``
                               (0 = always), or ``login_hint`` names someone else;
                               ``prompt=select_account`` offers "continue as" or another
                               account.  With ``prompt=none``: ``login_required``
                               instead of a page.
consent (§3.1.2.4)             asked when nothing is remembered for this user and client,
                               when the request adds scopes, on ``prompt=consent``, and
                               always for public clients with a non-https redirect
                               (RFC 8252 §8.6: their identity cannot be assured);
                               ``consent_required`` with ``prompt=none``.  Allow remembers
                               the union of scopes; deny is ``access_denied``.
=============================  =============================================================

``prompt=none`` (OIDC Core §3.1.2.6) answers a client the signed-in user has *not* consented
to with ``login_required`` whatever the session and ``login_hint``: a more precise answer
(``consent_required`` when the hint matches, ``login_required`` when it does not) would let
any client probe, without interaction, whether and as whom this browser is signed in.

A consent form carries a *ticket*: a MAC over the session, client, redirect URI, scopes,
state, nonce and the time the page was shown.  It proves that the sign-in stage was passed
for exactly this request, so the consent POST does not loop back to the sign-in page under
``prompt=login`` and cannot be replayed for a different request or after 15 minutes.

Browser errors are pages, never redirects, until the redirect URI is validated; afterwards
they are raised as ``authz.error(...)`` for the protocol side's middleware to redirect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import (
    AccessDeniedError,
    ConsentRequiredError,
    LoginRequiredError,
    OAuthError,
)
from ..oauth.authorize import Approval, ValidatedAuthorization
from ..oauth.scopes import describe_scopes
from ..store.base import Consent, LoginSession
from ..tokens.secrets import constant_time_equal
from . import account_page, device_page
from .browser import PageKit, install, page_kit
from .csrf import CsrfFailure
from .keys import OAUTH_KEY
from .session import apply_cookies, browser_state, derive_key, mac
from .templating import ClientView

CONSENT_TICKET_TTL: Final = 15 * 60
#: Where /login may send the browser afterwards: only our own pages.
_SAFE_NEXT: Final = re.compile(r"/(account|device)(\?[\w%=&.~+-]*)?")
_OWN_FIELD_PREFIX: Final = "xo_"


# -- the authorization endpoint's interaction ---------------------------------------------


async def interact(
    request: web.Request, authz: ValidatedAuthorization
) -> web.StreamResponse | Approval:
    """Sign the user in and get consent for ``authz``; a page, or the approval."""
    kit = page_kit(request)
    form: Mapping[str, Any] = await request.post() if request.method == "POST" else {}
    action = form.get("xo_action")
    if action is not None:
        await kit.csrf.verify(request, form)
    session = await kit.sessions.current(request)
    hidden = _resume_fields(authz)
    client = _client_view(authz)
    action_url = kit.url("/authorize")
    if "none" in authz.prompt:
        # OIDC Core §3.1.2.6: no UI may be shown (and no page of ours posts prompt=none).
        return await _silent(request, kit, session, authz)

    # OIDC Core §3.1.2.3: authenticate the end-user.
    authenticated_here = False
    if action == "login":
        result = await kit.try_login(request, form, action=action_url, hidden=hidden, client=client)
        if not isinstance(result, LoginSession):
            return result
        session, authenticated_here = result, True
    elif session is not None and action == "select":
        # "Continue as" stands in for a sign-in only where the page offered it: re-posting a
        # login form's fields with xo_action=select must not skip prompt=login, max_age or a
        # login_hint naming someone else (recomputed here, never trusted from the form).
        authenticated_here = _login_needed(kit, session, authz) == "select"
    elif session is not None and action == "consent":
        authenticated_here = _ticket_valid(kit, request, authz, form.get("xo_ticket"))

    if not authenticated_here:
        need = _login_needed(kit, session, authz)
        if need is not None:
            return await kit.login_page(
                request,
                action=action_url,
                hidden=hidden,
                client=client,
                username=_hint(kit, authz) or "",
                current_user=session.jid if session is not None and need == "select" else None,
            )
    assert session is not None

    # OIDC Core §3.1.2.4: obtain consent.
    if action == "consent" and authenticated_here:
        if form.get("xo_decision") != "allow":
            raise authz.error(AccessDeniedError, "the user denied access")
        await _remember(kit, session.jid, authz)
        return _approval(session, authz)
    remembered = await kit.store.get_consent(session.jid, authz.client_id)
    granted = set(remembered.scopes) if remembered is not None else set()
    new_scopes = [s for s in authz.scopes if s not in granted]
    if not new_scopes and "consent" not in authz.prompt and await _identity_assured(request, authz):
        return _approval(session, authz)
    ticket = _make_ticket(kit, request, authz, issued=int(kit.clock.now()))
    return await kit.render(
        request,
        "consent.html",
        {
            "client": client,
            "scopes": describe_scopes(authz.scopes, kit.settings),
            "new_scopes": new_scopes if remembered is not None else [],
            "action": action_url,
            "hidden": [*hidden, ("xo_ticket", ticket)],
        },
    )


async def _silent(
    request: web.Request, kit: PageKit, session: LoginSession | None,
    authz: ValidatedAuthorization,
) -> Approval:
    """``prompt=none``: the approval, or an error for the client; never a page.

    One answer, ``login_required``, for a client the signed-in user has not consented to
    (module docstring); a client the user consented to gets the precise error.
    """
    remembered = (await kit.store.get_consent(session.jid, authz.client_id)
                  if session is not None else None)
    if session is None or remembered is None or _login_needed(kit, session, authz) is not None:
        # prompt=none never combines with select_account, so a need is always "login".
        raise authz.error(LoginRequiredError, "the user must sign in")
    if (any(s not in remembered.scopes for s in authz.scopes)
            or not await _identity_assured(request, authz)):
        raise authz.error(ConsentRequiredError, "the user has not consented to these scopes")
    return _approval(session, authz)


async def redirect_trusted(request: web.Request, client_id: str) -> bool:
    """May an error found before any interaction redirect to this client by itself?

    RFC 9700 §4.11.2: only to a redirect URI the server trusts.  Trusted: clients added by the
    administrator, and clients the signed-in user has consented to.  Anyone can register a
    dynamic client, so its redirect URI alone proves nothing.
    """
    kit = page_kit(request)
    try:
        client = await request.app[OAUTH_KEY].clients.get(client_id, now=kit.clock.now())
    except OAuthError:
        return False  # revoked meanwhile: show the page
    if client.stored:
        return True
    session = await kit.sessions.current(request)
    return session is not None and await kit.store.get_consent(session.jid, client_id) is not None


async def _identity_assured(request: web.Request, authz: ValidatedAuthorization) -> bool:
    """RFC 8252 §8.6: may a remembered consent stand in for asking the user?

    Not for a public client whose code goes to a loopback, private-use or OOB address: any
    local program can present that client id and receive the code.  An https redirect (the
    code reaches the registered host) or a client secret (needed to redeem it) suffices.
    """
    if authz.redirect_uri.startswith("https://"):
        return True
    client = await request.app[OAUTH_KEY].clients.get(
        authz.client_id, now=page_kit(request).clock.now()
    )
    return not client.is_public


def _login_needed(
    kit: PageKit, session: LoginSession | None, authz: ValidatedAuthorization
) -> str | None:
    """Why a (new) sign-in is needed: ``"login"``, ``"select"``, or None."""
    if session is None or "login" in authz.prompt:
        return "login"
    if authz.max_age is not None:
        elapsed = kit.clock.now() - session.auth_time
        if authz.max_age == 0 or elapsed > authz.max_age:
            return "login"
    hint = _hint(kit, authz)
    if hint is not None and hint != session.jid:
        return "login"
    if "select_account" in authz.prompt:
        return "select"
    return None


def _hint(kit: PageKit, authz: ValidatedAuthorization) -> str | None:
    if not authz.login_hint:
        return None
    hint = authz.login_hint.removeprefix("xmpp:")
    return kit.normalize_jid(hint)


def _approval(session: LoginSession, authz: ValidatedAuthorization) -> Approval:
    return Approval(
        jid=session.jid, scopes=authz.scopes, auth_time=session.auth_time, amr=session.amr
    )


async def _remember(kit: PageKit, jid: str, authz: ValidatedAuthorization) -> None:
    old = await kit.store.get_consent(jid, authz.client_id)
    scopes = list(old.scopes) if old is not None else []
    scopes += [s for s in authz.scopes if s not in scopes]
    await kit.store.remember_consent(
        Consent(
            jid=jid, client_id=authz.client_id, scopes=tuple(scopes), granted_at=kit.clock.now()
        )
    )


def _resume_fields(authz: ValidatedAuthorization) -> list[tuple[str, str]]:
    """The original request parameters, to be posted back with our form."""
    return [
        (name, value)
        for name, value in parse_qsl(authz.query_string, keep_blank_values=True)
        if not name.startswith(_OWN_FIELD_PREFIX)
    ]


def _client_view(authz: ValidatedAuthorization) -> ClientView:
    return ClientView.build(
        authz.client_name,
        uri=authz.client_uri,
        logo_uri=authz.logo_uri,
        policy_uri=authz.policy_uri,
        tos_uri=authz.tos_uri,
        redirect_uri="" if authz.is_oob else authz.redirect_uri,
    )


def _ticket_fields(
    kit: PageKit, request: web.Request, authz: ValidatedAuthorization
) -> tuple[str, ...]:
    return (
        kit.sessions.current_id(request) or "",
        authz.client_id,
        authz.redirect_uri,
        " ".join(authz.scopes),
        authz.state or "",
        authz.nonce or "",
    )


def _make_ticket(
    kit: PageKit, request: web.Request, authz: ValidatedAuthorization, *, issued: int
) -> str:
    key = derive_key(kit.ticket_secret, "consent ticket")
    return f"{issued}.{mac(key, str(issued), *_ticket_fields(kit, request, authz))}"


def _ticket_valid(
    kit: PageKit, request: web.Request, authz: ValidatedAuthorization, ticket: object
) -> bool:
    if not isinstance(ticket, str):
        return False
    issued_raw, _, sig = ticket.partition(".")
    if not issued_raw.isdigit() or len(issued_raw) > 12:
        return False
    issued = int(issued_raw)
    if not 0 <= kit.clock.now() - issued <= CONSENT_TICKET_TTL:
        return False
    key = derive_key(kit.ticket_secret, "consent ticket")
    expected = mac(key, issued_raw, *_ticket_fields(kit, request, authz))
    return constant_time_equal(sig, expected)


# -- pages for the protocol side -----------------------------------------------------------


async def render_oob(request: web.Request, code: str) -> web.Response:
    """The out-of-band page (``urn:ietf:wg:oauth:2.0:oob``): the code, to copy by hand."""
    return await page_kit(request).render(request, "oob.html", {"code": code})


async def render_error(
    request: web.Request, *, status: int, error: str, description: str = ""
) -> web.Response:
    """An error shown to the user instead of a redirect (RFC 6749 §4.1.2.1)."""
    if status >= 500:
        title = "Something went wrong"
        message = "The server could not complete the request. Please try again in a moment."
    else:
        title = "This request cannot be completed"
        message = (
            "The application that sent you here made a request this server cannot accept. "
            "Go back to the application and try again; if it keeps happening, tell its "
            "developers."
        )
    return await page_kit(request).error_page(
        request,
        status=status,
        title=title,
        message=message,
        error=error,
        detail=description or None,
    )


# -- our own routes ------------------------------------------------------------------------


async def login_get(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    return await kit.login_page(
        request,
        action=kit.url("/login"),
        hidden=[("next", _safe_next(kit, request.query.get("next")))],
    )


async def login_post(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    form = await request.post()
    await kit.csrf.verify(request, form)
    raw_next = form.get("next")
    target = _safe_next(kit, raw_next if isinstance(raw_next, str) else None)
    result = await kit.try_login(request, form, action=kit.url("/login"), hidden=[("next", target)])
    if not isinstance(result, LoginSession):
        return result
    raise web.HTTPSeeOther(target)


def _safe_next(kit: PageKit, value: str | None) -> str:
    """Only our own account and device pages; anything else goes to the account page."""
    if value and value.startswith(kit.url("/")):
        rest = value[len(kit.url("")) :]
        if _SAFE_NEXT.fullmatch(rest):
            return value
    return kit.url("/account")


async def logout_get(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    if await kit.sessions.current(request) is None:
        return await kit.render(request, "logged_out.html", {})
    return await kit.render(request, "logout.html", {})


async def logout_post(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    form = await request.post()
    await kit.csrf.verify(request, form)
    await kit.sessions.end(request)
    return await kit.render(request, "logged_out.html", {})


async def stylesheet(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    response = web.Response(text=kit.pages.stylesheet(), content_type="text/css", charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render CSRF refusals as a page (403); attach queued cookies to every response.

    Protocol endpoints (token, introspection, ...) never get here: ``error_middleware``
    sends them straight to their handlers.
    """
    browser_state(request)  # created before any clone() of the request, so shared with it
    try:
        response = await handler(request)
    except CsrfFailure:
        response = await page_kit(request).error_page(
            request,
            status=403,
            title="This form has expired",
            message=(
                "The form was not sent from this site, or it is too old. "
                "Go back, reload the page and try again."
            ),
            error="csrf",
        )
    except web.HTTPException as exc:
        apply_cookies(request, exc)
        raise
    apply_cookies(request, response)
    return response


def setup(app: web.Application) -> None:
    """Register the browser pages, their middleware and state on the application."""
    install(app)
    app.middlewares.append(pages_middleware)
    app.router.add_get("/login", login_get, name="login")
    app.router.add_post("/login", login_post)
    app.router.add_get("/logout", logout_get, name="logout")
    app.router.add_post("/logout", logout_post)
    app.router.add_get("/static/style.css", stylesheet, name="style")
    device_page.setup(app)
    account_page.setup(app)


__all__ = ["Approval", "interact", "redirect_trusted", "render_error", "render_oob", "setup"]
