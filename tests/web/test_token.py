"""Token endpoint: every RFC 6749 §5.2 error branch, rotation, reuse, replay, PKCE, expiry."""

from __future__ import annotations

from typing import Any

import pytest

from .flows import REDIRECT, Flows, assert_oauth_error, basic, pkce_pair

pytestmark = pytest.mark.usefixtures("env")


async def test_code_flow_issues_tokens(flows: Flows) -> None:
    reg = await flows.register()
    got, verifier = await flows.authorize(reg)
    assert got["state"] == "st4te"
    assert got["iss"] == flows.runtime.settings.issuer  # RFC 9207
    r = await flows.token({"grant_type": "authorization_code", "code": got["code"],
                           "redirect_uri": REDIRECT, "code_verifier": verifier},
                          auth=flows.auth(reg))
    assert r.status == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Pragma"] == "no-cache"
    body = await r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"openid", "xmpp:client:normal", "offline_access"}
    assert body["refresh_token"] and body["id_token"]
    claims = flows.runtime.tokens.verify_access_token(body["access_token"], audience=None,
                                                      now=flows.clock.now())
    assert claims.sub == "alice@localhost"
    assert claims.aud == ("xmpp:localhost",)
    principal = flows.runtime.validator.validate(body["access_token"], now=flows.clock.now())
    assert principal.jid == "alice@localhost"


async def test_no_refresh_token_without_offline_access(flows: Flows) -> None:
    reg = await flows.register()
    body = await flows.tokens(reg, scope="xmpp:client:normal")
    assert "refresh_token" not in body and "id_token" not in body


async def test_no_refresh_token_when_client_did_not_register_it(flows: Flows) -> None:
    reg = await flows.register(grant_types=["authorization_code"])
    body = await flows.tokens(reg)
    assert "refresh_token" not in body


async def test_public_client_with_pkce(flows: Flows) -> None:
    reg = await flows.register(token_endpoint_auth_method="none",
                               redirect_uris=["http://127.0.0.1/cb"])
    assert "client_secret" not in reg
    # RFC 8252 §7.3: any port on the loopback redirect
    got, verifier = await flows.authorize(reg, redirect_uri="http://127.0.0.1:49152/cb")
    r = await flows.token({"grant_type": "authorization_code", "code": got["code"],
                           "redirect_uri": "http://127.0.0.1:49152/cb",
                           "code_verifier": verifier, "client_id": reg["client_id"]})
    assert r.status == 200, await r.text()


async def test_client_secret_post(flows: Flows) -> None:
    reg = await flows.register()
    got, verifier = await flows.authorize(reg)
    r = await flows.token({"grant_type": "authorization_code", "code": got["code"],
                           "redirect_uri": REDIRECT, "code_verifier": verifier,
                           "client_id": reg["client_id"], "client_secret": reg["client_secret"]})
    assert r.status == 200, await r.text()


# -- invalid_request ---------------------------------------------------------------------


async def test_missing_grant_type(flows: Flows) -> None:
    reg = await flows.register()
    await assert_oauth_error(await flows.token({"code": "x"}, auth=flows.auth(reg)),
                             400, "invalid_request")


async def test_missing_code(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": "authorization_code"}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_request")


async def test_duplicate_parameter(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.client.post("/token", data="grant_type=authorization_code&code=a&code=b",
                                headers={**flows.auth(reg),
                                         "Content-Type": "application/x-www-form-urlencoded"})
    body = await assert_oauth_error(r, 400, "invalid_request")
    assert "repeated" in body["error_description"]


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "multipart/form-data",
                                   "application/x-www-form-urlencoded; charset=latin-1"])
async def test_wrong_content_type(flows: Flows, ctype: str) -> None:
    r = await flows.client.post("/token", data=b"grant_type=refresh_token",
                                headers={"Content-Type": ctype})
    await assert_oauth_error(r, 400, "invalid_request")


