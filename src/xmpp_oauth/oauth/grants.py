"""RFC 6749 §4.1.3 / §4.3 / §5 / §6 and RFC 8628 §3.4-§3.5: the token endpoint's grants.

Theory of operation
-------------------
:func:`token_request` authenticates the client (``clients.authenticate_client``), picks the
grant by ``grant_type`` and returns the §5.1 response body.  Each grant checks, in order:

authorization_code (§4.1.3)
    the code is redeemed atomically (single use; the store revokes the grant created from a
    replayed code, §4.1.2 "SHOULD revoke ... all tokens previously issued based on that
    authorization code"); then the code must belong to this client, the redirect_uri must be
    identical when it was sent with the request, and the PKCE verifier must match
    (``pkce.verify_code_verifier``).  A failure after redemption revokes the new grant: the
    code is burnt either way, and no token of it is ever handed out.
refresh_token (§6, RFC 9700 §4.14)
    the token must be this client's, unconsumed, unexpired, of a live grant; a requested
    scope may only narrow the original (else ``invalid_scope``, the token left intact).
    Rotation on every use: the old token is consumed and a new one stored in one transaction.
    A consumed token coming back means one of two copies was stolen: the grant is revoked.
    A refresh token shown by another client is treated the same way.
password (§4.3, off by default)
    the account backend checks the password, with the per-account failure throttle.
device_code (RFC 8628 §3.4)
    ``authorization_pending`` until the user decides; ``slow_down`` when polled faster than
    the interval (§3.5); ``access_denied``; ``expired_token``; the approved code is redeemed
    once.

Refresh tokens are issued only when the operator allows the ``refresh_token`` grant, the
client registered it, and the granted scopes include ``offline_access`` (DESIGN §3).
Access tokens carry ``aud = xmpp:<domain of the user>`` plus checked RFC 8707 resources.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import (
    AccessDeniedError,
    AccountDisabledError,
    AuthorizationPendingError,
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidScopeError,
    OAuthError,
    SlowDownError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from ..store.base import DeviceStatus, Grant, RefreshToken, RefreshUse
from ..tokens.secrets import hash_secret, new_secret
from .authorize import validate_resources
from .clients import Client, authenticate_client
from .context import OAuthContext
from .oidc import issue_id_token
from .pkce import verify_code_verifier
from .requests import GrantType, Params
from .scopes import (
    OFFLINE_ACCESS,
    OPENID,
    format_scope,
    narrow_scopes,
    parse_scope,
    resolve_scopes,
)

log = logging.getLogger(__name__)

#: RFC 8628 §3.5: a client told to slow down adds this many seconds to its interval.
SLOW_DOWN_STEP = 5


def _domain(jid: str) -> str:
    return jid.rpartition("@")[2]


def refresh_allowed(ctx: OAuthContext, client: Client, scopes: Sequence[str]) -> bool:
    """DESIGN §3: a refresh token only for offline_access from a client that registered it."""
    return (
        GrantType.REFRESH_TOKEN in ctx.settings.allowed_oauth2_grant_types
        and GrantType.REFRESH_TOKEN in client.grant_types
        and OFFLINE_ACCESS in scopes
    )


async def issue_tokens(
    ctx: OAuthContext,
    *,
    client: Client,
    jid: str,
    grant_id: str,
    scopes: Sequence[str],
    auth_time: float,
    amr: Sequence[str],
    nonce: str | None,
    resources: Sequence[str],
    now: float,
    refresh_token: str | None = None,
    new_refresh: bool,
) -> dict[str, Any]:
    """The §5.1 success body; stores a new refresh token when ``new_refresh``."""
    s = ctx.settings
    issued = ctx.tokens.issue_access_token(
        subject=jid, client_id=client.client_id, scopes=scopes, grant_id=grant_id,
        audience=(s.audience_for(_domain(jid)), *resources), auth_time=auth_time,
        ttl=s.oauth2_access_token_ttl, now=now,
    )
    body: dict[str, Any] = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": s.oauth2_access_token_ttl,
        "scope": format_scope(scopes),  # §5.1: always say what was granted
    }
    if new_refresh:
        refresh_token = new_secret()
        await ctx.store.add_refresh_token(RefreshToken(
            token_hash=hash_secret(refresh_token), grant_id=grant_id, client_id=client.client_id,
            scopes=tuple(scopes), created_at=now, expires_at=now + s.oauth2_refresh_token_ttl,
        ))
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if OPENID in scopes:
        body["id_token"] = issue_id_token(
            ctx.tokens, s, jid=jid, client_id=client.client_id, scopes=scopes, nonce=nonce,
            access_token=issued.token, auth_time=auth_time, amr=amr, now=now,
        )
    log.info("issued token %s to client %s for grant %s", issued.jti,
             client.client_id[:16], grant_id)
    return body


async def token_request(
    ctx: OAuthContext, params: Params, *, authorization: str | None, now: float
) -> dict[str, Any]:
    """RFC 6749 §3.2: authenticate the client, dispatch on ``grant_type``."""
    grant_type = params.require("grant_type")
    handler = _GRANTS.get(grant_type)
    if handler is None or grant_type not in ctx.settings.allowed_oauth2_grant_types:
        raise UnsupportedGrantTypeError(f"grant_type {grant_type[:60]!r} is not supported")
    client = await authenticate_client(ctx.clients, authorization=authorization, params=params,
                                       now=now)
    if grant_type not in client.grant_types:
        raise UnauthorizedClientError(f"client did not register grant_type {grant_type}")
    return await handler(ctx, client, params, now)


async def _authorization_code(ctx: OAuthContext, client: Client, params: Params,
                              now: float) -> dict[str, Any]:
    code = params.require("code")
    redirect_uri = params.get("redirect_uri")
    verifier = params.get("code_verifier")
    grant_id = new_secret(16)
    record = await ctx.store.redeem_authorization_code(hash_secret(code), grant_id=grant_id,
                                                       now=now)
    if record is None:
        # Unknown, expired or replayed.  On a replay the store has revoked the code's grant
        # (RFC 6749 §4.1.2); pull that in now so this process refuses the grant's tokens at
        # once rather than at the next poll.  Failures are rare, so the extra read is cheap.
        await ctx.revocations.refresh()
        raise InvalidGrantError("invalid, expired or already used authorization code")
    try:
        if record.client_id != client.client_id:
            raise InvalidGrantError("the code was issued to another client")
        given = bool(record.extra.get("redirect_uri_given", True))
        if (given or redirect_uri is not None) and redirect_uri != record.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization request")
        verify_code_verifier(verifier, challenge=record.code_challenge,
                             method=record.code_challenge_method)
        if not record.code_challenge and ctx.settings.oauth2_require_code_challenge:
            raise InvalidGrantError("code issued without PKCE")
    except OAuthError:
        await ctx.revoke_grant(grant_id, reason="code_misuse", now=now)
        raise
    ctx.grants.put(Grant(
        grant_id=grant_id, jid=record.jid, client_id=record.client_id,
        client_name=record.client_name, scopes=record.scopes, created_at=now,
        last_used_at=now, auth_time=record.auth_time,
    ))
    amr = tuple(str(a) for a in record.extra.get("amr", ()) or ())
    resources = tuple(str(r) for r in record.extra.get("resource", ()) or ())
    return await issue_tokens(
        ctx, client=client, jid=record.jid, grant_id=grant_id, scopes=record.scopes,
        auth_time=record.auth_time, amr=amr, nonce=record.nonce or None, resources=resources,
        now=now, new_refresh=refresh_allowed(ctx, client, record.scopes),
    )


async def _refresh_token(ctx: OAuthContext, client: Client, params: Params,
                         now: float) -> dict[str, Any]:
    presented = params.require("refresh_token")
    old_hash = hash_secret(presented)
    requested = params.get("scope")
    try:
        resources = validate_resources(params.getall("resource"), ctx.settings)
        asked = None if requested is None else parse_scope(requested)
        if asked is not None and not asked:
            raise InvalidScopeError("empty scope")
    except OAuthError as problem:
        # A malformed request: report it after the token's own checks, as always.
        await _refuse_refresh(ctx, client, old_hash, problem, params, now)
        raise
    new_token = new_secret()
    used = await ctx.store.use_refresh_token(
        old_hash, client_id=client.client_id, new_hash=hash_secret(new_token),
        expires_at=now + ctx.settings.oauth2_refresh_token_ttl,
        scopes_within=None if asked is None else frozenset(asked), now=now,
    )
    token, grant = used.token, used.grant
    if used.outcome is RefreshUse.WRONG_CLIENT and token is not None:
        # The store revoked the grant (RFC 6749 §10.4: the token leaked to another client).
        _revoked_here(ctx, token.grant_id, "refresh_wrong_client")
        raise InvalidGrantError("invalid refresh token")
    if used.outcome is RefreshUse.REUSED and token is not None:
        # RFC 9700 §4.14.2, or a lost race with a concurrent use of the same token.
        _revoked_here(ctx, token.grant_id, "refresh_reuse")
        raise InvalidGrantError("refresh token reused; the grant is revoked")
    if used.outcome is RefreshUse.SCOPE and token is not None:
        narrow_scopes(requested, granted=token.scopes)  # raises invalid_scope (§6)
    if (used.outcome is not RefreshUse.ROTATED or token is None or grant is None
            or ctx.revocations.is_revoked(grant.grant_id)):
        raise InvalidGrantError("invalid refresh token")
    return await issue_tokens(
        ctx, client=client, jid=grant.jid, grant_id=grant.grant_id,
        scopes=narrow_scopes(requested, granted=token.scopes),  # §6: never more
        auth_time=grant.auth_time, amr=(), nonce=None, resources=resources, now=now,
        refresh_token=new_token, new_refresh=False,
    )


def _revoked_here(ctx: OAuthContext, grant_id: str, reason: str) -> None:
    ctx.revocations.add_local(grant_id)
    log.info("grant %s revoked (%s)", grant_id, reason)


async def _refuse_refresh(ctx: OAuthContext, client: Client, old_hash: str,
                          problem: OAuthError, params: Params, now: float) -> None:
    """The refresh checks in their §6 order for a request that will fail anyway.

    Errors about the token itself (and the grant revocation that reuse or a wrong client
    trigger) come first; then the scope and resource errors.  Returns only if none of the
    token checks fails, for the caller to raise ``problem``.
    """
    record = await ctx.store.get_refresh_token(old_hash)
    if record is None:
        raise InvalidGrantError("invalid refresh token")
    if record.client_id != client.client_id:
        await ctx.revoke_grant(record.grant_id, reason="refresh_wrong_client", now=now)
        raise InvalidGrantError("invalid refresh token")
    if record.consumed_at is not None:
        await ctx.revoke_grant(record.grant_id, reason="refresh_reuse", now=now)
        raise InvalidGrantError("refresh token reused; the grant is revoked")
    if record.expires_at <= now or ctx.revocations.is_revoked(record.grant_id):
        raise InvalidGrantError("invalid refresh token")
    narrow_scopes(params.get("scope"), granted=record.scopes)
    validate_resources(params.getall("resource"), ctx.settings)
    raise problem


async def _password(ctx: OAuthContext, client: Client, params: Params,
                    now: float) -> dict[str, Any]:
    if client.is_public:
        # RFC 9700 §2.4: the password grant exposes the user's password to the client; at the
        # least the client must be one that can authenticate itself.
        raise UnauthorizedClientError("the password grant needs a confidential client")
    username = params.require("username").strip().lower()
    password = params.require("password")
    scopes = resolve_scopes(params.get("scope"), registered=client.scope, settings=ctx.settings)
    jid = username if "@" in username else f"{username}@{ctx.settings.domains[0]}"
    if _domain(jid) not in ctx.settings.domains or "/" in jid:
        raise InvalidGrantError("invalid username or password")
    acct = ctx.settings.accounts
    key = f"acct:{jid}"
    if await ctx.store.login_failures(key, now=now, window=acct.login_failure_window) >= (
        acct.max_login_failures
    ):
        raise InvalidGrantError("too many failed logins; try again later")
    try:
        await ctx.accounts.authenticate(jid, password)
    except (InvalidCredentialsError, AccountDisabledError):
        await ctx.store.record_login_failure(key, now=now, window=acct.login_failure_window)
        raise InvalidGrantError("invalid username or password") from None
    grant = Grant(grant_id=new_secret(16), jid=jid, client_id=client.client_id,
                  client_name=client.client_name, scopes=scopes, created_at=now,
                  last_used_at=now, auth_time=now)
    await ctx.store.create_grant(grant)
    ctx.grants.put(grant)
    return await issue_tokens(
        ctx, client=client, jid=jid, grant_id=grant.grant_id, scopes=scopes, auth_time=now,
        amr=("pwd",), nonce=None, resources=validate_resources(params.getall("resource"),
                                                               ctx.settings),
        now=now, new_refresh=refresh_allowed(ctx, client, scopes),
    )


async def _device_code(ctx: OAuthContext, client: Client, params: Params,
                       now: float) -> dict[str, Any]:
    device_hash = hash_secret(params.require("device_code"))
    record = await ctx.store.poll_device_code(device_hash, now=now)
    if record is None or record.client_id != client.client_id:
        raise InvalidGrantError("invalid device_code")
    if record.expires_at <= now:
        raise ExpiredTokenError("the device code expired; start over")  # §3.5
    if record.status == DeviceStatus.DENIED:
        raise AccessDeniedError("the user denied the request")
    if record.status == DeviceStatus.CONSUMED:
        raise InvalidGrantError("device code already used")
    if record.status == DeviceStatus.PENDING:
        if record.last_polled_at and now - record.last_polled_at < record.interval:
            # §3.5 slow_down: polled faster than the interval.
            raise SlowDownError(f"poll at most every {record.interval + SLOW_DOWN_STEP} s")
        raise AuthorizationPendingError("the user has not decided yet")
    grant_id = new_secret(16)
    redeemed = await ctx.store.redeem_device_code(device_hash, grant_id=grant_id, now=now)
    if redeemed is None:
        raise InvalidGrantError("device code already used")
    ctx.grants.put(Grant(
        grant_id=grant_id, jid=redeemed.jid, client_id=redeemed.client_id,
        client_name=redeemed.client_name, scopes=redeemed.scopes, created_at=now,
        last_used_at=now, auth_time=redeemed.auth_time,
    ))
    return await issue_tokens(
        ctx, client=client, jid=redeemed.jid, grant_id=grant_id, scopes=redeemed.scopes,
        auth_time=redeemed.auth_time, amr=("pwd",), nonce=None, resources=(), now=now,
        new_refresh=refresh_allowed(ctx, client, redeemed.scopes),
    )


_GRANTS = {
    GrantType.AUTHORIZATION_CODE.value: _authorization_code,
    GrantType.REFRESH_TOKEN.value: _refresh_token,
    GrantType.PASSWORD.value: _password,
    GrantType.DEVICE_CODE.value: _device_code,
}


__all__ = ["SLOW_DOWN_STEP", "issue_tokens", "refresh_allowed", "token_request"]
