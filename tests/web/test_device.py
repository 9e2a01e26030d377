"""RFC 8628 device authorization and polling (§3.1-§3.5)."""

from __future__ import annotations

from typing import Any

import pytest

from xmpp_oauth.oauth.device import USER_CODE_ALPHABET, normalize_user_code

from .flows import ALICE, Flows, assert_oauth_error

pytestmark = pytest.mark.usefixtures("env")
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


async def _start(flows: Flows) -> tuple[dict[str, Any], dict[str, Any]]:
    reg = await flows.register(grant_types=[DEVICE, "refresh_token"], redirect_uris=None,
                               client_uri=None, token_endpoint_auth_method="none")
    r = await flows.client.post("/device_authorization",
                                data={"client_id": reg["client_id"],
                                      "scope": "xmpp:client:normal offline_access"})
    assert r.status == 200, await r.text()
    assert r.headers["Cache-Control"] == "no-store"
    return reg, await r.json()


async def _poll(flows: Flows, reg: dict[str, Any], start: dict[str, Any]) -> Any:
    return await flows.token({"grant_type": DEVICE, "device_code": start["device_code"],
                              "client_id": reg["client_id"]})


async def test_device_authorization_response(flows: Flows) -> None:
    _, start = await _start(flows)
    issuer = flows.runtime.settings.issuer
    code = start["user_code"]
    assert len(code) == 9 and code[4] == "-"
    assert all(c in USER_CODE_ALPHABET for c in code.replace("-", ""))
    assert normalize_user_code(code.lower().replace("-", " ")) == code
    assert start["verification_uri"] == issuer + "/device"
    assert start["verification_uri_complete"] == f"{issuer}/device?user_code={code}"
    assert start["expires_in"] == 600 and start["interval"] == 5


async def test_device_polling_to_tokens(flows: Flows) -> None:
    reg, start = await _start(flows)
    await assert_oauth_error(await _poll(flows, reg, start), 400, "authorization_pending")
    flows.clock.advance(1)
    await assert_oauth_error(await _poll(flows, reg, start), 400, "slow_down")
    flows.clock.advance(6)
    await assert_oauth_error(await _poll(flows, reg, start), 400, "authorization_pending")
    ok = await flows.runtime.store.decide_device_code(
        start["user_code"], approve=True, jid=ALICE, auth_time=flows.clock.now(),
        now=flows.clock.now())
    assert ok
    flows.clock.advance(6)
    r = await _poll(flows, reg, start)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["refresh_token"]
    flows.runtime.validator.validate(body["access_token"], now=flows.clock.now())
    flows.clock.advance(6)
    await assert_oauth_error(await _poll(flows, reg, start), 400, "invalid_grant")


async def test_device_denied_and_expired(flows: Flows) -> None:
    reg, start = await _start(flows)
    await flows.runtime.store.decide_device_code(start["user_code"], approve=False, jid=ALICE,
                                                 auth_time=flows.clock.now(),
                                                 now=flows.clock.now())
    await assert_oauth_error(await _poll(flows, reg, start), 403, "access_denied")
    reg, start = await _start(flows)
    flows.clock.advance(601)
    r = await _poll(flows, reg, start)
    assert r.status == 400 and (await r.json())["error"] in ("expired_token", "invalid_grant")


async def test_device_errors(flows: Flows) -> None:
    reg, start = await _start(flows)
    r = await flows.token({"grant_type": DEVICE, "device_code": "bogus",
                           "client_id": reg["client_id"]})
    await assert_oauth_error(r, 400, "invalid_grant")
    code_client = await flows.register()
    r = await flows.client.post("/device_authorization", data={}, headers=flows.auth(code_client))
    await assert_oauth_error(r, 400, "unauthorized_client")
    r = await flows.client.post("/device_authorization", data={"client_id": "nobody"})
    await assert_oauth_error(r, 401, "invalid_client")


async def test_device_rate_limited(flows: Flows) -> None:
    reg, _ = await _start(flows)
    statuses = []
    for _ in range(12):
        r = await flows.client.post("/device_authorization", data={"client_id": reg["client_id"]})
        statuses.append(r.status)
    assert 429 in statuses
