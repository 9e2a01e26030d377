"""An independent client (Authlib's requests OAuth2Session) against the server on a real port.

discovery -> RFC 7591 registration -> code flow with PKCE (the user's browser played by a
plain ``requests`` session posting our forms) -> ID token verified with the published JWKS
(``joserfc``, the JOSE library ``authlib.jose`` now defers to) -> refresh -> introspection
-> revocation.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import requests
from aiohttp import web
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet

from xmpp_oauth.runtime import open_runtime
from xmpp_oauth.settings import Settings
from xmpp_oauth.web.app import create_app

from .flows import ALICE, PASSWORD, find_form, forms_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def server(settings_factory: Callable[..., Settings]) -> AsyncIterator[Settings]:
    settings = settings_factory(http__port=free_port())
    async with open_runtime(settings) as runtime:
        await runtime.accounts.create(ALICE, PASSWORD)
        runner = web.AppRunner(create_app(settings, runtime=runtime))
        await runner.setup()
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        try:
            yield settings
        finally:
            await runner.cleanup()


def browser_approves(url: str) -> str:
    """The user's browser: sign in, allow, return the redirect Location."""
    browser = requests.Session()
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    base = url.split("/authorize")[0]
    login = find_form(page.text, "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
    fields += [("xo_username", ALICE), ("xo_password", PASSWORD)]
    page = browser.post(base + login.action, data=fields, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and forms_of(page.text), page.text
    consent = find_form(page.text, "consent")
    done = browser.post(base + consent.action, data=[*consent.fields, ("xo_decision", "allow")],
                        allow_redirects=False, timeout=10)
    assert done.status_code in (302, 303), done.text
    location: str = done.headers["Location"]
    return location


def client_flow(issuer: str) -> dict[str, Any]:
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer
    redirect_uri = "http://127.0.0.1:55555/callback"
    reg = requests.post(meta["registration_endpoint"], timeout=10, json={
        "client_name": "Authlib test client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile xmpp:client:normal offline_access",
    })
    assert reg.status_code == 201, reg.text
    creds = reg.json()

    session = OAuth2Session(
        client_id=creds["client_id"], client_secret=creds["client_secret"],
        scope="openid profile xmpp:client:normal offline_access", redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(meta["authorization_endpoint"],
                                                  code_verifier=verifier, nonce=nonce)
    location = browser_approves(url)
    assert location.startswith(redirect_uri + "?")
    token = session.fetch_token(meta["token_endpoint"], authorization_response=location,
                                code_verifier=verifier, state=state)
    assert token["token_type"].lower() == "bearer"

    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    with warnings.catch_warnings():
        # joserfc flags the polymorphic "EdDSA" name (RFC 9864 prefers "Ed25519").
        warnings.simplefilter("ignore", SecurityWarning)
        decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks),
                             algorithms=[meta["id_token_signing_alg_values_supported"][0]])
    jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": creds["client_id"]},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True, "value": ALICE},
    ).validate(decoded.claims)
    assert decoded.header["kid"] in {k["kid"] for k in jwks["keys"]}

    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != first_refresh
    assert refreshed["access_token"] != token["access_token"]

    info = session.introspect_token(meta["introspection_endpoint"],
                                    token=refreshed["access_token"]).json()
    assert info["active"] is True and info["sub"] == ALICE
    assert {"exp", "iat", "client_id", "scope", "iss", "aud", "jti"} <= set(info)

    revoked = session.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                                   token_type_hint="refresh_token")
    assert revoked.status_code == 200
    after = session.introspect_token(meta["introspection_endpoint"],
                                     token=refreshed["access_token"]).json()
    again = requests.post(meta["token_endpoint"], timeout=10, auth=(creds["client_id"],
                                                                    creds["client_secret"]),
                          data={"grant_type": "refresh_token",
                                "refresh_token": refreshed["refresh_token"]})
    return {"after": after, "again": again.json(), "again_status": again.status_code}


async def test_authlib_client_end_to_end(server: Settings) -> None:
    result = await asyncio.to_thread(client_flow, server.issuer)
    assert result["after"] == {"active": False}
    assert result["again_status"] == 400 and result["again"]["error"] == "invalid_grant"
