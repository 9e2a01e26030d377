"""RFC 7662 introspection and RFC 7009 revocation, every branch."""

from __future__ import annotations

import pytest

from xmpp_oauth.tokens.keys import KeyRing, SigningKey

from .flows import Flows, assert_oauth_error, basic

pytestmark = pytest.mark.usefixtures("env")


async def test_introspect_access_token_fields(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    body = await flows.introspect(reg, tokens["access_token"])
    claims = flows.runtime.tokens.verify_access_token(tokens["access_token"], audience=None,
                                                      now=flows.clock.now())
    assert body == {
        "active": True,
        "scope": "offline_access openid xmpp:client:normal",
        "client_id": reg["client_id"],
        "username": "alice@localhost",
        "token_type": "Bearer",
        "exp": claims.exp,
        "iat": claims.iat,
        "sub": "alice@localhost",
        "aud": "xmpp:localhost",
        "iss": flows.runtime.settings.issuer,
        "jti": claims.jti,
    }
    assert body["exp"] - body["iat"] == 3600


async def test_introspect_refresh_token_fields(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    for hint in ({}, {"token_type_hint": "refresh_token"}, {"token_type_hint": "access_token"}):
        body = await flows.introspect(reg, tokens["refresh_token"], **hint)
        assert body["active"] is True
        assert body["token_type"] == "refresh_token"
        assert body["sub"] == body["username"] == "alice@localhost"
        assert body["client_id"] == reg["client_id"]
        assert body["exp"] - body["iat"] == flows.runtime.settings.oauth2_refresh_token_ttl
        assert {"iss", "aud", "jti", "scope"} <= set(body)
    # and the access token is still found with the refresh hint
    body = await flows.introspect(reg, tokens["access_token"], token_type_hint="refresh_token")
    assert body["active"] is True


async def test_introspect_inactive_cases(flows: Flows) -> None:
    reg = await flows.register()
    other = await flows.register(client_name="Other")
    tokens = await flows.tokens(reg)
    assert await flows.introspect(reg, "garbage") == {"active": False}
    assert await flows.introspect(reg, "a.b.c") == {"active": False}
    # §4: another client's token is inactive for this client
    assert await flows.introspect(other, tokens["access_token"]) == {"active": False}
    assert await flows.introspect(other, tokens["refresh_token"]) == {"active": False}
    # expired
    flows.clock.advance(3600 + 60)
    assert await flows.introspect(reg, tokens["access_token"]) == {"active": False}


async def test_introspect_forgets_tokens_of_a_removed_key(flows: Flows) -> None:
    """A key removed from the ring (compromise, end of retention) ends its tokens at once,
    although introspection has already seen them."""
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is True
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is True
    replacement = SigningKey.generate(now=flows.clock.now())
    flows.runtime.tokens.keyring = KeyRing([replacement])  # as a reload after removal does
    assert await flows.introspect(reg, tokens["access_token"]) == {"active": False}


async def test_introspect_rotated_refresh_token_inactive(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          auth=flows.auth(reg))
    assert r.status == 200
    assert await flows.introspect(reg, tokens["refresh_token"]) == {"active": False}


async def test_introspect_needs_confidential_client(flows: Flows) -> None:
    reg = await flows.register()
    public = await flows.register(token_endpoint_auth_method="none")
    tokens = await flows.tokens(reg)
    r = await flows.client.post("/introspect", data={"token": tokens["access_token"]})
    await assert_oauth_error(r, 401, "invalid_client")
    r = await flows.client.post("/introspect", data={"token": tokens["access_token"],
                                                     "client_id": public["client_id"]})
    await assert_oauth_error(r, 401, "invalid_client")
    r = await flows.client.post("/introspect", data={"token": tokens["access_token"]},
                                headers=basic(reg["client_id"], "wrong"))
    await assert_oauth_error(r, 401, "invalid_client")
    r = await flows.client.post("/introspect", data={}, headers=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_request")
    r = await flows.client.post("/introspect", json={"token": "x"}, headers=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_request")


async def _revoke(flows: Flows, reg: dict[str, str], token: str, **extra: str):  # type: ignore[no-untyped-def]
    return await flows.client.post("/revoke", data={"token": token, **extra,
                                                    **flows.client_fields(reg)},
                                   headers=flows.auth(reg))


async def test_revoke_access_token_revokes_grant(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    r = await _revoke(flows, reg, tokens["access_token"], token_type_hint="access_token")
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is False
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")
    # idempotent
    assert (await _revoke(flows, reg, tokens["access_token"])).status == 200


async def test_revoke_refresh_token_revokes_grant(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    assert (await _revoke(flows, reg, tokens["refresh_token"])).status == 200
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is False
    from xmpp_oauth.errors import InvalidTokenError

    with pytest.raises(InvalidTokenError):
        flows.runtime.validator.validate(tokens["access_token"], now=flows.clock.now())


async def test_revoke_expired_access_token_still_ends_grant(flows: Flows) -> None:
    reg = await flows.register()
    tokens = await flows.tokens(reg)
    flows.clock.advance(7200)
    assert (await _revoke(flows, reg, tokens["access_token"])).status == 200
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_revoke_public_client(flows: Flows) -> None:
    reg = await flows.register(token_endpoint_auth_method="none")
    tokens = await flows.tokens(reg)
    assert (await _revoke(flows, reg, tokens["refresh_token"])).status == 200
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                           "client_id": reg["client_id"]})
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_revoke_unknown_token_is_ok(flows: Flows) -> None:
    reg = await flows.register()
    assert (await _revoke(flows, reg, "no-such-token")).status == 200
    assert (await _revoke(flows, reg, "x.y.z")).status == 200


async def test_revoke_errors(flows: Flows) -> None:
    reg = await flows.register()
    other = await flows.register(client_name="Other")
    tokens = await flows.tokens(reg)
    await assert_oauth_error(await _revoke(flows, reg, "t", token_type_hint="id_token"),
                             400, "unsupported_token_type")
    # §2.1: a token of another client is refused
    await assert_oauth_error(await _revoke(flows, other, tokens["access_token"]),
                             400, "invalid_grant")
    await assert_oauth_error(await _revoke(flows, other, tokens["refresh_token"]),
                             400, "invalid_grant")
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is True
    r = await flows.client.post("/revoke", data={"token": "x"})
    await assert_oauth_error(r, 401, "invalid_client")
    r = await flows.client.post("/revoke", data={"token": "x"},
                                headers=basic(reg["client_id"], "wrong"))
    await assert_oauth_error(r, 401, "invalid_client")
    r = await flows.client.post("/revoke", data={}, headers=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_request")
    r = await flows.client.post("/revoke", data="token=a&token=b", headers={
        **flows.auth(reg), "Content-Type": "application/x-www-form-urlencoded"})
    await assert_oauth_error(r, 400, "invalid_request")
