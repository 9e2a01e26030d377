"""RFC 8414 / OIDC discovery documents and the JWKS."""

from __future__ import annotations

import pytest

from xmpp_oauth.oauth.metadata import validate_metadata_document

from .flows import Flows

pytestmark = pytest.mark.usefixtures("env")


async def test_both_paths_identical_and_accurate(flows: Flows) -> None:
    a = await flows.client.get("/.well-known/openid-configuration")
    b = await flows.client.get("/.well-known/oauth-authorization-server")
    assert a.status == b.status == 200
    doc = await a.json()
    assert doc == await b.json()
    validate_metadata_document(doc)
    s = flows.runtime.settings
    assert doc["issuer"] == s.issuer
    assert doc["grant_types_supported"] == list(s.allowed_oauth2_grant_types)
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["device_authorization_endpoint"] == s.issuer + "/device_authorization"
    assert doc["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert "xmpp:client:normal" in doc["scopes_supported"]
    assert doc["request_uri_parameter_supported"] is False
    assert a.headers["Access-Control-Allow-Origin"] == "*"


async def test_every_advertised_endpoint_answers(flows: Flows) -> None:
    doc = await (await flows.client.get("/.well-known/openid-configuration")).json()
    issuer = doc["issuer"]
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint",
                 "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint",
                 "device_authorization_endpoint"):
        path = doc[name][len(issuer):]
        r = await flows.client.post(path, data={}) if name != "jwks_uri" else \
            await flows.client.get(path)
        assert r.status != 404 and r.status < 500, (name, r.status)


async def test_metadata_follows_settings(make_app) -> None:  # type: ignore[no-untyped-def]
    _, _, flows = await make_app(allowed_oauth2_grant_types=["authorization_code"],
                                 allowed_oauth2_code_challenge_methods=["S256", "plain"],
                                 oauth2_extra_scopes={"urn:x:y": "Y"})
    doc = await (await flows.client.get("/.well-known/oauth-authorization-server")).json()
    assert "device_authorization_endpoint" not in doc
    assert doc["grant_types_supported"] == ["authorization_code"]
    assert doc["code_challenge_methods_supported"] == ["S256", "plain"]
    assert "urn:x:y" in doc["scopes_supported"]


async def test_jwks(flows: Flows) -> None:
    r = await flows.client.get("/jwks")
    assert r.status == 200
    keys = (await r.json())["keys"]
    assert keys and all({"kid", "alg", "kty", "use"} <= set(k) for k in keys)
    assert all("d" not in k for k in keys)  # no private material
    assert keys[0]["kid"] == flows.runtime.tokens.keyring.active.kid
