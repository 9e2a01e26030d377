"""RFC 7009 §2 revocation endpoint."""

from __future__ import annotations

from aiohttp import web

from ...oauth.revocation import revoke as revoke_token
from ..middlewares import json_response
from ._common import context, now, read_form


async def revoke(request: web.Request) -> web.Response:
    params = await read_form(request)
    await revoke_token(context(request), params,
                       authorization=request.headers.get("Authorization"), now=now(request))
    # §2.2: HTTP 200; the content of the body is ignored by the client.
    return json_response({})


__all__ = ["revoke"]
