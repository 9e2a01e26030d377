"""Authorization endpoint: RFC 6749 §4.1.2.1 (render vs redirect), PKCE rules, RFC 9207, OOB.

Errors found before any interaction are redirected only for a client the server trusts (RFC
9700 §4.11.2: an admin-added client, or one the signed-in user consented to); the tests of the
redirect's contents use such a client (:func:`trusted_client`), the tests at the end check the
error page for the others.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from xmpp_oauth.store.base import StoredClient
from xmpp_oauth.tokens.secrets import hash_secret

from .flows import ALICE, REDIRECT, Flows, location_params, pkce_pair


def base_params(reg: dict[str, Any], **over: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": reg["client_id"], "redirect_uri": REDIRECT,
              "scope": "xmpp:client:normal", "state": "xyz", "code_challenge": challenge,
              "code_challenge_method": "S256"}
    params.update(over)
    return {k: v for k, v in params.items() if v != "-"}


async def assert_rendered_error(r: Any, error: str) -> None:
    """Errors before the redirect URI is validated: a page, never a redirect."""
    assert r.status == 400, await r.text()
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")
    assert error in await r.text()


async def assert_redirected_error(r: Any, error: str, *, issuer: str,
                                  state: str | None = "xyz") -> dict[str, str]:
    assert r.status == 302, await r.text()
    assert r.headers["Location"].startswith(REDIRECT + "?")
    got = location_params(r)
    assert got["error"] == error
    assert got.get("state") == state
    assert got["iss"] == issuer  # RFC 9207 §2 on errors too
    return got


async def trusted_client(flows: Flows, **metadata: Any) -> dict[str, Any]:
    """A registered client the signed-in user (alice) has consented to."""
    reg = await flows.register(**metadata)
    got, _ = await flows.authorize(reg, scope="xmpp:client:normal")
    assert "code" in got
    return reg


async def test_missing_client_id_renders(flows: Flows) -> None:
    reg = await flows.register()
    await assert_rendered_error(await flows.get_authorize(base_params(reg, client_id="-")),
                                "invalid_request")


async def test_unknown_client_renders(flows: Flows) -> None:
    reg = await flows.register()
    await assert_rendered_error(
        await flows.get_authorize(base_params(reg, client_id="bogus")), "invalid_client")


async def test_wrong_redirect_uri_renders(flows: Flows) -> None:
    reg = await flows.register()
    for uri in ("https://evil.example/cb", REDIRECT + "/x", REDIRECT + "?a=1"):
        r = await flows.get_authorize(base_params(reg, redirect_uri=uri))
        await assert_rendered_error(r, "invalid_request")


async def test_duplicate_parameters_render(flows: Flows) -> None:
    reg = await flows.register()
    query = urlencode(base_params(reg)) + "&redirect_uri=" + "https%3A%2F%2Fevil.example%2F"
    r = await flows.client.get("/authorize?" + query, allow_redirects=False)
    await assert_rendered_error(r, "invalid_request")


async def test_missing_response_type_redirects(flows: Flows) -> None:
    reg = await trusted_client(flows)
    r = await flows.get_authorize(base_params(reg, response_type="-"))
    await assert_redirected_error(r, "invalid_request", issuer=flows.runtime.settings.issuer)


async def test_unsupported_response_type(flows: Flows) -> None:
    reg = await trusted_client(flows)
    for rt in ("token", "id_token", "code token"):
        r = await flows.get_authorize(base_params(reg, response_type=rt))
        await assert_redirected_error(r, "unsupported_response_type",
                                      issuer=flows.runtime.settings.issuer)


async def test_invalid_scope(flows: Flows) -> None:
    reg = await trusted_client(flows, scope="xmpp:client:normal")
    for scope in ("openid", "email", 'bad"'):
        r = await flows.get_authorize(base_params(reg, scope=scope))
        await assert_redirected_error(r, "invalid_scope", issuer=flows.runtime.settings.issuer)


async def test_pkce_required(flows: Flows) -> None:
    reg = await trusted_client(flows)
    r = await flows.get_authorize(base_params(reg, code_challenge="-",
                                              code_challenge_method="-"))
    got = await assert_redirected_error(r, "invalid_request",
                                        issuer=flows.runtime.settings.issuer)
    assert "code_challenge" in got["error_description"]


async def test_plain_refused_when_only_s256(flows: Flows) -> None:
    reg = await trusted_client(flows)
    verifier, _ = pkce_pair()
    for method in ("plain", "-"):
        r = await flows.get_authorize(base_params(reg, code_challenge=verifier,
                                                  code_challenge_method=method))
        await assert_redirected_error(r, "invalid_request", issuer=flows.runtime.settings.issuer)


async def test_request_objects_refused(flows: Flows) -> None:
    reg = await trusted_client(flows)
    r = await flows.get_authorize(base_params(reg, request="eyJ.x.y"))
    await assert_redirected_error(r, "invalid_request", issuer=flows.runtime.settings.issuer)


async def test_bad_prompt_and_max_age(flows: Flows) -> None:
    reg = await trusted_client(flows)
    issuer = flows.runtime.settings.issuer
    for over in ({"prompt": "none login"}, {"prompt": "sometimes"}, {"max_age": "-1"},
                 {"max_age": "soon"}, {"response_mode": "form_post"}):
        r = await flows.get_authorize(base_params(reg, **over))
        await assert_redirected_error(r, "invalid_request", issuer=issuer)


async def test_state_absent_stays_absent(flows: Flows) -> None:
    reg = await trusted_client(flows)
    r = await flows.get_authorize(base_params(reg, state="-", response_type="token"))
    await assert_redirected_error(r, "unsupported_response_type",
                                  issuer=flows.runtime.settings.issuer, state=None)


async def test_prompt_none_without_session(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.get_authorize(base_params(reg, prompt="none"))
    await assert_redirected_error(r, "login_required", issuer=flows.runtime.settings.issuer)


async def test_user_denies(flows: Flows) -> None:
    reg = await flows.register()
    page = await flows.get_authorize(base_params(reg))
    assert page.status == 200
    r = await flows.sign_in_and_consent(page, decision="deny")
    assert r.status in (302, 303)
    got = location_params(r)
    assert got["error"] == "access_denied" and got["state"] == "xyz"


async def test_success_carries_code_state_iss(flows: Flows) -> None:
    reg = await flows.register()
    got, _ = await flows.authorize(reg)
    assert set(got) == {"code", "state", "iss"}
    assert got["iss"] == flows.runtime.settings.issuer


async def test_post_authorization_request(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.client.post("/authorize", data=base_params(reg), allow_redirects=False)
    assert r.status == 200
    assert "xo_password" in await r.text()


async def test_post_authorization_wrong_content_type(flows: Flows) -> None:
    reg = await flows.register()
    r = await flows.client.post("/authorize", json=base_params(reg), allow_redirects=False)
    await assert_rendered_error(r, "invalid_request")


async def test_redirect_keeps_existing_query(flows: Flows) -> None:
    uri = "https://app.example/cb?app=1"
    reg = await flows.register(redirect_uris=[uri])
    got, _ = await flows.authorize(reg, redirect_uri=uri)
    assert got["app"] == "1" and "code" in got


async def test_oob_shows_code(flows: Flows) -> None:
    oob = "urn:ietf:wg:oauth:2.0:oob"
    reg = await flows.register(redirect_uris=[oob], token_endpoint_auth_method="none",
                               client_uri=None)
    verifier, challenge = pkce_pair()
    page = await flows.get_authorize(base_params(reg, redirect_uri=oob,
                                                 code_challenge=challenge))
    r = await flows.sign_in_and_consent(page)
    assert r.status == 200 and "Location" not in r.headers
    html = await r.text()
    # pull the code out of the page and exchange it
    match = re.search(r'id="code"[^>]*value="([^"]+)"', html)
    assert match, html
    code = match.group(1)
    t = await flows.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": oob, "code_verifier": verifier,
                           "client_id": reg["client_id"]})
    assert t.status == 200, await t.text()


async def test_oob_errors_are_rendered(flows: Flows) -> None:
    oob = "urn:ietf:wg:oauth:2.0:oob"
    reg = await flows.register(redirect_uris=[oob], token_endpoint_auth_method="none",
                               client_uri=None)
    r = await flows.get_authorize(base_params(reg, redirect_uri=oob, code_challenge="-"))
    await assert_rendered_error(r, "invalid_request")


async def test_implicit_when_enabled(make_app: Any) -> None:
    _, _, flows = await make_app(
        allowed_oauth2_response_types=["code", "token"],
        allowed_oauth2_grant_types=["authorization_code", "implicit"])
    reg = await flows.register(grant_types=["implicit"], response_types=["token"],
                               token_endpoint_auth_method="none", scope=None)
    page = await flows.get_authorize(base_params(reg, response_type="token"))
    r = await flows.sign_in_and_consent(page)
    assert r.status in (302, 303)
    parts = urlsplit(r.headers["Location"])
    assert not parts.query  # RFC 6749 §4.2.2: in the fragment only
    got = location_params(r)
    assert got["token_type"] == "Bearer" and "refresh_token" not in got
    assert got["state"] == "xyz" and got["iss"] == flows.runtime.settings.issuer
    flows.runtime.validator.validate(got["access_token"], now=flows.clock.now())


async def test_resource_indicator(flows: Flows) -> None:
    reg = await flows.register()
    body = await flows.tokens(reg, extra={"resource": "https://upload.localhost/"})
    claims = flows.runtime.tokens.verify_access_token(body["access_token"], audience=None,
                                                      now=flows.clock.now())
    assert claims.aud == ("xmpp:localhost", "https://upload.localhost/")
    r = await flows.get_authorize(base_params(reg, resource="https://elsewhere.example/"))
    await assert_redirected_error(r, "invalid_target", issuer=flows.runtime.settings.issuer)


UNTRUSTED_ERRORS: list[tuple[dict[str, str], str]] = [
    ({"response_type": "-"}, "invalid_request"),
    ({"response_type": "bogus"}, "unsupported_response_type"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "nothing-known"}, "invalid_scope"),
    ({"code_challenge": "-", "code_challenge_method": "-"}, "invalid_request"),
    ({"prompt": "sometimes"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"request": "eyJ.x.y"}, "invalid_request"),
    ({"resource": "https://elsewhere.example/"}, "invalid_target"),
    ({"prompt": "none login"}, "invalid_request"),
]


@pytest.mark.parametrize(("over", "error"), UNTRUSTED_ERRORS)
async def test_no_open_redirect_for_untrusted_clients(flows: Flows, over: dict[str, str],
                                                      error: str) -> None:
    """RFC 9700 §4.11.2: anyone may register a client with their own https redirect URI;
    a bad request for it, with no user interaction, is a page and never a redirect there."""
    reg = await flows.register(client_uri="https://evil.example",
                               redirect_uris=["https://evil.example/landing"])
    params = base_params(reg, redirect_uri="https://evil.example/landing", **over)
    await assert_rendered_error(await flows.get_authorize(params), error)
    # Signed in, but this user never consented to that client: still a page.
    await trusted_client(flows)
    await assert_rendered_error(await flows.get_authorize(params), error)
    # POSTed requests alike.
    r = await flows.client.post("/authorize", data=params, allow_redirects=False)
    await assert_rendered_error(r, error)


async def test_errors_redirect_to_admin_added_clients(flows: Flows) -> None:
    await flows.runtime.store.add_client(StoredClient(
        client_id="admin-app", client_secret_hash=hash_secret("s3cret"),
        metadata={"client_name": "Admin app", "redirect_uris": [REDIRECT],
                  "grant_types": ["authorization_code"], "response_types": ["code"]},
        created_at=flows.clock.now()))
    r = await flows.get_authorize(base_params({"client_id": "admin-app"}, response_type="bogus"))
    await assert_redirected_error(r, "unsupported_response_type",
                                  issuer=flows.runtime.settings.issuer)


async def test_redirects_after_interaction_or_for_prompt_none_stay(flows: Flows) -> None:
    """access_denied after Deny and prompt=none answers still go back to the client."""
    reg = await flows.register()
    r = await flows.get_authorize(base_params(reg, prompt="none"))
    await assert_redirected_error(r, "login_required", issuer=flows.runtime.settings.issuer)
    page = await flows.get_authorize(base_params(reg))
    r = await flows.sign_in_and_consent(page, decision="deny")
    assert r.status in (302, 303) and location_params(r)["error"] == "access_denied"
    assert await flows.runtime.store.get_consent(ALICE, reg["client_id"]) is None


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_other_methods(flows: Flows, method: str) -> None:
    r = await flows.client.request(method, "/authorize")
    assert r.status == 405
