"""CSRF: every form POST needs this browser's token; refusals are a clear 403 page."""

from __future__ import annotations

from typing import Any

import pytest

from .flows import ALICE, PASSWORD, Flows, find_form, forms_of, pkce_pair

FORM_PAGES = ("/login", "/logout", "/device", "/account/revoke", "/authorize")


def authorize_params(reg: dict[str, Any]) -> dict[str, str]:
    _, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": reg["client_id"],
        "redirect_uri": reg["redirect_uris"][0],
        "scope": "xmpp:client:normal",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def assert_refused(r: Any) -> None:
    text = await r.text()
    assert r.status == 403, text
    assert r.headers["Content-Type"].startswith("text/html")
    assert "This form has expired" in text
    assert "reload the page" in text


async def login_form(flows: Flows) -> list[tuple[str, str]]:
    r = await flows.client.get("/login")
    login = find_form(await r.text(), "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
    return [*fields, ("xo_username", ALICE), ("xo_password", PASSWORD)]


@pytest.mark.parametrize("how", ["missing", "wrong", "empty"])
async def test_login_post_without_valid_token_refused(flows: Flows, how: str) -> None:
    fields = await login_form(flows)
    if how == "missing":
        fields = [(n, v) for n, v in fields if n != "xo_csrf"]
    else:
        fields = [
            (n, ("x" * 43 if how == "wrong" else "") if n == "xo_csrf" else v) for n, v in fields
        ]
    r = await flows.client.post("/login", data=fields, allow_redirects=False)
    await assert_refused(r)
    assert not [c for c in flows.client.session.cookie_jar if c.key == "xo_session"]


async def test_token_without_its_cookie_refused(flows: Flows) -> None:
    fields = await login_form(flows)
    flows.client.session.cookie_jar.clear()  # another browser replaying the form
    r = await flows.client.post("/login", data=fields, allow_redirects=False)
    await assert_refused(r)


async def test_valid_token_accepted(flows: Flows) -> None:
    r = await flows.client.post("/login", data=await login_form(flows), allow_redirects=False)
    assert r.status == 303


async def test_authorize_form_post_checked(flows: Flows) -> None:
    reg = await flows.register()
    page = await flows.get_authorize(authorize_params(reg))
    login = find_form(await page.text(), "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_csrf", "xo_username", "xo_password")]
    r = await flows.client.post(
        "/authorize",
        data=[*fields, ("xo_username", ALICE), ("xo_password", PASSWORD)],
        allow_redirects=False,
    )
    await assert_refused(r)


async def test_token_bound_to_session(flows: Flows) -> None:
    """A token minted before sign-in is useless afterwards (the session changed)."""
    fields = await login_form(flows)
    token_before = dict(fields)["xo_csrf"]
    r = await flows.client.post("/login", data=fields, allow_redirects=False)
    assert r.status == 303
    r = await flows.client.post("/logout", data={"xo_csrf": token_before})
    await assert_refused(r)
    r = await flows.client.get("/logout")
    form = forms_of(await r.text())[0]
    assert form.value("xo_csrf") != token_before
    r = await flows.client.post("/logout", data=form.fields)
    assert r.status == 200


async def test_revoke_needs_token(flows: Flows) -> None:
    reg = await flows.register()
    await flows.tokens(reg)
    grants = await flows.runtime.store.list_grants(ALICE)
    assert len(grants) == 1
    r = await flows.client.post("/account/revoke", data={"grant_id": grants[0].grant_id})
    await assert_refused(r)
    r = await flows.client.post(
        "/account/revoke", data={"grant_id": grants[0].grant_id, "xo_csrf": "forged"}
    )
    await assert_refused(r)
    grant = await flows.runtime.store.get_grant(grants[0].grant_id)
    assert grant is not None and grant.revoked_at is None


async def test_csrf_anchor_cookie_flags(flows: Flows) -> None:
    r = await flows.client.get("/login")
    cookies = [v for v in r.headers.getall("Set-Cookie") if v.startswith("xo_csrf=")]
    assert len(cookies) == 1
    attrs = cookies[0].lower()
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    # The second page reuses the anchor: no new cookie.
    r = await flows.client.get("/login")
    assert not [v for v in r.headers.getall("Set-Cookie", []) if v.startswith("xo_csrf=")]


@pytest.mark.parametrize("path", FORM_PAGES)
async def test_every_form_endpoint_refuses_tokenless_posts(flows: Flows, path: str) -> None:
    reg = await flows.register()
    body = {"xo_action": "login", **authorize_params(reg)} if path == "/authorize" else {}
    r = await flows.client.post(path, data=body, allow_redirects=False)
    await assert_refused(r)
