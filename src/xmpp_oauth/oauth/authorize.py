"""RFC 6749 §4.1.1-§4.1.2 / §4.2 authorization endpoint, with RFC 9207 ``iss`` and OIDC §3.1.2.

Theory of operation
-------------------
The endpoint is split in two, so no page ever acts on an unchecked request and no error ever
travels to an unchecked address:

1. :func:`validate_authorization` turns the raw parameters into a frozen
   :class:`ValidatedAuthorization` or raises.  The order follows RFC 6749 §4.1.2.1:

   ====================================== =========================================
   failing check                          how the error reaches the user agent
   ====================================== =========================================
   duplicate parameter, client_id missing rendered page (no redirect_uri known yet)
   or unknown, redirect_uri mismatch
   everything after that: response_type, redirect to redirect_uri with ``error``,
   response_mode, scope, PKCE, prompt,    ``state`` and ``iss`` (RFC 9207)
   max_age, request objects, resource
   ====================================== =========================================

   Errors for the OOB URN are always rendered, since there is nowhere to redirect to.  The
   web handler also renders them for a client it does not trust (RFC 9700 §4.11.2: anyone can
   register a redirect URI, so redirecting with no user interaction is an open redirector).

2. The browser pages (``web.pages.interact``) log the user in and ask for consent, then
   :func:`complete_authorization` turns the :class:`Approval` into a response: a code (stored
   hashed, single use, short lived; RFC 6749 §4.1.2) redirected with ``code``, ``state`` and
   ``iss``, or shown on a page for the OOB URN; or, for the implicit grant when the operator
   enabled it, an access token in the fragment (§4.2.2: never a refresh token).

``ValidatedAuthorization.error()`` builds an error that carries the validated redirect
information, for the pages to raise (``access_denied``, ``login_required``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..errors import (
    InvalidRequestError,
    InvalidTargetError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from ..store.base import AuthorizationCode, Grant
from ..tokens.secrets import hash_secret, new_secret
from .clients import OOB_URI, Client, ClientRegistry, match_redirect_uri
from .pkce import validate_challenge
from .requests import GrantType, Params, ResponseMode, ResponseType
from .scopes import format_scope, resolve_scopes

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store.base import Store
    from ..tokens.jwt import TokenService

#: OIDC Core §3.1.2.1 ``prompt`` values.
PROMPT_VALUES: Final = frozenset({"none", "login", "consent", "select_account"})
_E = TypeVar("_E", bound=OAuthError)


@dataclass(frozen=True, slots=True)
class ValidatedAuthorization:
    """An authorization request that passed every check; what the pages work from."""

    client_id: str
    client_name: str
    client_uri: str
    logo_uri: str
    policy_uri: str
    tos_uri: str
    redirect_uri: str
    #: True when the request named the redirect_uri (RFC 6749 §4.1.3 then needs it again).
    redirect_uri_given: bool
    response_type: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    #: The original query string (or form body re-encoded), to resume after login.
    query_string: str
    #: RFC 8707 resource indicators, already checked against the served domains.
    resources: tuple[str, ...] = ()

    @property
    def is_oob(self) -> bool:
        """The code is shown on a page instead of redirected (OOB URN)."""
        return self.redirect_uri == OOB_URI

    def error(self, cls: type[_E], description: str = "") -> _E:
        """An error for this request, redirected when possible (RFC 6749 §4.1.2.1)."""
        return cls(
            description,
            state=self.state,
            redirect_uri=None if self.is_oob else self.redirect_uri,
            response_mode=self.response_mode,
        )


@dataclass(frozen=True, slots=True)
class Approval:
    """The pages' verdict: who approved, which scopes, when and how they authenticated."""

    jid: str
    scopes: tuple[str, ...]
    auth_time: float
    amr: tuple[str, ...] = ("pwd",)


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    """What the handler sends back: a redirect, or (OOB) a code to display."""

    redirect_to: str | None
    code: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def build_redirect(redirect_uri: str, params: Mapping[str, str], mode: str) -> str:
    """Append response parameters to the redirect URI (query keeps any existing query)."""
    parts = urlsplit(redirect_uri)
    encoded = urlencode(params)
    if mode == ResponseMode.FRAGMENT:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_redirect(exc: OAuthError, *, issuer: str) -> str:
    """The §4.1.2.1 error redirect for an error that carries a validated redirect_uri."""
    assert exc.redirect_uri is not None
    params = exc.body()
    if exc.state is not None:
        params["state"] = exc.state
    params["iss"] = issuer  # RFC 9207 §2
    return build_redirect(exc.redirect_uri, params, exc.response_mode)


