"""Every built-in page: axe-core finds nothing serious or critical, it fits a phone, and
nothing on it breaks the CSP; screenshots at phone and desktop widths go to
``test-artifacts/screenshots/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from .conftest import (
    ARTIFACTS,
    DESKTOP,
    OOB,
    PHONE,
    Live,
    LiveFactory,
    heading,
    query_of,
    sign_in,
)
from .test_flows import start_device

pytestmark = pytest.mark.browser

BAD_IMPACT = frozenset({"serious", "critical"})


class Checker:
    """Runs axe on the current page, checks the layout, saves a screenshot."""

    def __init__(self, page: Any, viewport: str) -> None:
        self.page = page
        self.viewport = viewport
        self.problems: dict[str, list[str]] = {}
        self.seen: list[str] = []
        self.console: list[str] = []
        page.on(
            "console",
            # Pages with 4xx statuses log "Failed to load resource"; anything else is a bug.
            lambda msg: (
                self.console.append(msg.text)
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )

    async def __call__(self, name: str) -> None:
        from axe_playwright_python.async_playwright import Axe

        self.seen.append(name)
        result = await Axe().run(self.page)
        found = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in result.response["violations"]
            if v.get("impact") in BAD_IMPACT
        ]
        overflow = await self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            found.append(f"horizontal overflow of {overflow}px")
        if found:
            self.problems[name] = found
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(
            path=str(ARTIFACTS / f"{name}-{self.viewport}.png"), full_page=True
        )


async def visit_every_page(live: Live, page: Any, check: Checker) -> None:
    reg = await live.register(
        client_name="Accessible Chat",
        policy_uri="https://app.example/privacy",
        tos_uri="https://app.example/terms",
    )
    url, verifier = live.authorize_url(reg)
    await page.goto(url)
    await check("login")
    await sign_in(page, password="wrong password")
    await check("login-failed")
    await sign_in(page)
    assert (await heading(page)).startswith("Allow")
    await check("consent")
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(live.callback.base + "/**")
    await live.exchange(reg, query_of(page.url)["code"], verifier)  # creates the grant

    url, _ = live.authorize_url(reg, prompt="select_account")
    await page.goto(url)
    await check("select-account")

    url, _ = live.authorize_url(reg, scope="xmpp:client:normal openid profile offline_access")
    await page.goto(url)
    await check("consent-new-scopes")

    cli = await live.register(redirect_uris=[OOB], client_uri=None, client_name="CLI Tool")
    url, _ = live.authorize_url(cli, redirect_uri=OOB)
    await page.goto(url)
    await page.get_by_role("button", name="Allow").click()
    assert await heading(page) == "Your authorization code"
    await check("oob")

    await page.goto(live.base + "/device")
    await check("device")
    await page.goto(live.base + "/device?" + urlencode({"user_code": "BCDF-BCDF"}))
    await check("device-invalid")
    _dev, start = await start_device(live)
    await page.goto(start["verification_uri_complete"])
    await check("device-confirm")
    await page.get_by_role("button", name="Allow").click()
    await check("device-done")
    _dev, start = await start_device(live)
    await page.goto(start["verification_uri_complete"])
    await page.get_by_role("button", name="Deny").click()
    await check("device-denied")

    await page.goto(live.base + "/account")
    assert await page.locator(".grant").count() >= 1
    await check("account")
    await page.locator(".grant").first.get_by_role("button", name="Revoke access").click()
    await page.wait_for_url("**/account?done=revoked")
    await check("account-revoked")

    await page.goto(live.base + "/authorize?client_id=unknown&response_type=code")
    await check("error")
    await page.goto(live.base + "/logout")
    await check("logout")
    await page.get_by_role("button", name="Sign out").click()
    await check("logged-out")
    await page.goto(live.base + "/account")
    await check("account-signed-out")


@pytest.mark.parametrize(("viewport_name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_every_page_is_accessible(
    make_live: LiveFactory, browser: Any, viewport_name: str, viewport: dict[str, int]
) -> None:
    live = await make_live(site_name="Example Chat")
    context = await browser.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        page.set_default_timeout(15_000)
        check = Checker(page, viewport_name)
        await visit_every_page(live, page, check)
    finally:
        await context.close()
    templates = {
        "login",
        "consent",
        "oob",
        "device",
        "device-confirm",
        "device-done",
        "account",
        "error",
        "logout",
        "logged-out",
    }
    assert templates <= set(check.seen)
    assert not check.problems, check.problems
    assert not check.console, check.console  # e.g. CSP violations
    for name in check.seen:
        assert (ARTIFACTS / f"{name}-{viewport_name}.png").stat().st_size > 1000