async def test_invalid_utf8_body(flows: Flows) -> None:
    r = await flows.client.post("/token", data=b"grant_type=\xff\xfe",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    await assert_oauth_error(r, 400, "invalid_request")


async def test_oversized_body(flows: Flows) -> None:
    big = b"grant_type=refresh_token&pad=" + b"a" * (flows.runtime.settings.http.max_body_size)
    r = await flows.client.post("/token", data=big,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    await assert_oauth_error(r, 413, "invalid_request")


async def test_get_not_allowed(flows: Flows) -> None:
    r = await flows.client.get("/token")
    await assert_oauth_error(r, 405, "invalid_request")


# -- invalid_client ------------------------------------------------------------------------


async def test_wrong_client_secret(flows: Flows) -> None:
    reg = await flows.register()
    got, verifier = await flows.authorize(reg)
    r = await flows.token({"grant_type": "authorization_code", "code": got["code"],
                           "redirect_uri": REDIRECT, "code_verifier": verifier},
                          auth=basic(reg["client_id"], reg["client_secret"] + "x"))
    await assert_oauth_error(r, 401, "invalid_client")
    assert r.headers["WWW-Authenticate"].startswith("Basic")  # §5.2 with the header


async def test_wrong_secret_in_body(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x",
                           "client_id": reg["client_id"], "client_secret": "nope"})
    await assert_oauth_error(r, 401, "invalid_client")


async def test_unknown_and_forged_client(flows: Flows) -> None:
    reg = await flows.register()
    forged = reg["client_id"][:-2] + ("AA" if not reg["client_id"].endswith("AA") else "BB")
    for client_id in ("nobody", forged):
        r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x",
                               "client_id": client_id})
        await assert_oauth_error(r, 401, "invalid_client")


async def test_no_client_authentication(flows: Flows) -> None:
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"})
    await assert_oauth_error(r, 401, "invalid_client")


async def test_confidential_client_must_authenticate(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x",
                           "client_id": reg["client_id"]})
    await assert_oauth_error(r, 401, "invalid_client")


async def test_two_authentication_methods(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x",
                           "client_secret": reg["client_secret"]}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_request")


async def test_revoked_client(flows: Flows) -> None:
    reg = await flows.register()
    await flows.runtime.store.revoke_client(reg["client_id"], now=flows.clock.now())
    flows.clock.advance(2)  # past the 1 s client cache
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 401, "invalid_client")


# -- invalid_grant: authorization code -----------------------------------------------------


async def _code(flows: Flows, reg: dict[str, Any]) -> tuple[str, str]:
    got, verifier = await flows.authorize(reg)
    return got["code"], verifier


async def test_unknown_code(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": "authorization_code", "code": "bogus",
                           "redirect_uri": REDIRECT, "code_verifier": pkce_pair()[0]},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_wrong_redirect_uri(flows: Flows) -> None:
    reg = await flows.register(redirect_uris=[REDIRECT, "https://app.example/other"])
    code, verifier = await _code(flows, reg)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": "https://app.example/other",
                           "code_verifier": verifier}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")
    # the code is burnt: the right redirect_uri does not help any more
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT, "code_verifier": verifier},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_missing_redirect_uri_when_it_was_sent(flows: Flows) -> None:
    reg = await flows.register()
    code, verifier = await _code(flows, reg)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "code_verifier": verifier}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_missing_pkce_verifier(flows: Flows) -> None:
    reg = await flows.register()
    code, _ = await _code(flows, reg)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT}, auth=flows.auth(reg))
    body = await assert_oauth_error(r, 400, "invalid_grant")
    assert "code_verifier" in body["error_description"]


async def test_wrong_pkce_verifier(flows: Flows) -> None:
    reg = await flows.register()
    code, _ = await _code(flows, reg)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT, "code_verifier": pkce_pair()[0]},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_code_of_another_client(flows: Flows) -> None:
    reg = await flows.register()
    other = await flows.register(client_name="Other")
    code, verifier = await _code(flows, reg)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT, "code_verifier": verifier},
                          auth=flows.auth(other))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_reused_code_revokes_its_tokens(flows: Flows) -> None:
    reg = await flows.register()
    code, verifier = await _code(flows, reg)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    first = await flows.token(data, auth=flows.auth(reg))
    tokens = await first.json()
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is True
    await assert_oauth_error(await flows.token(data, auth=flows.auth(reg)), 400, "invalid_grant")
    await flows.sync_revocations()
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is False
    r = await flows.token({"grant_type": "refresh_token",
                           "refresh_token": tokens["refresh_token"]}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


async def test_reused_code_is_refused_in_this_process_at_once(flows: Flows) -> None:
    # No waiting for the revocation poll: the failed redemption pulls the revocation in.
    reg = await flows.register()
    code, verifier = await _code(flows, reg)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    tokens = await (await flows.token(data, auth=flows.auth(reg))).json()
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is True
    await assert_oauth_error(await flows.token(data, auth=flows.auth(reg)), 400, "invalid_grant")
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is False


async def test_expired_code(flows: Flows) -> None:
    reg = await flows.register()
    code, verifier = await _code(flows, reg)
    flows.clock.advance(flows.runtime.settings.oauth2_code_ttl + 1)
    r = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT, "code_verifier": verifier},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "invalid_grant")


