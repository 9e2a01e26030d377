"""RFC 8414 §3 / OIDC Discovery §4 metadata and the RFC 7517 §5 JWK Set."""

from __future__ import annotations

from aiohttp import web

from ..keys import METADATA_KEY, RUNTIME_KEY
from ..middlewares import json_response


async def metadata(request: web.Request) -> web.Response:
    """Both well-known paths serve this same document."""
    return json_response(request.app[METADATA_KEY])


async def jwks(request: web.Request) -> web.Response:
    """The public keys of the key ring (retired keys stay until their tokens expire)."""
    return json_response(request.app[RUNTIME_KEY].tokens.keyring.jwks())


__all__ = ["jwks", "metadata"]
