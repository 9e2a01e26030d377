"""The device verification page (RFC 8628 §3.3 user interaction, §5 security).

``GET /device`` asks for the user code (or takes it from ``verification_uri_complete``),
signs the user in when needed, then shows the client and its scopes with the code to compare;
``POST /device`` records the decision with ``Store.decide_device_code``, which the polling
client then sees as a token or ``access_denied``.  The device flow always asks: a remembered
consent never approves a device code by itself (§5.4, remote phishing).  Wrong codes count
against the client address (§5.1: user codes are short, guesses must be limited).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from ..oauth.device import normalize_user_code
from ..oauth.scopes import describe_scopes
from ..store.base import DeviceCode, DeviceStatus
from .browser import PageKit, client_address, page_kit, throttled_message
from .templating import ClientView

INVALID_CODE: Final = "That code is not valid or has expired. Check it and try again."


async def _find(kit: PageKit, raw: str) -> DeviceCode | None:
    user_code = normalize_user_code(raw)
    if user_code is None:
        return None
    record = await kit.store.get_device_code_by_user_code(user_code)
    if record is None or record.status != DeviceStatus.PENDING:
        return None
    if record.expires_at <= kit.clock.now():
        return None
    return record


async def _entry(
    kit: PageKit,
    request: web.Request,
    *,
    user_code: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    return await kit.render(
        request, "device.html", {"user_code": user_code, "error": error}, status=status
    )


async def _lookup(kit: PageKit, request: web.Request, raw: str) -> DeviceCode | web.Response:
    address = client_address(request)
    locked = await kit.throttle.check_user_code(address)
    if locked is not None:
        return await _entry(
            kit,
            request,
            user_code=raw[:32],
            error=throttled_message(locked.retry_after),
            status=429,
        )
    record = await _find(kit, raw)
    if record is None:
        await kit.throttle.user_code_failed(address)
        return await _entry(kit, request, user_code=raw[:32], error=INVALID_CODE, status=400)
    return record


async def device_get(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    raw = request.query.get("user_code", "").strip()
    if not raw:
        return await _entry(kit, request)
    record = await _lookup(kit, request, raw)
    if isinstance(record, web.Response):
        return record
    client = ClientView.build(record.client_name)
    session = await kit.sessions.current(request)
    if session is None:
        target = kit.url("/device") + "?" + urlencode({"user_code": record.user_code})
        return await kit.login_page(
            request, action=kit.url("/login"), hidden=[("next", target)], client=client
        )
    return await kit.render(
        request,
        "device_confirm.html",
        {
            "client": client,
            "user_code": record.user_code,
            "scopes": describe_scopes(record.scopes, kit.settings),
        },
    )


async def device_post(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    form = await request.post()
    await kit.csrf.verify(request, form)
    session = await kit.sessions.current(request)
    raw = form.get("user_code")
    raw = raw.strip() if isinstance(raw, str) else ""
    if session is None:
        target = kit.url("/device") + ("?" + urlencode({"user_code": raw}) if raw else "")
        return await kit.login_page(
            request, action=kit.url("/login"), hidden=[("next", target)], status=401
        )
    record = await _lookup(kit, request, raw)
    if isinstance(record, web.Response):
        return record
    approve = form.get("xo_decision") == "allow"
    decided = await kit.store.decide_device_code(
        record.user_code,
        approve=approve,
        jid=session.jid,
        auth_time=session.auth_time,
        now=kit.clock.now(),
    )
    if not decided:
        return await _entry(kit, request, error=INVALID_CODE, status=400)
    return await kit.render(
        request, "device_done.html", {"approved": approve, "client_name": record.client_name}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/device", device_get, name="device")
    app.router.add_post("/device", device_post)


__all__ = ["device_get", "device_post", "setup"]
