"""Browser tests: the real app on a loopback port, driven by Debian's Chromium via Playwright.

Chromium is launched from ``/usr/bin/chromium`` (never ``playwright install``); the tests skip
with a reason when it is missing, or fail when ``XMPP_OAUTH_REQUIRE_INTEGRATION=1``.  The app
runs with the real clock.  Apps receive their redirects on a small loopback server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests.helpers import require
from xmpp_oauth.runtime import Runtime, open_runtime
from xmpp_oauth.settings import Settings
from xmpp_oauth.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ALICE = "alice@localhost"
PASSWORD = "correct horse battery staple"
OOB = "urn:ietf:wg:oauth:2.0:oob"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

CALLBACK_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Test app</title></head>"
    "<body><main><h1>Back in the app</h1></main></body></html>"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@dataclass
class Callback:
    """The app's loopback redirect endpoint: records every query it receives."""

    base: str
    received: list[dict[str, str]] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return self.base + "/cb"


@dataclass
class Live:
    """One running server, its runtime, and an app (client) talking to it."""

    base: str
    settings: Settings
    runtime: Runtime
    callback: Callback
    http: aiohttp.ClientSession

    async def register(self, **metadata: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_name": "Test App",
            "client_uri": "https://app.example",
            "redirect_uris": [self.callback.uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile xmpp:client:normal offline_access",
        }
        body.update(metadata)
        body = {k: v for k, v in body.items() if v is not None}
        async with self.http.post(self.base + "/register", json=body) as r:
            assert r.status == 201, await r.text()
            reg: dict[str, Any] = await r.json()
            return reg

    def authorize_url(
        self,
        reg: dict[str, Any],
        *,
        scope: str = "openid xmpp:client:normal offline_access",
        redirect_uri: str | None = None,
        **extra: str,
    ) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": reg["client_id"],
            "redirect_uri": redirect_uri or reg["redirect_uris"][0],
            "scope": scope,
            "state": extra.pop("state", secrets.token_urlsafe(8)),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return f"{self.base}/authorize?{urlencode(params)}", verifier

    def client_auth(self, reg: dict[str, Any]) -> dict[str, str]:
        if "client_secret" not in reg:
            return {}
        raw = f"{quote_plus(reg['client_id'])}:{quote_plus(reg['client_secret'])}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    async def token(self, reg: dict[str, Any], data: dict[str, str]) -> tuple[int, Any]:
        if "client_secret" not in reg:
            data = {**data, "client_id": reg["client_id"]}
        async with self.http.post(
            self.base + "/token", data=data, headers=self.client_auth(reg)
        ) as r:
            return r.status, await r.json()

    async def exchange(
        self, reg: dict[str, Any], code: str, verifier: str, redirect_uri: str | None = None
    ) -> dict[str, Any]:
        status, body = await self.token(
            reg,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri or reg["redirect_uris"][0],
                "code_verifier": verifier,
            },
        )
        assert status == 200, body
        out: dict[str, Any] = body
        return out

    async def poll_device(self, reg: dict[str, Any], device_code: str, interval: float) -> Any:
        """Poll like an RFC 8628 §3.4 client until the answer is not ``authorization_pending``."""
        while True:
            await asyncio.sleep(interval)
            status, body = await self.token(
                reg, {"grant_type": DEVICE_GRANT, "device_code": device_code}
            )
            if status == 400 and body.get("error") == "authorization_pending":
                continue
            if status == 400 and body.get("error") == "slow_down":
                interval += 5  # §3.5
                continue
            return status, body


LiveFactory = Callable[..., Awaitable[Live]]


@pytest.fixture
async def make_live(
    settings_factory: Callable[..., Settings], aiohttp_server: Any
) -> AsyncIterator[LiveFactory]:
    """Start the app on a real loopback port (settings overrides as keyword arguments)."""
    stack: list[Any] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make(*, ssl: Any = None, **overrides: Any) -> Live:
        received: list[dict[str, str]] = []

        async def cb(request: web.Request) -> web.Response:
            received.append(dict(request.query))
            return web.Response(text=CALLBACK_PAGE, content_type="text/html")

        app_side = web.Application()
        app_side.router.add_get("/cb", cb)
        cb_server = await aiohttp_server(app_side, host="127.0.0.1")
        callback = Callback(f"http://127.0.0.1:{cb_server.port}", received)

        port = free_port()
        overrides.setdefault("http__host", "127.0.0.1")
        overrides.setdefault("http__port", port)
        overrides.setdefault("oauth2_device_poll_interval", 1)
        settings = settings_factory(**overrides)
        cm = open_runtime(settings)
        runtime = await cm.__aenter__()
        stack.append(cm)
        if await runtime.store.get_account(ALICE) is None:
            await runtime.accounts.create(ALICE, PASSWORD)  # type: ignore[attr-defined]
        server = await aiohttp_server(
            create_app(settings, runtime=runtime), host="127.0.0.1", port=port, ssl=ssl
        )
        scheme = "https" if ssl is not None else "http"
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))
        sessions.append(http)
        return Live(f"{scheme}://127.0.0.1:{server.port}", settings, runtime, callback, http)

    yield make
    for http in sessions:
        await http.close()
    for cm in reversed(stack):
        await cm.__aexit__(None, None, None)


@pytest.fixture
async def live(make_live: LiveFactory) -> Live:
    return await make_live()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - a test extra
        require(False, "PyPI playwright not installed")
        raise
    async with async_playwright() as p:
        instance = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=DESKTOP)
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    try:
        yield pg
    finally:
        await context.close()


async def sign_in(page: Any, user: str = ALICE, password: str = PASSWORD) -> None:
    """Fill the sign-in form through its labels, as a person (or a screen reader) would."""
    await page.get_by_label("XMPP address").fill(user)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def heading(page: Any) -> str:
    text: str = await page.locator("h1").inner_text()
    return text