# -- refresh tokens ------------------------------------------------------------------------


async def _refresh(flows: Flows, reg: dict[str, Any], token: str, **extra: str) -> Any:
    return await flows.token({"grant_type": "refresh_token", "refresh_token": token, **extra},
                             auth=flows.auth(reg))


async def test_refresh_rotates(flows: Flows) -> None:
    reg = await flows.register()
    first = await flows.tokens(reg)
    flows.clock.advance(10)
    r = await _refresh(flows, reg, first["refresh_token"])
    assert r.status == 200, await r.text()
    second = await r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "id_token" in second
    # the new one works again
    r = await _refresh(flows, reg, second["refresh_token"])
    assert r.status == 200


async def test_refresh_reuse_revokes_the_grant(flows: Flows) -> None:
    reg = await flows.register()
    first = await flows.tokens(reg)
    r = await _refresh(flows, reg, first["refresh_token"])
    second = await r.json()
    # the rotated-away token comes back: someone holds a copy
    await assert_oauth_error(await _refresh(flows, reg, first["refresh_token"]),
                             400, "invalid_grant")
    await assert_oauth_error(await _refresh(flows, reg, second["refresh_token"]),
                             400, "invalid_grant")
    for token in (first["access_token"], second["access_token"]):
        assert (await flows.introspect(reg, token))["active"] is False


async def test_refresh_scope_escalation(flows: Flows) -> None:
    reg = await flows.register()
    first = await flows.tokens(reg, scope="xmpp:client:normal offline_access")
    r = await _refresh(flows, reg, first["refresh_token"], scope="xmpp:client:normal openid")
    await assert_oauth_error(r, 400, "invalid_scope")
    # the token was left intact, and narrowing works
    r = await _refresh(flows, reg, first["refresh_token"], scope="xmpp:client:normal")
    assert r.status == 200, await r.text()
    narrowed = await r.json()
    assert narrowed["scope"] == "xmpp:client:normal"
    # the new refresh token keeps the original scope (RFC 6749 §6)
    r = await _refresh(flows, reg, narrowed["refresh_token"])
    assert set((await r.json())["scope"].split()) == {"xmpp:client:normal", "offline_access"}


async def test_refresh_of_another_client_revokes(flows: Flows) -> None:
    reg = await flows.register()
    other = await flows.register(client_name="Other")
    first = await flows.tokens(reg)
    await assert_oauth_error(await _refresh(flows, other, first["refresh_token"]),
                             400, "invalid_grant")
    await assert_oauth_error(await _refresh(flows, reg, first["refresh_token"]),
                             400, "invalid_grant")


async def test_expired_refresh_token(flows: Flows) -> None:
    reg = await flows.register()
    first = await flows.tokens(reg)
    flows.clock.advance(flows.runtime.settings.oauth2_refresh_token_ttl + 1)
    await assert_oauth_error(await _refresh(flows, reg, first["refresh_token"]),
                             400, "invalid_grant")


async def test_unknown_refresh_token(flows: Flows) -> None:
    reg = await flows.register()
    await assert_oauth_error(await _refresh(flows, reg, "nope"), 400, "invalid_grant")


# -- grant types ---------------------------------------------------------------------------


@pytest.mark.parametrize("grant_type", ["client_credentials", "password", "implicit",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer"])
async def test_unsupported_grant_type(flows: Flows, grant_type: str) -> None:
    reg = await flows.register()
    r = await flows.token({"grant_type": grant_type}, auth=flows.auth(reg))
    await assert_oauth_error(r, 400, "unsupported_grant_type")


async def test_unauthorized_client(flows: Flows) -> None:
    reg = await flows.register(grant_types=["authorization_code"])
    r = await _refresh(flows, reg, "whatever")
    await assert_oauth_error(r, 400, "unauthorized_client")
