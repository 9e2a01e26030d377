"""XEP-0493 from the app's side, end to end, with nothing stood in for.

``xmpp-oauth serve`` (web + SASL service) runs as its own process, Prosody authenticates
through it, Debian's Chromium plays the user, and the project's client code plays the app:
discovery from the OAUTHBEARER challenge, RFC 8414 metadata, registration, PKCE code flow on
a loopback redirect, OAUTHBEARER login, refresh, and the login after refresh.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import aiohttp
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import require
from xmpp_oauth.client.oauth import (
    ClientFlowError,
    authorize_interactively,
    fetch_metadata,
    refresh_tokens,
)
from xmpp_oauth.client.xmpp import (
    XmppEndpoint,
    XmppLoginError,
    discover_metadata_url,
    login_with_token,
)
from xmpp_oauth.runtime import open_runtime
from xmpp_oauth.settings import Settings

from .servers import (
    ProsodyHost,
    ProsodyServer,
    TlsFiles,
    XmppOAuthProcess,
    free_port,
    prosody_available,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ALICE, PASSWORD = "alice@localhost", "alice: correct horse"


class Stack:
    def __init__(self, settings: Settings, prosody: ProsodyServer) -> None:
        self.settings = settings
        self.prosody = prosody

    @property
    def endpoint(self) -> XmppEndpoint:
        assert self.prosody.ca_file is not None
        return XmppEndpoint(host="127.0.0.1", port=self.prosody.c2s_port,
                            ca_file=str(self.prosody.ca_file))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Stack]:
    require(prosody_available(), "Prosody not installed (apt-get install prosody "
                                 "prosody-modules lua-sec lua-socket)")
    base = tmp_path_factory.mktemp("xep0493")
    sock, http_port = base / "sasl.sock", free_port()
    config = base / "xmpp-oauth.toml"
    config.write_text(f"""
domains = ["localhost"]
data_dir = "{base / 'data'}"
[http]
port = {http_port}
[[sasl.listeners]]
domain = "localhost"
socket = "{sock}"
""")
    settings = Settings.from_toml(config, env={})

    async def prepare() -> None:
        async with open_runtime(settings, background=False) as rt:
            await rt.accounts.create(ALICE, PASSWORD)  # type: ignore[attr-defined]

    asyncio.run(prepare())
    service = XmppOAuthProcess(config, ["serve"], sockets=[str(sock)], ports=[http_port])
    service.start()
    prosody = ProsodyServer(base / "prosody", tls=tls_files,
                            hosts=[ProsodyHost("localhost", auth="dovecot",
                                               dovecot_socket=str(sock))])
    try:
        prosody.start()
        yield Stack(settings, prosody)
    finally:
        prosody.stop()
        service.stop()


async def _act_as_user(url: str) -> None:
    """What a person does in the browser the app opened: sign in, allow."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(15_000)
            await page.goto(url)
            await page.get_by_label("XMPP address").fill(ALICE)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("button", name="Allow").click()
            await page.wait_for_url("http://127.0.0.1:*/callback*")
        finally:
            await browser.close()


async def test_app_discovers_authorizes_logs_in_and_refreshes(stack: Stack) -> None:
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} not installed (apt-get install chromium)")
    url = await discover_metadata_url(ALICE, stack.endpoint)
    assert url == stack.settings.openid_configuration_url

    browsing: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as http:
        metadata = await fetch_metadata(http, url)
        assert metadata["issuer"] == stack.settings.issuer
        tokens = await authorize_interactively(
            http, metadata, ALICE, client_name="XEP-0493 test app",
            client_uri="https://app.example",
            open_browser=lambda u: browsing.append(asyncio.create_task(_act_as_user(u))),
            timeout=60,
        )
        await browsing[0]
        assert tokens.refresh_token, "offline_access was asked for and allowed"

        xmpp = await login_with_token(ALICE, tokens.access_token, stack.endpoint)
        assert xmpp.boundjid.bare == ALICE
        xmpp.disconnect()

        refreshed = await refresh_tokens(http, tokens)
        assert refreshed.refresh_token != tokens.refresh_token  # rotated
        xmpp = await login_with_token(ALICE, refreshed.access_token, stack.endpoint)
        assert xmpp.boundjid.bare == ALICE
        xmpp.disconnect()

        # The rotated-away refresh token is reuse: the grant dies, and its tokens with it.
        with pytest.raises(ClientFlowError) as excinfo:
            await refresh_tokens(http, tokens)
        assert excinfo.value.error == "invalid_grant"
        await asyncio.sleep(1.0)  # revocation reaches the SASL service's poller (≤ 1 s)
        with pytest.raises(XmppLoginError):
            await login_with_token(ALICE, refreshed.access_token, stack.endpoint)


async def test_discovery_names_the_metadata_even_for_unknown_users(stack: Stack) -> None:
    url = await discover_metadata_url("nobody@localhost", stack.endpoint)
    assert url.endswith("/.well-known/openid-configuration")


