"""RFC 7662 §2 introspection endpoint."""

from __future__ import annotations

from aiohttp import web

from ...oauth.introspection import introspection
from ..keys import INTROSPECTION_CACHE_KEY
from ..middlewares import encoded_json_response
from ._common import context, now, read_form


async def introspect(request: web.Request) -> web.Response:
    params = await read_form(request)
    answer = await introspection(context(request), request.app[INTROSPECTION_CACHE_KEY], params,
                                 authorization=request.headers.get("Authorization"),
                                 now=now(request))
    return encoded_json_response(answer.encoded)


__all__ = ["introspect"]
