"""RFC 7591 §3 client registration endpoint."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ...errors import InvalidClientMetadataError
from ...oauth.registration import register_client
from ..keys import REGISTRATION_LIMITER_KEY
from ..middlewares import client_address, json_response
from ._common import context, now


async def register(request: web.Request) -> web.Response:
    """§3.1: a JSON object of metadata in, §3.2.1 201 with the client's credentials out."""
    t = now(request)
    if not request.app[REGISTRATION_LIMITER_KEY].allow(client_address(request), now=t):
        return json_response({"error": "temporarily_unavailable",
                              "error_description": "too many registrations; slow down"},
                             status=429, headers={"Retry-After": "60"})
    if request.content_type != "application/json":
        raise InvalidClientMetadataError("the body must be application/json")
    try:
        metadata: Any = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise InvalidClientMetadataError("the body is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise InvalidClientMetadataError("the body must be a JSON object")
    ctx = context(request)
    body = register_client(metadata, codec=ctx.codec, settings=ctx.settings, now=t)
    return json_response(body, status=201)


__all__ = ["register"]