def validate_resources(values: tuple[str, ...], settings: Settings) -> tuple[str, ...]:
    """RFC 8707 §2: absolute URIs without fragment, naming something this server serves."""
    for value in values:
        parts = urlsplit(value)
        if not parts.scheme or parts.fragment:
            raise InvalidTargetError("resource must be an absolute URI without a fragment")
        if parts.scheme == "xmpp" and not parts.netloc:
            host = parts.path
        elif parts.scheme == "https":
            host = parts.hostname or ""
        else:
            raise InvalidTargetError("resource not served here")
        if not any(host == d or host.endswith("." + d) for d in settings.domains):
            raise InvalidTargetError("resource not served here")
    return values


async def validate_authorization(
    params: Params,
    *,
    query_string: str,
    registry: ClientRegistry,
    settings: Settings,
    now: float,
) -> ValidatedAuthorization:
    """Check an authorization request in the RFC 6749 §4.1.2.1 order (table above)."""
    client_id = params.get("client_id")
    if client_id is None:
        raise InvalidRequestError("missing client_id")
    client = await registry.get(client_id, now=now)  # invalid_client -> rendered page
    redirect_uri = match_redirect_uri(client, params.get("redirect_uri"))
    state = params.get("state")

    # From here on errors go back to the client (unless OOB, see ValidatedAuthorization.error).
    response_type = params.get("response_type")
    redirect_for_errors = None if redirect_uri == OOB_URI else redirect_uri
    error_mode: str = ResponseMode.QUERY  # until the response type is known to be valid

    def fail(cls: type[OAuthError], description: str) -> OAuthError:
        return cls(description, state=state, redirect_uri=redirect_for_errors,
                   response_mode=error_mode)

    try:
        response_mode = _check_response(client, response_type, params.get("response_mode"),
                                         redirect_uri, settings)
    except OAuthError as exc:
        raise fail(type(exc), exc.description) from None
    error_mode = response_mode
    try:
        if params.get("request") is not None or params.get("request_uri") is not None:
            raise InvalidRequestError("request objects are not supported")
        scopes = resolve_scopes(params.get("scope"), registered=client.scope, settings=settings)
        challenge, method = ("", "")
        if response_type == ResponseType.CODE:
            challenge, method = validate_challenge(
                params.get("code_challenge"),
                params.get("code_challenge_method"),
                allowed_methods=settings.allowed_oauth2_code_challenge_methods,
                required=settings.oauth2_require_code_challenge,
            )
        prompt = frozenset(p for p in (params.get("prompt") or "").split(" ") if p)
        if not prompt <= PROMPT_VALUES:
            raise InvalidRequestError("unknown prompt value")
        if "none" in prompt and len(prompt) > 1:
            # OIDC Core §3.1.2.1: none with any other value is an error.
            raise InvalidRequestError("prompt=none cannot be combined with other values")
        max_age = _parse_max_age(params.get("max_age"))
        resources = validate_resources(params.getall("resource"), settings)
    except OAuthError as exc:
        raise fail(type(exc), exc.description) from None

    return ValidatedAuthorization(
        client_id=client.client_id,
        client_name=client.client_name,
        client_uri=client.client_uri,
        logo_uri=client.logo_uri,
        policy_uri=client.policy_uri,
        tos_uri=client.tos_uri,
        redirect_uri=redirect_uri,
        redirect_uri_given=params.get("redirect_uri") is not None,
        response_type=str(response_type),
        response_mode=response_mode,
        scopes=scopes,
        state=state,
        nonce=params.get("nonce"),
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=prompt,
        max_age=max_age,
        login_hint=params.get("login_hint"),
        query_string=query_string,
        resources=resources,
    )


