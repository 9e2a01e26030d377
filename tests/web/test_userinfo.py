"""OIDC UserInfo as an RFC 6750 protected resource."""

from __future__ import annotations

import pytest

from .flows import Flows, assert_oauth_error

pytestmark = pytest.mark.usefixtures("env")


async def test_userinfo_with_header(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg, scope="openid profile xmpp:client:normal")
    r = await flows.client.get("/userinfo",
                               headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status == 200
    assert await r.json() == {"sub": "alice@localhost", "preferred_username": "alice",
                              "name": "alice", "jid": "alice@localhost"}


async def test_userinfo_with_form_body(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg, scope="openid")
    r = await flows.client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert r.status == 200
    assert await r.json() == {"sub": "alice@localhost"}


async def test_userinfo_errors(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg, scope="xmpp:client:normal")
    r = await flows.client.get("/userinfo")
    await assert_oauth_error(r, 401, "invalid_token")
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    r = await flows.client.get("/userinfo", headers={"Authorization": "Bearer nope"})
    await assert_oauth_error(r, 401, "invalid_token")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = await flows.client.get("/userinfo", headers={"Authorization": "Basic abc"})
    await assert_oauth_error(r, 401, "invalid_token")
    # no openid scope
    r = await flows.client.get("/userinfo",
                               headers={"Authorization": f"Bearer {tokens['access_token']}"})
    await assert_oauth_error(r, 403, "insufficient_scope")
    assert 'scope="openid"' in r.headers["WWW-Authenticate"]
    # two ways at once (RFC 6750 §2)
    r = await flows.client.post("/userinfo", data={"access_token": tokens["access_token"]},
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
    await assert_oauth_error(r, 400, "invalid_request")


async def test_id_token_claims(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg, scope="openid profile", extra={"nonce": "n-0S6"})
    claims = flows.runtime.tokens.verify_id_token(tokens["id_token"], client_id=reg["client_id"],
                                                  now=flows.clock.now())
    assert claims["sub"] == "alice@localhost"
    assert claims["nonce"] == "n-0S6"
    assert claims["preferred_username"] == "alice"
    assert claims["amr"] == ["pwd"]
    assert "at_hash" in claims and "auth_time" in claims
