"""RFC 7009 token revocation (§2.1 request, §2.2 response, §2.2.1 errors).

Theory of operation
-------------------
Every token names its grant, so revoking a token revokes its grant (DESIGN §3): the access
tokens and refresh tokens of that authorization all stop working together, and the in-memory
revocation set of this process learns it at once (other processes within a second).

=========================== ================================================================
request                     outcome
=========================== ================================================================
client authentication fails ``invalid_client`` 401 (§2.1; public clients identify by id)
``token`` missing           ``invalid_request``
``token_type_hint`` unknown ``unsupported_token_type`` (§2.2.1)
token of another client     ``invalid_grant`` (§2.1: the request is refused)
valid access token          its grant revoked; 200
valid refresh token         its grant revoked; 200
unknown / expired / already 200 with an empty body (§2.2: "invalid tokens do not cause an
revoked token               error response")
=========================== ================================================================

An expired access token is still examined (its signature must verify): revoking an expired
token of a live grant still ends the grant, which is what a client logging out wants.
"""

from __future__ import annotations

import base64
import json
import logging

from ..errors import InvalidGrantError, InvalidTokenError, UnsupportedTokenTypeError
from ..tokens.secrets import hash_secret
from .clients import authenticate_client
from .context import OAuthContext
from .requests import Params, TokenTypeHint

log = logging.getLogger(__name__)

async def revoke(ctx: OAuthContext, params: Params, *, authorization: str | None,
                 now: float) -> None:
    """RFC 7009 §2.1; returns normally for every §2.2 success (including unknown tokens)."""
    client = await authenticate_client(ctx.clients, authorization=authorization, params=params,
                                       now=now)
    token = params.require("token")
    hint = params.get("token_type_hint")
    if hint is not None and hint not in TokenTypeHint.__members__.values():
        raise UnsupportedTokenTypeError(f"token_type_hint {hint[:40]!r} is not supported")
    grant_id = await _refresh_grant(ctx, token, client.client_id)
    if grant_id is None:
        grant_id = _access_grant(ctx, token, client.client_id)
    if grant_id is None:
        return
    if ctx.revocations.is_revoked(grant_id):
        return
    await ctx.revoke_grant(grant_id, reason="client_revoked", now=now)


async def _refresh_grant(ctx: OAuthContext, token: str, client_id: str) -> str | None:
    if len(token) > 512 or token.count(".") == 2:
        return None
    record = await ctx.store.get_refresh_token(hash_secret(token))
    if record is None:
        return None
    if record.client_id != client_id:
        raise InvalidGrantError("the token was issued to another client")
    return record.grant_id


def _access_grant(ctx: OAuthContext, token: str, client_id: str) -> str | None:
    try:
        # Verify at the token's own issue time so an expired token still names its grant;
        # signature, type and issuer are checked all the same.
        claims = ctx.tokens.verify_access_token(token, audience=None, now=_issued_at(token))
    except InvalidTokenError:
        return None
    if claims.client_id != client_id:
        raise InvalidGrantError("the token was issued to another client")
    return claims.grant_id


def _issued_at(token: str) -> float:
    """The ``iat`` of an unverified token (only used as the ``now`` of its verification)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        iat = data.get("iat") if isinstance(data, dict) else None
    except (ValueError, IndexError):
        return 0.0  # verification then fails: not_yet_valid
    return float(iat) if isinstance(iat, int) and not isinstance(iat, bool) else 0.0


__all__ = ["revoke"]
