"""RFC 7591 registration endpoint: 201 responses and §3.2.2 errors."""

from __future__ import annotations

import pytest

from .flows import Flows, assert_oauth_error

pytestmark = pytest.mark.usefixtures("env")


async def test_register_confidential(flows: Flows) -> None:
    r = await flows.client.post("/register", json={
        "client_name": "App", "client_uri": "https://app.example",
        "redirect_uris": ["https://app.example/cb"], "logo_uri": "https://app.example/l.png",
        "software_id": "s", "ignored_field": 1})
    assert r.status == 201
    assert r.headers["Cache-Control"] == "no-store"
    body = await r.json()
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert body["client_id_issued_at"] == int(flows.clock.now())
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code"]
    assert body["logo_uri"] == "https://app.example/l.png"
    assert "ignored_field" not in body


async def test_register_public_native(flows: Flows) -> None:
    r = await flows.client.post("/register", json={
        "client_name": "CLI", "redirect_uris": ["http://127.0.0.1/cb", "org.example.cli:/cb"],
        "token_endpoint_auth_method": "none"})
    assert r.status == 201
    body = await r.json()
    assert "client_secret" not in body and body["application_type"] == "native"


async def test_registration_ttl(make_app) -> None:  # type: ignore[no-untyped-def]
    _, _, flows = await make_app(oauth2_registration_ttl=3600)
    reg = await flows.register()
    assert reg["client_secret_expires_at"] == int(flows.clock.now()) + 3600
    flows.clock.advance(3601)
    r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=flows.auth(reg))
    await assert_oauth_error(r, 401, "invalid_client")


@pytest.mark.parametrize(("body", "error"), [
    ({"redirect_uris": ["https://evil.example/cb"], "client_uri": "https://app.example"},
     "invalid_redirect_uri"),
    ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["client_credentials"]},
     "invalid_client_metadata"),
    ({"redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["password"]},
     "invalid_client_metadata"),  # not enabled by default
    ({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "private_key_jwt"},
     "invalid_client_metadata"),
    ({"redirect_uris": ["http://127.0.0.1/cb"], "client_name": ["x"]}, "invalid_client_metadata"),
    # A browser goes to evil.example; urlsplit sees userinfo "evil.example\\" on app.example.
    ({"redirect_uris": ["https://evil.example\\@app.example/cb"],
      "client_uri": "https://app.example"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example/cb"],
      "client_uri": "https://evil.example\\@app.example"}, "invalid_client_metadata"),
    ({"redirect_uris": ["http://127.0.0.1/cb\r\nSet-Cookie: a=b"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://127.0.0.1/" + "a" * 3000]}, "invalid_redirect_uri"),
])
async def test_register_errors(flows: Flows, body: dict, error: str) -> None:  # type: ignore[type-arg]
    r = await flows.client.post("/register", json=body)
    await assert_oauth_error(r, 400, error)


async def test_register_never_issues_an_unusable_client_id(flows: Flows) -> None:
    """A 201's client id is one the client registry accepts later; too much metadata is 400."""
    refused = 0
    for count in (1, 2, 3, 4, 8, 20):
        uris = [f"http://127.0.0.1/{i}/" + "a" * 1000 for i in range(count)]
        r = await flows.client.post("/register", json={
            "redirect_uris": uris, "grant_types": ["authorization_code", "refresh_token"]})
        if r.status != 201:
            await assert_oauth_error(r, 400, "invalid_client_metadata")
            refused += 1
            continue
        reg = await r.json()
        r = await flows.token({"grant_type": "refresh_token", "refresh_token": "x"},
                              auth=flows.auth(reg))
        await assert_oauth_error(r, 400, "invalid_grant")  # the client itself is known
    assert refused >= 2


async def test_register_body_errors(flows: Flows) -> None:
    r = await flows.client.post("/register", data=b"{", headers={"Content-Type":
                                                                   "application/json"})
    await assert_oauth_error(r, 400, "invalid_client_metadata")
    r = await flows.client.post("/register", json=["not", "an", "object"])
    await assert_oauth_error(r, 400, "invalid_client_metadata")
    r = await flows.client.post("/register", data={"redirect_uris": "x"})
    await assert_oauth_error(r, 400, "invalid_client_metadata")
    big = b'{"client_name": "' + b"a" * flows.runtime.settings.http.max_body_size + b'"}'
    r = await flows.client.post("/register", data=big,
                                headers={"Content-Type": "application/json"})
    await assert_oauth_error(r, 413, "invalid_request")


async def test_register_rate_limited(flows: Flows) -> None:
    statuses = []
    for _ in range(25):
        r = await flows.client.post("/register", json={"redirect_uris": ["http://127.0.0.1/c"]})
        statuses.append(r.status)
    assert statuses[:20] == [201] * 20
    assert 429 in statuses
