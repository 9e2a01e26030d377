"""OIDC Core §5.3 UserInfo endpoint, an RFC 6750 protected resource."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from ...errors import InvalidBearerTokenError, InvalidRequestError, InvalidTokenError
from ...oauth.oidc import userinfo as userinfo_claims
from ..middlewares import json_response
from ._common import FORM_TYPE, context, now, parse_form

OPENID_ONLY: Final = frozenset({"openid"})


async def _bearer_token(request: web.Request) -> str:
    """RFC 6750 §2.1 header or §2.2 form body; never both (§2), never the query (§2.3)."""
    header = request.headers.get("Authorization")
    from_body = None
    if request.method == "POST" and request.content_type == FORM_TYPE:
        from_body = parse_form(await request.read()).get("access_token")
    if header is not None:
        if from_body is not None:
            raise InvalidRequestError("more than one way of sending the access token")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidBearerTokenError("expected a Bearer token")
        return value.strip()
    if from_body is None:
        raise InvalidBearerTokenError("missing access token")
    return from_body


async def userinfo(request: web.Request) -> web.Response:
    token = await _bearer_token(request)
    ctx = context(request)
    try:
        principal = ctx.validator.validate(token, required_scopes=OPENID_ONLY, now=now(request))
    except InvalidTokenError:
        raise InvalidBearerTokenError("the access token is invalid or expired") from None
    return json_response(userinfo_claims(principal.jid, principal.scopes))


__all__ = ["userinfo"]
