"""End-to-end browser flows: sessions, prompt, consent, device, OOB, account, logout, theming."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from xmpp_oauth.clock import SystemClock
from xmpp_oauth.errors import InvalidTokenError
from xmpp_oauth.saslservice.exchanges import Challenge, DomainContext, OAuthBearerExchange, Ok
from xmpp_oauth.store.revocation import StoreRevocationSet
from xmpp_oauth.validate import Validator

from .conftest import (
    ALICE,
    DEVICE_GRANT,
    OOB,
    PASSWORD,
    Live,
    LiveFactory,
    heading,
    query_of,
    sign_in,
)

pytestmark = pytest.mark.browser


async def authorize_in_browser(
    live: Live, page: Any, reg: dict[str, Any], *, signed_in: bool = False, **kw: Any
) -> tuple[dict[str, Any], str]:
    """Open the authorization URL, sign in if asked, allow if asked; return the redirect."""
    url, verifier = live.authorize_url(reg, **kw)
    await page.goto(url)
    if not page.url.startswith(live.callback.base):
        if await page.get_by_label("Password").count():
            assert not signed_in, "a sign-in was asked for although a session exists"
            await sign_in(page)
        if not page.url.startswith(live.callback.base):
            assert (await heading(page)).startswith("Allow")
            await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(live.callback.base + "/**")
    return query_of(page.url), verifier


async def test_code_flow_with_remembered_session(live: Live, page: Any) -> None:
    reg = await live.register()
    url, verifier = live.authorize_url(reg, state="first")
    await page.goto(url)
    assert await heading(page) == "Sign in"
    assert "Test App" in await page.locator("main").inner_text()
    await sign_in(page)
    assert await heading(page) == "Allow Test App to access your account?"
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(live.callback.base + "/**")
    got = query_of(page.url)
    assert got["state"] == "first" and got["iss"] == live.settings.issuer
    tokens = await live.exchange(reg, got["code"], verifier)
    assert tokens["refresh_token"] and tokens["id_token"]

    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["xo_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and not session["secure"]

    # The second authorization needs neither sign-in nor consent: straight back to the app.
    url, verifier = live.authorize_url(reg, state="second")
    response = await page.goto(url)
    assert response is not None and response.url.startswith(live.callback.uri)
    hops = []
    request = response.request.redirected_from
    while request is not None:
        hops.append(request.url)
        request = request.redirected_from
    assert len(hops) == 1 and hops[0].startswith(live.base + "/authorize?")
    got = query_of(page.url)
    assert got["state"] == "second"
    await live.exchange(reg, got["code"], verifier)


async def test_prompt_login_asks_again(live: Live, page: Any) -> None:
    reg = await live.register()
    await authorize_in_browser(live, page, reg)
    before = int(time.time())
    await asyncio.sleep(1.1)  # auth_time has one-second resolution
    url, verifier = live.authorize_url(reg, prompt="login", nonce="n-0S6")
    await page.goto(url)
    assert await heading(page) == "Sign in"
    await sign_in(page)
    await page.wait_for_url(live.callback.base + "/**")  # consent is remembered
    tokens = await live.exchange(reg, query_of(page.url)["code"], verifier)
    claims = live.runtime.tokens.verify_id_token(
        tokens["id_token"], client_id=reg["client_id"], now=time.time()
    )
    assert claims["nonce"] == "n-0S6"
    assert claims["auth_time"] > before


async def test_prompt_none_without_session(live: Live, page: Any) -> None:
    reg = await live.register()
    url, _ = live.authorize_url(reg, prompt="none", state="quiet")
    await page.goto(url)
    await page.wait_for_url(live.callback.base + "/**")
    got = query_of(page.url)
    assert got["error"] == "login_required" and got["state"] == "quiet"
    assert got["iss"] == live.settings.issuer and "code" not in got


async def test_consent_remembered_and_asked_for_new_scopes(live: Live, page: Any) -> None:
    reg = await live.register()
    got, _ = await authorize_in_browser(live, page, reg, scope="xmpp:client:normal")
    assert "code" in got
    # Same scopes: no page at all.
    url, _ = live.authorize_url(reg, scope="xmpp:client:normal")
    await page.goto(url)
    assert page.url.startswith(live.callback.uri)
    # More scopes: the consent page again, the new one marked.
    url, _ = live.authorize_url(reg, scope="xmpp:client:normal offline_access")
    await page.goto(url)
    assert (await heading(page)).startswith("Allow")
    new = page.locator(".scopes li", has=page.locator(".badge"))
    assert await new.count() == 1
    assert "offline_access" in await new.inner_text()
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(live.callback.base + "/**")
    assert "code" in query_of(page.url)


async def test_deny_returns_access_denied(live: Live, page: Any) -> None:
    reg = await live.register()
    url, _ = live.authorize_url(reg, state="no")
    await page.goto(url)
    await sign_in(page)
    await page.get_by_role("button", name="Deny").click()
    await page.wait_for_url(live.callback.base + "/**")
    got = query_of(page.url)
    assert got["error"] == "access_denied" and got["state"] == "no"


async def start_device(live: Live) -> tuple[dict[str, Any], dict[str, Any]]:
    reg = await live.register(
        client_name="Kitchen Display",
        grant_types=[DEVICE_GRANT, "refresh_token"],
        redirect_uris=None,
        client_uri=None,
        token_endpoint_auth_method="none",
    )
    async with live.http.post(
        live.base + "/device_authorization",
        data={"client_id": reg["client_id"], "scope": "xmpp:client:normal offline_access"},
    ) as r:
        assert r.status == 200, await r.text()
        return reg, await r.json()


async def test_device_flow_approve_then_deny(live: Live, page: Any) -> None:
    reg, start = await start_device(live)
    poller = asyncio.create_task(live.poll_device(reg, start["device_code"], start["interval"]))
    await page.goto(start["verification_uri_complete"])
    assert await heading(page) == "Sign in"
    await sign_in(page)
    assert await heading(page) == "Connect Kitchen Display to your account?"
    assert start["user_code"] in await page.locator("main").inner_text()
    await page.get_by_role("button", name="Allow").click()
    assert await heading(page) == "Device connected"
    status, body = await asyncio.wait_for(poller, 20)
    assert status == 200, body
    live.runtime.validator.validate(body["access_token"], now=time.time())

    # Second device, typed by hand on the entry page, denied.
    reg, start = await start_device(live)
    poller = asyncio.create_task(live.poll_device(reg, start["device_code"], start["interval"]))
    await page.goto(live.base + "/device")
    await page.get_by_label("Code").fill(start["user_code"].lower().replace("-", " "))
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("button", name="Deny").click()
    assert await heading(page) == "Access denied"
    status, body = await asyncio.wait_for(poller, 20)
    assert status == 403 and body["error"] == "access_denied"


async def test_oob_page_shows_the_code(live: Live, page: Any) -> None:
    reg = await live.register(redirect_uris=[OOB], client_uri=None, client_name="CLI Tool")
    url, verifier = live.authorize_url(reg, redirect_uri=OOB)
    await page.goto(url)
    await sign_in(page)
    await page.get_by_role("button", name="Allow").click()
    assert await heading(page) == "Your authorization code"
    code = await page.get_by_label("Authorization code").input_value()
    tokens = await live.exchange(reg, code, verifier, redirect_uri=OOB)
    assert tokens["access_token"]


def oauthbearer_login(validator: Validator, token: str) -> Any:
    """One RFC 7628 exchange as the SASL service runs it for Prosody."""

    def check(token: str, authzid: str | None, domain: str, now: float) -> Any:
        return validator.validate(token, authzid=authzid, domain=domain, now=now)

    ctx = DomainContext(
        domain="localhost",
        token_check=check,
        openid_configuration="https://example/.well-known/openid-configuration",
        clock=SystemClock(),
    )
    message = f"n,a={ALICE},\x01auth=Bearer {token}\x01\x01".encode()
    return OAuthBearerExchange(ctx).step(message)


async def test_account_page_revoke(live: Live, page: Any) -> None:
    reg = await live.register(client_name="Revocable Chat")
    got, verifier = await authorize_in_browser(live, page, reg)
    tokens = await live.exchange(reg, got["code"], verifier)
    # The XMPP side (the SASL service, another process) holds its own revocation set.
    xmpp_side = StoreRevocationSet(live.runtime.store, poll_interval=0.1)
    await xmpp_side.start()
    xmpp_validator = Validator(live.runtime.tokens, xmpp_side, domains=["localhost"])
    try:
        assert oauthbearer_login(xmpp_validator, tokens["access_token"]) == Ok(ALICE)
        await page.goto(live.base + "/account")
        grant = page.locator(".grant", has_text="Revocable Chat")
        assert await grant.count() == 1
        await grant.get_by_role("button", name="Revoke access").click()
        revoked_at = time.monotonic()
        await page.wait_for_url("**/account?done=revoked")
        assert "Access revoked" in await page.locator("main").inner_text()
        assert await page.locator(".grant").count() == 0
        grant_id = live.runtime.tokens.verify_access_token(
            tokens["access_token"], audience=None, now=time.time()
        ).grant_id
        while not xmpp_side.is_revoked(grant_id):
            assert time.monotonic() - revoked_at < 1.0, "revocation took over 1 s"
            await asyncio.sleep(0.02)
        # A fresh XMPP login with the old access token now gets the RFC 7628 error challenge.
        refused = oauthbearer_login(xmpp_validator, tokens["access_token"])
        assert isinstance(refused, Challenge) and b'"invalid_token"' in refused.data
    finally:
        await xmpp_side.stop()
    with pytest.raises(InvalidTokenError):
        live.runtime.validator.validate(tokens["access_token"], now=time.time())
    status, body = await live.token(
        reg, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert status == 400 and body["error"] == "invalid_grant"


async def test_logout(live: Live, page: Any) -> None:
    reg = await live.register()
    await authorize_in_browser(live, page, reg)
    await page.goto(live.base + "/account")
    await page.get_by_role("button", name="Sign out").click()
    assert await heading(page) == "You are signed out"
    assert "xo_session" not in {c["name"] for c in await page.context.cookies()}
    await page.goto(live.base + "/account")
    assert await heading(page) == "Sign in"
    url, _ = live.authorize_url(reg, prompt="none")
    await page.goto(url)
    await page.wait_for_url(live.callback.base + "/**")
    assert query_of(page.url)["error"] == "login_required"


async def test_custom_template_overrides_one_page(
    make_live: LiveFactory, page: Any, tmp_path: Path
) -> None:
    custom = tmp_path / "theme"
    custom.mkdir()
    builtin = (Path(__file__).resolve().parents[2] / "templates" / "login.html").read_text()
    (custom / "login.html").write_text(
        builtin.replace("<h1>Sign in</h1>", "<h1>Welcome to Example Chat</h1>")
    )
    live = await make_live(
        oauth2_template_path=str(custom),
        site_name="Example Chat",
        oauth2_template_style={"accent": "#6b2c91"},
    )
    reg = await live.register()
    url, _ = live.authorize_url(reg)
    await page.goto(url)
    assert await heading(page) == "Welcome to Example Chat"
    button = page.get_by_role("button", name="Sign in")
    colour = await button.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(107, 44, 145)"  # the style variable reached the stylesheet
    await sign_in(page)
    assert (await heading(page)).startswith("Allow")  # the built-in consent page


async def test_throttling_after_wrong_passwords(make_live: LiveFactory, page: Any) -> None:
    live = await make_live(accounts__max_login_failures=3)
    await page.goto(live.base + "/account")
    for _ in range(3):
        await sign_in(page, password="not the password")
        assert "Sign-in failed" in await page.get_by_role("alert").inner_text()
    await sign_in(page, password=PASSWORD)
    alert = await page.get_by_role("alert").inner_text()
    assert "Too many failed sign-in attempts" in alert
    assert await heading(page) == "Sign in"
    # An unknown account gets exactly the same first answer as a wrong password.
    await page.goto(live.base + "/login")
    await sign_in(page, user="nobody@localhost", password="x")
    assert "Sign-in failed" in await page.get_by_role("alert").inner_text()


async def test_csrf_refused_in_the_browser(live: Live, page: Any) -> None:
    await page.goto(live.base + "/login")
    await page.locator("input[name=xo_csrf]").first.evaluate("e => e.value = 'forged'")
    await sign_in(page)
    assert await heading(page) == "This form has expired"
    assert "xo_session" not in {c["name"] for c in await page.context.cookies()}


async def test_secure_cookies_over_tls(
    make_live: LiveFactory, browser: Any, tmp_path: Path
) -> None:
    from .tls import self_signed_context

    ssl_context, cert, key = self_signed_context(tmp_path)
    live = await make_live(
        ssl=ssl_context, http__tls_cert_file=str(cert), http__tls_key_file=str(key)
    )
    assert live.settings.issuer.startswith("https://")
    context = await browser.new_context(ignore_https_errors=True)
    try:
        pg = await context.new_page()
        await pg.goto(live.base + "/account")
        await sign_in(pg)
        assert await heading(pg) == "Authorized apps"
        cookies = {c["name"]: c for c in await context.cookies()}
        assert "xo_session" not in cookies
        for name in ("__Host-xo_session", "__Host-xo_csrf"):
            c = cookies[name]
            assert c["secure"] and c["httpOnly"] and c["sameSite"] == "Lax" and c["path"] == "/"
        assert ALICE in await pg.locator("header").inner_text()
    finally:
        await context.close()
