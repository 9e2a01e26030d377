"""The account page (grants with revoke) and the device verification page, in-process."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.errors import InvalidTokenError

from .flows import ALICE, PASSWORD, Flows, find_form, forms_of

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
BOB = "bob@localhost"


async def sign_in(flows: Flows, next_path: str = "/account", user: str = ALICE) -> Any:
    r = await flows.client.get("/login?" + urlencode({"next": next_path}))
    login = find_form(await r.text(), "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
    return await flows.client.post(
        "/login", data=[*fields, ("xo_username", user), ("xo_password", PASSWORD)]
    )


def revoke_forms(html: str) -> list[Any]:
    return [f for f in forms_of(html) if f.action.endswith("/account/revoke")]


async def test_account_needs_sign_in(flows: Flows) -> None:
    r = await flows.client.get("/account")
    assert r.status == 200
    login = find_form(await r.text(), "login")
    assert login.action == "/login" and login.value("next") == "/account"


async def test_account_lists_and_revokes(flows: Flows) -> None:
    reg = await flows.register(client_name="Chat <App>")
    tokens = await flows.tokens(reg)
    r = await flows.client.get("/account")
    html = await r.text()
    assert "Chat &lt;App&gt;" in html
    assert "Log in to your XMPP account" in html and "Granted" in html and "Last used" in html
    [form] = revoke_forms(html)
    r = await flows.client.post(form.action, data=form.fields, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/account?done=revoked"
    r = await flows.client.get("/account?done=revoked")
    html = await r.text()
    assert "Access revoked" in html and not revoke_forms(html)
    assert "No apps have access" in html
    # The refresh token is dead, the access token no longer passes the XMPP-side validator.
    r = await flows.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flows.auth(reg),
    )
    assert r.status == 400 and (await r.json())["error"] == "invalid_grant"
    with pytest.raises(InvalidTokenError) as info:
        flows.runtime.validator.validate(tokens["access_token"], now=flows.clock.now())
    assert info.value.reason == "revoked"
    assert (await flows.introspect(reg, tokens["access_token"]))["active"] is False
    # Consent is forgotten with the grant: the app has to ask again.
    assert await flows.runtime.store.get_consent(ALICE, reg["client_id"]) is None


async def test_cannot_revoke_someone_elses_grant(flows: Flows) -> None:
    reg = await flows.register()
    await flows.tokens(reg)
    [grant] = await flows.runtime.store.list_grants(ALICE)
    accounts = flows.runtime.accounts
    assert isinstance(accounts, LocalAccounts)
    await accounts.create(BOB, PASSWORD)
    flows.client.session.cookie_jar.clear()
    await sign_in(flows, user=BOB)
    r = await flows.client.get("/account")
    html = await r.text()
    assert "No apps have access" in html
    token = forms_of(html)[-1].value("xo_csrf")
    for grant_id in (grant.grant_id, "unknown"):
        r = await flows.client.post(
            "/account/revoke", data={"grant_id": grant_id, "xo_csrf": token or ""}
        )
        assert r.status == 404
        assert "App not found" in await r.text()
    still = await flows.runtime.store.get_grant(grant.grant_id)
    assert still is not None and still.revoked_at is None


async def start_device(flows: Flows) -> tuple[dict[str, Any], dict[str, Any]]:
    reg = await flows.register(
        client_name="TV App",
        grant_types=[DEVICE],
        redirect_uris=None,
        client_uri=None,
        token_endpoint_auth_method="none",
    )
    r = await flows.client.post(
        "/device_authorization",
        data={"client_id": reg["client_id"], "scope": "xmpp:client:normal"},
    )
    assert r.status == 200, await r.text()
    return reg, await r.json()


async def test_device_page_flow(flows: Flows) -> None:
    _reg, start = await start_device(flows)
    r = await flows.client.get("/device")
    assert 'name="user_code"' in await r.text()
    # Typed sloppily: lower case, spaces instead of the dash.
    typed = start["user_code"].lower().replace("-", " ")
    r = await flows.client.get("/device?" + urlencode({"user_code": typed}))
    login = find_form(await r.text(), "login")
    assert login.value("next") == "/device?" + urlencode({"user_code": start["user_code"]})
    r = await sign_in(flows, login.value("next") or "")
    html = await r.text()
    assert "TV App" in html and start["user_code"] in html
    [form] = [f for f in forms_of(html) if f.action == "/device"]
    r = await flows.client.post(form.action, data=[*form.fields, ("xo_decision", "allow")])
    assert r.status == 200
    assert "Device connected" in await r.text()
    record = await flows.runtime.store.get_device_code_by_user_code(start["user_code"])
    assert record is not None and record.status == "approved" and record.jid == ALICE
    # A decided code cannot be decided again.
    r = await flows.client.post(form.action, data=[*form.fields, ("xo_decision", "deny")])
    assert r.status == 400


async def test_device_page_deny(flows: Flows) -> None:
    _reg, start = await start_device(flows)
    await sign_in(flows)
    r = await flows.client.get("/device?" + urlencode({"user_code": start["user_code"]}))
    [form] = [f for f in forms_of(await r.text()) if f.action == "/device"]
    r = await flows.client.post(form.action, data=[*form.fields, ("xo_decision", "deny")])
    assert "Access denied" in await r.text()
    record = await flows.runtime.store.get_device_code_by_user_code(start["user_code"])
    assert record is not None and record.status == "denied"


async def test_device_code_guesses_are_limited(make_app: Any) -> None:
    _client, _runtime, flows = await make_app(accounts__max_login_failures=2)
    _reg, start = await start_device(flows)
    for guess in ("BBBB-BBBB", "not a code", "CCCC-CCCC"):
        r = await flows.client.get("/device?" + urlencode({"user_code": guess}))
        assert r.status == 400
        assert "not valid or has expired" in await r.text()
    for _ in range(5):
        await flows.client.get("/device?user_code=DDDDDDDD")
    # Even the right code is refused once the address made too many guesses.
    r = await flows.client.get("/device?" + urlencode({"user_code": start["user_code"]}))
    assert r.status == 429


async def test_expired_device_code(flows: Flows) -> None:
    _reg, start = await start_device(flows)
    await sign_in(flows)
    flows.clock.advance(601)
    r = await flows.client.get("/device?" + urlencode({"user_code": start["user_code"]}))
    assert r.status == 400
