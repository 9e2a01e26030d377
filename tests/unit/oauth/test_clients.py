"""RFC 6749 §2.3 client credentials and §3.1.2 / RFC 8252 §7.3 redirect URI matching."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest

from xmpp_oauth.errors import InvalidClientError, InvalidRequestError
from xmpp_oauth.oauth.clients import (
    AuthMethod,
    Client,
    extract_credentials,
    match_redirect_uri,
    redirect_uri_matches,
)
from xmpp_oauth.oauth.requests import Params


def basic(user: str, password: str) -> str:
    raw = f"{quote_plus(user)}:{quote_plus(password)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials_are_form_decoded() -> None:
    creds = extract_credentials(basic("a b:c", "s&e+cret"), Params.from_pairs([]))
    assert creds is not None
    assert (creds.client_id, creds.secret, creds.method) == (
        "a b:c", "s&e+cret", AuthMethod.CLIENT_SECRET_BASIC)


def test_two_methods_refused() -> None:
    with pytest.raises(InvalidRequestError):
        extract_credentials(basic("a", "b"), Params.from_pairs([("client_secret", "x")]))


def test_malformed_basic() -> None:
    with pytest.raises(InvalidClientError) as info:
        extract_credentials("Basic !!!", Params.from_pairs([]))
    assert info.value.www_authenticate and info.value.www_authenticate.startswith("Basic")


def test_post_and_none() -> None:
    creds = extract_credentials(None, Params.from_pairs([("client_id", "c"),
                                                         ("client_secret", "s")]))
    assert creds is not None and creds.method is AuthMethod.CLIENT_SECRET_POST
    creds = extract_credentials(None, Params.from_pairs([("client_id", "c")]))
    assert creds is not None and creds.method is AuthMethod.NONE
    assert extract_credentials(None, Params.from_pairs([])) is None


@pytest.mark.parametrize(("registered", "requested", "ok"), [
    ("https://app.example/cb", "https://app.example/cb", True),
    ("https://app.example/cb", "https://app.example/cb/", False),
    ("https://app.example/cb", "https://app.example/cb?x=1", False),
    ("https://app.example:8443/cb", "https://app.example:9443/cb", False),
    ("http://127.0.0.1/cb", "http://127.0.0.1:53124/cb", True),
    ("http://127.0.0.1:1234/cb", "http://127.0.0.1:53124/cb", True),
    ("http://[::1]/cb", "http://[::1]:5000/cb", True),
    ("http://localhost/cb", "http://localhost:5000/cb", True),
    ("http://127.0.0.1/cb", "http://127.0.0.1:5000/other", False),
    ("http://127.0.0.1/cb", "http://127.0.0.2:5000/cb", False),
    ("http://127.0.0.1/cb", "http://127.0.0.1:bad/cb", False),
    ("com.example.app:/cb", "com.example.app:/cb", True),
])
def test_redirect_uri_matching(registered: str, requested: str, ok: bool) -> None:
    assert redirect_uri_matches(registered, requested) is ok


def test_match_redirect_uri_defaults() -> None:
    one = Client("c", {"redirect_uris": ["https://app.example/cb"]})
    assert match_redirect_uri(one, None) == "https://app.example/cb"
    two = Client("c", {"redirect_uris": ["https://app.example/cb", "https://app.example/b"]})
    with pytest.raises(InvalidRequestError):
        match_redirect_uri(two, None)
    with pytest.raises(InvalidRequestError):
        match_redirect_uri(one, "https://evil.example/cb")