def _check_response(client: Client, response_type: str | None, response_mode: str | None,
                    redirect_uri: str, settings: Settings) -> str:
    if response_type is None:
        raise InvalidRequestError("missing response_type")
    if (response_type not in ResponseType.__members__.values()
            or response_type not in settings.allowed_oauth2_response_types):
        raise UnsupportedResponseTypeError(f"response_type {response_type[:20]!r} not supported")
    grant = (GrantType.AUTHORIZATION_CODE if response_type == ResponseType.CODE
             else GrantType.IMPLICIT)
    if (response_type not in client.response_types or grant not in client.grant_types
            or grant not in settings.allowed_oauth2_grant_types):
        raise UnauthorizedClientError(f"client may not use response_type {response_type}")
    if response_type == ResponseType.TOKEN and redirect_uri == OOB_URI:
        raise InvalidRequestError("response_type token needs a redirect URI")
    if response_mode is None:
        return ResponseMode.FRAGMENT if response_type == ResponseType.TOKEN else ResponseMode.QUERY
    if response_mode not in ResponseMode.__members__.values():
        raise InvalidRequestError("unsupported response_mode")
    if response_type == ResponseType.TOKEN and response_mode == ResponseMode.QUERY:
        # Multiple Response Type Encoding Practices §2.1: tokens never go in a query.
        raise InvalidRequestError("response_mode query is not allowed with response_type token")
    return response_mode


def _parse_max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("max_age must be a non-negative integer")
    return int(raw)


async def complete_authorization(
    authz: ValidatedAuthorization,
    approval: Approval,
    *,
    store: Store,
    tokens: TokenService,
    settings: Settings,
    now: float,
) -> AuthorizationResponse:
    """Issue the code (or, implicit grant, the token) for an approved request."""
    # The user can only narrow what was asked, never widen it.
    scopes = tuple(s for s in approval.scopes if s in authz.scopes)
    if not scopes:
        raise authz.error(InvalidRequestError, "no scope approved")
    if authz.response_type == ResponseType.TOKEN:
        return await _implicit(authz, approval, scopes, store=store, tokens=tokens,
                               settings=settings, now=now)
    code = new_secret()
    await store.add_authorization_code(
        AuthorizationCode(
            code_hash=hash_secret(code),
            client_id=authz.client_id,
            client_name=authz.client_name,
            jid=approval.jid,
            redirect_uri=authz.redirect_uri,
            scopes=scopes,
            code_challenge=authz.code_challenge,
            code_challenge_method=authz.code_challenge_method,
            nonce=authz.nonce or "",
            auth_time=approval.auth_time,
            created_at=now,
            expires_at=now + settings.oauth2_code_ttl,  # §4.1.2: short lived
            extra={
                "amr": list(approval.amr),
                "redirect_uri_given": authz.redirect_uri_given,
                "resource": list(authz.resources),
            },
        )
    )
    if authz.is_oob:
        return AuthorizationResponse(redirect_to=None, code=code)
    params = {"code": code}
    if authz.state is not None:
        params["state"] = authz.state
    params["iss"] = settings.issuer  # RFC 9207 §2
    return AuthorizationResponse(build_redirect(authz.redirect_uri, params, authz.response_mode),
                                 params=params)


async def _implicit(authz: ValidatedAuthorization, approval: Approval, scopes: tuple[str, ...],
                    *, store: Store, tokens: TokenService, settings: Settings,
                    now: float) -> AuthorizationResponse:
    grant_id = new_secret(16)
    await store.create_grant(Grant(
        grant_id=grant_id, jid=approval.jid, client_id=authz.client_id,
        client_name=authz.client_name, scopes=scopes, created_at=now, last_used_at=now,
        auth_time=approval.auth_time,
    ))
    domain = approval.jid.rpartition("@")[2]
    issued = tokens.issue_access_token(
        subject=approval.jid, client_id=authz.client_id, scopes=scopes, grant_id=grant_id,
        audience=(settings.audience_for(domain), *authz.resources),
        auth_time=approval.auth_time, ttl=settings.oauth2_access_token_ttl, now=now,
    )
    params = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": str(settings.oauth2_access_token_ttl),
        "scope": format_scope(scopes),
    }
    if authz.state is not None:
        params["state"] = authz.state
    params["iss"] = settings.issuer
    return AuthorizationResponse(build_redirect(authz.redirect_uri, params, authz.response_mode),
                                 params=params)


__all__ = [
    "PROMPT_VALUES",
    "Approval",
    "AuthorizationResponse",
    "ValidatedAuthorization",
    "build_redirect",
    "complete_authorization",
    "error_redirect",
    "validate_authorization",
    "validate_resources",
]
