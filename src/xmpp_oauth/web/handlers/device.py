"""RFC 8628 §3.1 device authorization endpoint (the user-code page is ``web.device_page``)."""

from __future__ import annotations

from aiohttp import web

from ...oauth.device import device_authorization as start_device_flow
from ..keys import DEVICE_LIMITER_KEY
from ..middlewares import client_address, json_response
from ._common import context, now, read_form


async def device_authorization(request: web.Request) -> web.Response:
    t = now(request)
    if not request.app[DEVICE_LIMITER_KEY].allow(client_address(request), now=t):
        return json_response({"error": "slow_down",
                              "error_description": "too many device authorizations"},
                             status=429, headers={"Retry-After": "30"})
    params = await read_form(request)
    body = await start_device_flow(context(request), params,
                                   authorization=request.headers.get("Authorization"), now=t)
    return json_response(body)


__all__ = ["device_authorization"]
