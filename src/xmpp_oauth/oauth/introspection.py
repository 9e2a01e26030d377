"""RFC 7662 token introspection (§2.1 request, §2.2 response, §4 security).

Theory of operation
-------------------
Only an authenticated confidential client may introspect (§2.1 "MUST require some form of
authorization"), and only tokens issued to itself (§4: keeps the endpoint from being a token
scanner for other clients' tokens).  Anything else — unknown, expired, revoked, another
client's — is ``{"active": false}`` and nothing more (§2.2).

``token_type_hint`` only decides which kind is tried first (§2.1: the server extends its
search to all kinds when the hint does not find it):

=============== ============================================================================
kind            active when
=============== ============================================================================
access token    signature, issuer and lifetime verify (``TokenService``) and its grant is
                not revoked (in-memory revocation set)
refresh token   stored (by hash), not consumed by rotation, not expired, grant live
=============== ============================================================================

An active response carries every §2.2 member we can state: ``active, scope, client_id,
username, token_type, exp, iat, sub, aud, iss, jti`` (and ``nbf`` when the token has one).
``token_type`` is ``Bearer`` for access tokens and ``refresh_token`` for refresh tokens.

Resource servers introspect the same token many times.  Its signature is verified once
(``TokenService``'s verified-token cache, ``tokens/verified.py``) and the answer built for it
is JSON-encoded once (:class:`IntrospectionAnswers`, keyed by ``jti``, filled only from
verified claims).  Revocation and the asking client are checked on every call, never cached.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidClientError, InvalidTokenError
from ..tokens.jwt import AccessTokenClaims
from ..tokens.secrets import hash_secret
from .clients import authenticate_client
from .context import OAuthContext
from .requests import Params, TokenTypeHint
from .scopes import format_scope

_INACTIVE: Final = {"active": False}
_CACHE_SIZE: Final = 4096
#: RFC 7662 §2.2 ``username``-style claim for refresh tokens' ``jti`` (a digest prefix).
_JTI_CHARS: Final = 32


@dataclass(frozen=True, slots=True)
class Introspection:
    """An RFC 7662 §2.2 answer and its JSON encoding (what the endpoint sends)."""

    body: dict[str, Any]
    encoded: bytes

    @classmethod
    def of(cls, body: dict[str, Any]) -> Introspection:
        return cls(body, json.dumps(body).encode())


_INACTIVE_ANSWER: Final = Introspection.of(_INACTIVE)


class IntrospectionAnswers:
    """Bounded memo of the encoded active answer per access token (by ``jti``).

    A token's answer never changes while it stays active, and encoding it costs as much as
    the rest of a cached introspection.  Entries are made only from verified claims, so a
    forged token naming another token's ``jti`` never gets this far.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._answers: OrderedDict[str, Introspection] = OrderedDict()

    def answer(self, claims: AccessTokenClaims) -> Introspection:
        found = self._answers.get(claims.jti)
        if found is not None:
            self._answers.move_to_end(claims.jti)
            return found
        found = Introspection.of(_access_body(claims))
        self._answers[claims.jti] = found
        if len(self._answers) > self._size:
            self._answers.popitem(last=False)
        return found


def _access_body(claims: AccessTokenClaims) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active": True,
        "scope": " ".join(sorted(claims.scopes)),
        "client_id": claims.client_id,
        "username": claims.sub,
        "token_type": "Bearer",
        "exp": claims.exp,
        "iat": claims.iat,
        "sub": claims.sub,
        "aud": claims.aud[0] if len(claims.aud) == 1 else list(claims.aud),
        "iss": claims.iss,
        "jti": claims.jti,
    }
    if claims.nbf is not None:
        body["nbf"] = claims.nbf
    return body


async def _access_token(ctx: OAuthContext, answers: IntrospectionAnswers, token: str,
                        client_id: str, now: float) -> Introspection | None:
    try:
        claims = ctx.tokens.verify_access_token(token, audience=None, now=now)
    except InvalidTokenError:
        return None
    if claims.client_id != client_id or ctx.revocations.is_revoked(claims.grant_id):
        return None
    return answers.answer(claims)


async def _refresh_token(ctx: OAuthContext, token: str, client_id: str,
                         now: float) -> Introspection | None:
    if len(token) > 512 or token.count(".") == 2:
        return None  # not one of our opaque refresh tokens
    digest = hash_secret(token)
    record = await ctx.store.get_refresh_token(digest)
    if (record is None or record.client_id != client_id or record.consumed_at is not None
            or record.expires_at <= now or ctx.revocations.is_revoked(record.grant_id)):
        return None
    grant = await ctx.grants.get(ctx.store, record.grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    domain = grant.jid.rpartition("@")[2]
    return Introspection.of({
        "active": True,
        "scope": format_scope(record.scopes),
        "client_id": record.client_id,
        "username": grant.jid,
        "token_type": "refresh_token",
        "exp": int(record.expires_at),
        "iat": int(record.created_at),
        "sub": grant.jid,
        "aud": ctx.settings.audience_for(domain),
        "iss": ctx.settings.issuer,
        "jti": digest[:_JTI_CHARS],
    })


async def introspect(
    ctx: OAuthContext,
    answers: IntrospectionAnswers,
    params: Params,
    *,
    authorization: str | None,
    now: float,
) -> dict[str, Any]:
    """RFC 7662 §2: the introspection response for one token."""
    answer = await introspection(ctx, answers, params, authorization=authorization, now=now)
    return dict(answer.body)


async def introspection(
    ctx: OAuthContext,
    answers: IntrospectionAnswers,
    params: Params,
    *,
    authorization: str | None,
    now: float,
) -> Introspection:
    """:func:`introspect`, with the answer's JSON encoding (shared, do not modify)."""
    client = await authenticate_client(ctx.clients, authorization=authorization, params=params,
                                       now=now, allow_public=False)
    if client.is_public:  # pragma: no cover - authenticate_client refused it already
        raise InvalidClientError("introspection needs client authentication")
    token = params.require("token")
    hint = params.get("token_type_hint")
    order = (_refresh_first if hint == TokenTypeHint.REFRESH_TOKEN else _access_first)
    result = await order(ctx, answers, token, client.client_id, now)
    return result if result is not None else _INACTIVE_ANSWER


async def _access_first(ctx: OAuthContext, answers: IntrospectionAnswers, token: str,
                        client_id: str, now: float) -> Introspection | None:
    found = await _access_token(ctx, answers, token, client_id, now)
    return found if found is not None else await _refresh_token(ctx, token, client_id, now)


async def _refresh_first(ctx: OAuthContext, answers: IntrospectionAnswers, token: str,
                         client_id: str, now: float) -> Introspection | None:
    found = await _refresh_token(ctx, token, client_id, now)
    return found if found is not None else await _access_token(ctx, answers, token, client_id,
                                                               now)


__all__ = ["Introspection", "IntrospectionAnswers", "introspect", "introspection"]
