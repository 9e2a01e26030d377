"""RFC 7591 metadata rules (registration.py's table)."""

from __future__ import annotations

from typing import Any

import pytest

from xmpp_oauth.errors import InvalidClientMetadataError, InvalidRedirectUriError
from xmpp_oauth.oauth.registration import MAX_URI, validate_metadata
from xmpp_oauth.settings import Settings

S = Settings.from_mapping({"allowed_oauth2_response_types": ["code", "token"],
                           "allowed_oauth2_grant_types": ["authorization_code", "refresh_token",
                                                          "implicit", "password"]})


def meta(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"client_name": "App", "client_uri": "https://app.example",
                            "redirect_uris": ["https://app.example/cb"]}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_web_client_defaults() -> None:
    out = validate_metadata(meta(unknown_field="dropped"), S)
    assert out["grant_types"] == ["authorization_code"]
    assert out["response_types"] == ["code"]
    assert out["token_endpoint_auth_method"] == "client_secret_basic"
    assert out["application_type"] == "web"
    assert "unknown_field" not in out


@pytest.mark.parametrize("uri", [
    "https://sub.app.example/cb",
    "http://127.0.0.1/cb",
    "http://[::1]:8080/cb",
    "http://localhost/cb",
    "org.example.app:/oauth",
    "urn:ietf:wg:oauth:2.0:oob",
])
def test_accepted_redirect_uris(uri: str) -> None:
    validate_metadata(meta(redirect_uris=[uri]), S)


@pytest.mark.parametrize("uri", [
    "https://evil.example/cb",          # not on client_uri host
    "https://notapp.example/cb",
    "http://app.example/cb",            # plain http off loopback
    "https://app.example/cb#frag",      # fragment
    "javascript:alert(1)",
    "myapp:/cb",                        # private-use without a dot
    "/relative",
])
def test_rejected_redirect_uris(uri: str) -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris=[uri]), S)


@pytest.mark.parametrize("uri", [
    # Browsers read "\" as "/": this goes to evil.example, urlsplit says app.example.
    "https://evil.example\\@app.example/cb",
    "https://evil.example\\.app.example/cb",
    "https://app.example/c\\b",
    "https://evil.example@app.example/cb",     # any userinfo
    "https://user@app.example/cb",
    "https://@app.example/cb",
    "https://evil.example%40app.example/cb",   # escapes in the authority
    "https://evil.example\t.app.example/cb",   # browsers drop tab/CR/LF
    "https://evil.example\n.app.example/cb",
    "https://app.example/c b",
    "https://app.example/cb\r\nX-Evil: 1",
    "https://app.example/cb\x00",
    "https://app.example/caf\u00e9",
    "https://app\uff0eexample/cb",             # fullwidth dot
    "https://app.example:/cb",                 # authority is not exactly host[:port]
    "https://app.example:0443/cb",
    "https://app.example:99999/cb",
    "https://[::1/cb",
    "http://evil.example\\@127.0.0.1/cb",
    "org.example.app://evil.example@app.example/cb",
    "org.example.app:/c\\b",
])
def test_rejected_redirect_uri_tricks(uri: str) -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris=[uri]), S)


@pytest.mark.parametrize("uri", [
    "https://app.example:8443/cb",
    "https://APP.example/cb",
    "http://[::1]:8080/cb?x=1&y=%20",
    "org.example.app://callback/path",
])
def test_plain_authorities_still_accepted(uri: str) -> None:
    validate_metadata(meta(redirect_uris=[uri]), S)


@pytest.mark.parametrize("field", ["client_uri", "logo_uri", "policy_uri", "tos_uri"])
@pytest.mark.parametrize("uri", [
    "https://evil.example\\@app.example/x",
    "https://evil.example@app.example/x",
    "https://app.example/x y",
    "https://app.example/x\x7f",
])
def test_link_uri_tricks(field: str, uri: str) -> None:
    if field == "client_uri":
        uri = uri.replace("/x", "")
    with pytest.raises(InvalidClientMetadataError):
        validate_metadata(meta(**{field: uri}), S)


def test_native_loopback_needs_no_client_uri() -> None:
    out = validate_metadata({"redirect_uris": ["http://127.0.0.1/cb"],
                             "token_endpoint_auth_method": "none"}, S)
    assert out["application_type"] == "native"


def test_https_redirect_needs_client_uri() -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata({"redirect_uris": ["https://app.example/cb"]}, S)


def test_web_application_type_only_https() -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(application_type="web", redirect_uris=["http://127.0.0.1/cb"]), S)


@pytest.mark.parametrize("bad", [
    {"grant_types": ["client_credentials"]},
    {"grant_types": ["authorization_code"], "response_types": ["token"]},
    {"grant_types": ["implicit"], "response_types": ["code"]},
    {"token_endpoint_auth_method": "private_key_jwt"},
    {"logo_uri": "https://elsewhere.example/logo.png"},
    {"policy_uri": "http://app.example/policy"},
    {"client_uri": "ftp://app.example"},
    {"client_name": 42},
    {"client_name": "bad\x00name"},
    {"scope": "nothing-known"},
    {"application_type": "desktop"},
])
def test_invalid_metadata(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidClientMetadataError):
        validate_metadata(meta(**bad), S)


def test_redirect_uris_required_for_code() -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris=None), S)
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris="https://app.example/cb"), S)


def test_device_only_client_without_redirects() -> None:
    s = Settings.from_mapping({})
    out = validate_metadata({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
                             "token_endpoint_auth_method": "none", "client_name": "TV"}, s)
    assert out["response_types"] == [] and "redirect_uris" not in out


def test_scope_keeps_known() -> None:
    assert validate_metadata(meta(scope="openid email xmpp"), S)["scope"] == "openid xmpp"


def test_redirect_uri_length_limit() -> None:
    base = "https://app.example/"
    validate_metadata(meta(redirect_uris=[base + "a" * (MAX_URI - len(base))]), S)
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris=[base + "a" * (MAX_URI - len(base) + 1)]), S)


@pytest.mark.parametrize("char", ["\r", "\n", "\x0b", "\x1b", "\x7f", "\u2028", " "])
def test_redirect_uri_control_characters(char: str) -> None:
    with pytest.raises(InvalidRedirectUriError):
        validate_metadata(meta(redirect_uris=[f"org.example.app:/cb{char}x"]), S)
