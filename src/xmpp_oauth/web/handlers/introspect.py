"""RFC 7662 §2 introspection endpoint."""

from __future__ import annotations

from aiohttp import web

from ...oauth.introspection import introspect as introspect_token
from ..keys import INTROSPECTION_CACHE_KEY
from ..middlewares import json_response
from ._common import context, now, read_form


async def introspect(request: web.Request) -> web.Response:
    params = await read_form(request)
    body = await introspect_token(context(request), request.app[INTROSPECTION_CACHE_KEY], params,
                                  authorization=request.headers.get("Authorization"),
                                  now=now(request))
    return json_response(body)


__all__ = ["introspect"]
