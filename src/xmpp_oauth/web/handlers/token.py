"""RFC 6749 §3.2 token endpoint."""

from __future__ import annotations

from aiohttp import web

from ...oauth.grants import token_request
from ..middlewares import json_response
from ._common import context, now, read_form


async def token(request: web.Request) -> web.Response:
    params = await read_form(request)
    body = await token_request(context(request), params,
                               authorization=request.headers.get("Authorization"),
                               now=now(request))
    return json_response(body)


__all__ = ["token"]
