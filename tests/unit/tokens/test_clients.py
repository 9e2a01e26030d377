"""Stateless client ids (RFC 7591 §3.2.1, Prosody-style) and their HMAC secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt as pyjwt
import pytest

from xmpp_oauth.errors import ConfigError, InvalidClientError
from xmpp_oauth.tokens.clients import MAX_CLIENT_ID_LENGTH, ClientIdCodec

from .conftest import NOW

KEY = b"k" * 32
METADATA = {
    "client_name": "Example Chat",
    "redirect_uris": ["http://127.0.0.1/cb", "org.example.chat:/cb"],
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "client_secret_basic",
}


def test_round_trip() -> None:
    codec = ClientIdCodec(KEY)
    client_id, secret = codec.issue(METADATA, now=NOW)
    decoded = codec.decode(client_id, now=NOW + 10)
    assert decoded == {**METADATA, "iat": int(NOW)}
    codec.verify_secret(client_id, secret)
    assert codec.secret_for(client_id) == secret


def test_secret_is_hmac_sha256_of_the_client_id() -> None:
    client_id, secret = ClientIdCodec(KEY).issue(METADATA, now=NOW)
    expected = hmac.new(KEY, client_id.encode(), hashlib.sha256).digest()
    assert secret == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_wrong_secret() -> None:
    codec = ClientIdCodec(KEY)
    client_id, secret = codec.issue(METADATA, now=NOW)
    for wrong in ("", secret[:-1], secret + "A", codec.issue({"client_name": "x"}, now=NOW)[1]):
        with pytest.raises(InvalidClientError):
            codec.verify_secret(client_id, wrong)


def test_tampered_client_id() -> None:
    codec = ClientIdCodec(KEY)
    client_id, _secret = codec.issue(METADATA, now=NOW)
    head, payload, sig = client_id.split(".")
    evil = json.dumps({**METADATA, "redirect_uris": ["https://evil.example/cb"], "iat": int(NOW)})
    forged = ".".join([head, base64.urlsafe_b64encode(evil.encode()).rstrip(b"=").decode(), sig])
    for bad in (forged, client_id[:-2], "plainid", "", "a.b.c", "x" * (MAX_CLIENT_ID_LENGTH + 1)):
        with pytest.raises(InvalidClientError):
            codec.decode(bad, now=NOW)


def test_other_registration_key() -> None:
    client_id, _ = ClientIdCodec(KEY).issue(METADATA, now=NOW)
    with pytest.raises(InvalidClientError):
        ClientIdCodec(b"o" * 32).decode(client_id, now=NOW)


def test_alg_none_and_other_algs_refused() -> None:
    codec = ClientIdCodec(KEY)
    unsigned = pyjwt.encode({**METADATA, "iat": int(NOW)}, None, algorithm="none")
    hs512 = pyjwt.encode({**METADATA, "iat": int(NOW)}, KEY * 2, algorithm="HS512")
    for bad in (unsigned, hs512):
        with pytest.raises(InvalidClientError):
            codec.decode(bad, now=NOW)


def test_expiry() -> None:
    codec = ClientIdCodec(KEY, ttl=3600)
    client_id, _ = codec.issue(METADATA, now=NOW)
    assert codec.decode(client_id, now=NOW + 3599)["exp"] == int(NOW) + 3600
    with pytest.raises(InvalidClientError):
        codec.decode(client_id, now=NOW + 3600)


def test_issued_in_the_future() -> None:
    codec = ClientIdCodec(KEY)
    client_id, _ = codec.issue(METADATA, now=NOW + 3600)
    with pytest.raises(InvalidClientError):
        codec.decode(client_id, now=NOW)


def test_reserved_metadata() -> None:
    with pytest.raises(ValueError):
        ClientIdCodec(KEY).issue({"exp": 1}, now=NOW)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms(alg: str) -> None:
    codec = ClientIdCodec(b"z" * 64, algorithm=alg)
    client_id, secret = codec.issue(METADATA, now=NOW)
    assert json.loads(base64.urlsafe_b64decode(client_id.split(".")[0] + "=="))["alg"] == alg
    assert codec.decode(client_id, now=NOW)["client_name"] == "Example Chat"
    codec.verify_secret(client_id, secret)


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="oauth2_registration_key"):
        ClientIdCodec(b"short")
    with pytest.raises(ConfigError, match="oauth2_registration_key"):
        ClientIdCodec(b"k" * 32, algorithm="HS512")
    with pytest.raises(ConfigError, match="oauth2_registration_algorithm"):
        ClientIdCodec(KEY, algorithm="RS256")
    with pytest.raises(ConfigError, match="oauth2_registration_ttl"):
        ClientIdCodec(KEY, ttl=-1)
