"""Login sessions, OIDC prompt / max_age / login_hint, remembered consent (in-process)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from xmpp_oauth.tokens.secrets import hash_secret

from .flows import ALICE, PASSWORD, REDIRECT, Flows, find_form, forms_of, location_params, pkce_pair

SCOPE = "openid xmpp:client:normal"


def params(reg: dict[str, Any], **over: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    out = {
        "response_type": "code",
        "client_id": reg["client_id"],
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    out.update(over)
    return out


def page_kind(html: str) -> str:
    actions = {f.value("xo_action") for f in forms_of(html)}
    if "consent" in actions:
        return "consent"
    if "login" in actions:
        return "login"
    return "other"


def session_cookie(client: TestClient[Any, Any]) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key.endswith("xo_session"):
            return cookie.value
    return None


async def sign_in(flows: Flows, reg: dict[str, Any], **over: str) -> dict[str, str]:
    """First authorization: sign in and allow; returns the redirect parameters."""
    got, _ = await flows.authorize(reg, scope=over.pop("scope", SCOPE), extra=over)
    assert "code" in got, got
    return got


async def test_session_cookie_flags_and_store_by_hash(flows: Flows) -> None:
    reg = await flows.register()
    page = await flows.get_authorize(params(reg))
    login = find_form(await page.text(), "login")
    fields = [(n, v) for n, v in login.fields if not n.startswith(("xo_username", "xo_password"))]
    r = await flows.client.post(
        "/authorize",
        data=[*fields, ("xo_username", ALICE), ("xo_password", PASSWORD)],
        allow_redirects=False,
    )
    assert r.status == 200  # the consent page
    set_cookie = [v for v in r.headers.getall("Set-Cookie") if v.startswith("xo_session=")]
    assert len(set_cookie) == 1
    attrs = set_cookie[0].lower()
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert "secure" not in attrs  # plain HTTP on loopback
    value = session_cookie(flows.client)
    assert value is not None
    sid = value.partition(".")[0]
    # The store knows the session only by the hash of its id.
    assert await flows.runtime.store.get_session(sid, now=flows.clock.now()) is None
    session = await flows.runtime.store.get_session(hash_secret(sid), now=flows.clock.now())
    assert session is not None and session.jid == ALICE


async def test_second_authorization_skips_login_and_consent(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, state="again"))
    assert r.status == 302, await r.text()
    got = location_params(r)
    assert got["state"] == "again" and "code" in got


async def test_forged_session_cookie_is_ignored(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    value = session_cookie(flows.client)
    assert value is not None
    sid, _, _sig = value.partition(".")
    flows.client.session.cookie_jar.clear()
    for forged in (f"{sid}.AAAA", sid, f"{sid}.", "garbage"):
        r = await flows.client.get(
            "/authorize?" + urlencode(params(reg)),
            headers={"Cookie": f"xo_session={forged}"},
            allow_redirects=False,
        )
        assert r.status == 200 and page_kind(await r.text()) == "login"
    r = await flows.client.get(
        "/authorize?" + urlencode(params(reg)),
        headers={"Cookie": f"xo_session={value}"},
        allow_redirects=False,
    )
    assert r.status == 302  # the genuine cookie still works


async def test_prompt_login_forces_a_new_sign_in(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    first = session_cookie(flows.client)
    flows.clock.advance(30)
    r = await flows.get_authorize(params(reg, prompt="login"))
    assert r.status == 200 and page_kind(await r.text()) == "login"
    r = await flows.sign_in_and_consent(r)
    assert r.status == 303, await r.text()
    assert "code" in location_params(r)
    assert session_cookie(flows.client) != first  # a fresh session id after sign-in


async def test_prompt_login_with_consent_does_not_loop(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, prompt="login consent"))
    html = await r.text()
    assert page_kind(html) == "login"
    r = await flows.sign_in_and_consent(r)  # sign in, then the consent page, then allow
    assert r.status == 303, await r.text()
    assert "code" in location_params(r)


async def test_prompt_none(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.get_authorize(params(reg, prompt="none"))
    assert r.status == 302
    got = location_params(r)
    assert got["error"] == "login_required" and got["state"] == "s1"
    assert got["iss"] == flows.runtime.settings.issuer
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, prompt="none"))
    assert "code" in location_params(r)
    # More scopes than remembered: consent is needed, and no page may be shown.
    r = await flows.get_authorize(params(reg, prompt="none", scope=SCOPE + " offline_access"))
    assert location_params(r)["error"] == "consent_required"


async def test_prompt_none_reveals_no_session_to_a_client_without_consent(flows: Flows) -> None:
    """A client the user has not consented to gets one answer, whatever the session or hint:
    it must not learn whether this browser is signed in, or as whom (OIDC Core §3.1.2.6)."""
    probe = await flows.register(client_name="Probe")

    async def answer(**over: str) -> dict[str, str]:
        r = await flows.get_authorize(params(probe, prompt="none", **over))
        assert r.status == 302, await r.text()
        got = location_params(r)
        return {k: v for k, v in got.items() if k != "state"}

    hints: list[dict[str, str]] = [{}, {"login_hint": ALICE}, {"login_hint": "bob@localhost"},
                                   {"login_hint": "xmpp:" + ALICE}, {"max_age": "0"}]
    signed_out = [await answer(**h) for h in hints]
    await sign_in(flows, await flows.register(client_name="Other app"))  # alice signs in
    signed_in = [await answer(**h) for h in hints]
    assert signed_in == signed_out
    assert {a["error"] for a in signed_in} == {"login_required"}
    assert len({tuple(sorted(a.items())) for a in signed_in}) == 1
    # Once alice consented to it, the client gets the precise answers again.
    await sign_in(flows, probe)
    assert "code" in await answer(login_hint=ALICE)
    assert (await answer(login_hint="bob@localhost"))["error"] == "login_required"
    assert (await answer(scope=SCOPE + " offline_access"))["error"] == "consent_required"


async def test_max_age(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    flows.clock.advance(120)
    r = await flows.get_authorize(params(reg, max_age="300"))
    assert r.status == 302
    r = await flows.get_authorize(params(reg, max_age="60"))
    assert r.status == 200 and page_kind(await r.text()) == "login"
    r = await flows.get_authorize(params(reg, max_age="60", prompt="none"))
    assert location_params(r)["error"] == "login_required"
    r = await flows.get_authorize(params(reg, max_age="0"))
    assert page_kind(await r.text()) == "login"


async def test_select_account(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, prompt="select_account"))
    html = await r.text()
    assert f"Continue as {ALICE}" in html
    select = find_form(html, "select")
    r = await flows.client.post(select.action, data=select.fields, allow_redirects=False)
    assert r.status == 303 and "code" in location_params(r)


async def test_select_is_no_way_around_a_required_sign_in(flows: Flows) -> None:
    """Re-posting a sign-in form as xo_action=select must not skip prompt=login, max_age=0
    or a login_hint for someone else: the server decides whether "continue as" applies."""
    reg = await flows.register()
    await sign_in(flows, reg)
    flows.clock.advance(30)
    for over in ({"prompt": "login"}, {"max_age": "0"}, {"login_hint": "bob@localhost"},
                 {"prompt": "login consent"}):
        r = await flows.get_authorize(params(reg, **over))
        login = find_form(await r.text(), "login")
        fields = [(n, "select" if n == "xo_action" else v) for n, v in login.fields
                  if n not in ("xo_username", "xo_password")]
        r = await flows.client.post(login.action, data=fields, allow_redirects=False)
        assert r.status == 200, (over, r.headers.get("Location"))
        assert page_kind(await r.text()) == "login", over


async def test_login_hint(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.get_authorize(params(reg, login_hint="Alice@LOCALHOST"))
    assert find_form(await r.text(), "login").value("xo_username") == ALICE
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, login_hint="bob@localhost"))
    assert page_kind(await r.text()) == "login"  # signed in as someone else
    r = await flows.get_authorize(params(reg, login_hint=ALICE))
    assert r.status == 302


async def test_consent_remembered_and_asked_again_for_new_scopes(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg, scope="xmpp:client:normal")
    r = await flows.get_authorize(params(reg, scope="xmpp:client:normal"))
    assert r.status == 302
    r = await flows.get_authorize(params(reg, scope="xmpp:client:normal offline_access"))
    html = await r.text()
    assert page_kind(html) == "consent"
    assert 'class="badge">new<' in html
    consent = find_form(html, "consent")
    r = await flows.client.post(
        consent.action, data=[*consent.fields, ("xo_decision", "allow")], allow_redirects=False
    )
    assert r.status == 303
    remembered = await flows.runtime.store.get_consent(ALICE, reg["client_id"])
    assert remembered is not None
    assert set(remembered.scopes) == {"xmpp:client:normal", "offline_access"}
    # Fewer scopes than remembered: no question.
    r = await flows.get_authorize(params(reg, scope="offline_access"))
    assert r.status == 302


async def test_prompt_consent_always_asks(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    r = await flows.get_authorize(params(reg, prompt="consent"))
    assert page_kind(await r.text()) == "consent"


async def test_deny_redirects_access_denied(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.get_authorize(params(reg))
    r = await flows.sign_in_and_consent(r, decision="deny")
    assert r.status == 302
    got = location_params(r)
    assert got["error"] == "access_denied" and got["state"] == "s1"
    assert await flows.runtime.store.get_consent(ALICE, reg["client_id"]) is None


async def test_consent_ticket_bound_to_request(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg, scope="xmpp:client:normal")
    r = await flows.get_authorize(params(reg, prompt="consent", scope="xmpp:client:normal"))
    consent = find_form(await r.text(), "consent")

    async def post(fields: list[tuple[str, str]]) -> str:
        r = await flows.client.post(
            consent.action, data=[*fields, ("xo_decision", "allow")], allow_redirects=False
        )
        assert r.status == 200, r.headers.get("Location")
        return page_kind(await r.text())

    # A ticket made for other scopes, or a forged one, approves nothing: asked again.
    other_scope = [(n, "openid" if n == "scope" else v) for n, v in consent.fields]
    assert await post(other_scope) == "consent"
    forged = [(n, "1.AAAA" if n == "xo_ticket" else v) for n, v in consent.fields]
    assert await post(forged) == "consent"
    # Under prompt=login a consent form without a valid ticket leads back to the sign-in.
    relogin = [(n, "login consent" if n == "prompt" else v) for n, v in forged]
    assert await post(relogin) == "login"
    flows.clock.advance(16 * 60)  # tickets expire
    assert await post(consent.fields) == "consent"


async def test_logout(flows: Flows) -> None:
    reg = await flows.register()
    await sign_in(flows, reg)
    value = session_cookie(flows.client)
    assert value is not None
    sid = value.partition(".")[0]
    r = await flows.client.get("/logout")
    form = forms_of(await r.text())[0]
    r = await flows.client.post(form.action, data=form.fields)
    assert r.status == 200
    assert "You are signed out" in await r.text()
    deleted = [v for v in r.headers.getall("Set-Cookie") if v.startswith("xo_session=")]
    assert deleted and "max-age=0" in deleted[0].lower()
    assert await flows.runtime.store.get_session(hash_secret(sid), now=flows.clock.now()) is None
    r = await flows.get_authorize(params(reg, prompt="none"))
    assert location_params(r)["error"] == "login_required"
    r = await flows.client.get("/logout")
    assert "You are signed out" in await r.text()


async def test_login_page_then_safe_next(flows: Flows) -> None:
    for target, expected in (
        ("/device?user_code=BCDF-GHJK", "/device?user_code=BCDF-GHJK"),
        ("https://evil.example/", "/account"),
        ("//evil.example/account", "/account"),
        ("/authorize?x=1", "/account"),
    ):
        flows.client.session.cookie_jar.clear()
        r = await flows.client.get("/login?" + urlencode({"next": target}))
        login = find_form(await r.text(), "login")
        fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
        r = await flows.client.post(
            login.action,
            data=[*fields, ("xo_username", "alice"), ("xo_password", PASSWORD)],
            allow_redirects=False,
        )
        assert r.status == 303, await r.text()
        assert r.headers["Location"] == expected


async def test_secure_cookies_behind_https(make_app: Any) -> None:
    client, _runtime, flows = await make_app(http__public_url="https://auth.example")
    reg = await flows.register()
    r = await flows.get_authorize(params(reg))
    anchor = [v for v in r.headers.getall("Set-Cookie") if "xo_csrf=" in v]
    assert anchor and anchor[0].startswith("__Host-xo_csrf=")
    login = find_form(await r.text(), "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
    csrf_value = anchor[0].split(";", 1)[0].split("=", 1)[1]
    r = await client.post(
        "/authorize",
        data=[*fields, ("xo_username", ALICE), ("xo_password", PASSWORD)],
        headers={"Cookie": f"__Host-xo_csrf={csrf_value}"},
        allow_redirects=False,
    )
    assert r.status == 200, await r.text()
    cookie = [v for v in r.headers.getall("Set-Cookie") if "xo_session=" in v][0]
    assert cookie.startswith("__Host-xo_session=")
    attrs = cookie.lower()
    assert "secure" in attrs and "httponly" in attrs and "samesite=lax" in attrs
    assert "domain=" not in attrs and "path=/" in attrs


async def test_public_native_client_is_always_asked(flows: Flows) -> None:
    """RFC 8252 §8.6: a loopback public client's identity cannot be assured."""
    loopback = "http://127.0.0.1/cb"
    public = await flows.register(redirect_uris=[loopback], token_endpoint_auth_method="none")
    got, _ = await flows.authorize(public, scope=SCOPE, redirect_uri=loopback)
    assert "code" in got
    r = await flows.get_authorize(params(public, redirect_uri="http://127.0.0.1:4711/cb"))
    assert r.status == 200 and page_kind(await r.text()) == "consent"
    r = await flows.get_authorize(params(public, redirect_uri=loopback, prompt="none"))
    assert location_params(r)["error"] == "consent_required"
    # A confidential client on the same kind of address must present its secret: remembered.
    confidential = await flows.register(redirect_uris=[loopback])
    await flows.authorize(confidential, scope=SCOPE, redirect_uri=loopback)
    r = await flows.get_authorize(params(confidential, redirect_uri=loopback))
    assert r.status == 302 and "code" in location_params(r)
