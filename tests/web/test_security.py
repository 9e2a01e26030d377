"""Security headers on everything; no 500 for client mistakes; failures without detail."""

from __future__ import annotations

from typing import Any

import pytest

from xmpp_oauth.errors import StoreError
from xmpp_oauth.web.keys import OAUTH_KEY

from .flows import Flows, assert_oauth_error

pytestmark = pytest.mark.usefixtures("env")

HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def check_headers(r: Any) -> None:
    for name, value in HEADERS.items():
        assert r.headers[name] == value, name
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "no-store" in r.headers["Cache-Control"] or "no-cache" in r.headers["Cache-Control"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/.well-known/openid-configuration"), ("GET", "/jwks"), ("GET", "/login"),
    ("GET", "/authorize"), ("POST", "/token"), ("GET", "/nope"), ("GET", "/device"),
    ("GET", "/account"), ("GET", "/userinfo"), ("OPTIONS", "/token"), ("GET", "/token"),
    ("POST", "/introspect"), ("POST", "/revoke"),
])
async def test_headers_everywhere(flows: Flows, method: str, path: str) -> None:
    r = await flows.client.request(method, path, allow_redirects=False)
    assert r.status < 500
    check_headers(r)


async def test_preflight(flows: Flows) -> None:
    r = await flows.client.options("/token")
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]


async def test_unexpected_exception_is_server_error(flows: Flows, monkeypatch: Any,
                                                    caplog: Any) -> None:
    reg = await flows.register()
    store = flows.client.app[OAUTH_KEY].store

    async def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(store, "use_refresh_token", broken)
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=flows.auth(reg))
    body = await assert_oauth_error(r, 500, "server_error")
    assert "secret" not in str(body)
    assert "secret internal detail" in caplog.text  # logged with its traceback


async def test_store_failure_is_503(flows: Flows, monkeypatch: Any) -> None:
    reg = await flows.register()
    store = flows.client.app[OAUTH_KEY].store

    async def down(*args: object, **kw: object) -> None:
        raise StoreError("sqlite", "database is locked")

    monkeypatch.setattr(store, "use_refresh_token", down)
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 503, "temporarily_unavailable")


async def test_no_secrets_in_logs(flows: Flows, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    await flows.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                      auth=flows.auth(reg))
    for secret in (tokens["access_token"], tokens["refresh_token"], reg["client_secret"],
                   "correct horse battery staple"):
        assert secret not in caplog.text


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect", "/device_authorization"])
async def test_garbage_never_500(flows: Flows, path: str) -> None:
    bodies = [b"", b"&&&", b"=", b"a=%ZZ", b"\x00\x01", b"client_id=\xff",
              b"grant_type=refresh_token&client_id=" + b"x" * 5000]
    for body in bodies:
        r = await flows.client.post(path, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= r.status < 500, (path, body, r.status)
        assert (await r.json())["error"]


def _request_from(peer: str, forwarded: str | None, proxies: list[str]) -> Any:
    from unittest import mock

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from xmpp_oauth.settings import Settings
    from xmpp_oauth.web.keys import SETTINGS_KEY

    app = web.Application()
    app[SETTINGS_KEY] = Settings.from_mapping({"http": {"trusted_proxies": proxies}})
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 1234) if name == "peername" else default)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return make_mocked_request("GET", "/", headers=headers, app=app, transport=transport)


@pytest.mark.parametrize(("peer", "forwarded", "proxies", "expected"), [
    ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),          # no proxies: header ignored
    ("203.0.113.9", "198.51.100.1", ["127.0.0.1"], "203.0.113.9"),  # not from a proxy
    ("127.0.0.1", "198.51.100.1", ["127.0.0.1"], "198.51.100.1"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", ["127.0.0.1"], "198.51.100.1"),  # spoofed left part
    ("127.0.0.1", "198.51.100.1, 10.0.0.2", ["127.0.0.1", "10.0.0.0/8"], "198.51.100.1"),
    ("127.0.0.1", None, ["127.0.0.1"], "127.0.0.1"),
])
def test_client_address_trusts_only_configured_proxies(
        peer: str, forwarded: str | None, proxies: list[str], expected: str) -> None:
    from xmpp_oauth.web.middlewares import client_address

    assert client_address(_request_from(peer, forwarded, proxies)) == expected
