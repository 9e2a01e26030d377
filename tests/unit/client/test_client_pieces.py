"""App-side pieces that need no server: PKCE, authorization URL, token file."""

from __future__ import annotations

import os
import stat
from urllib.parse import parse_qs, urlsplit

from xmpp_oauth.client.oauth import Pkce, RegisteredClient, authorization_url
from xmpp_oauth.client.tokenstore import StoredTokens, TokenFile
from xmpp_oauth.oauth.pkce import s256_challenge


def test_generated_pkce_is_within_rfc7636_bounds() -> None:
    pkce = Pkce.generate()
    assert 43 <= len(pkce.verifier) <= 128
    assert pkce.challenge == s256_challenge(pkce.verifier)
    assert Pkce.generate().verifier != pkce.verifier


def test_authorization_url_carries_pkce_state_and_hint() -> None:
    client = RegisteredClient("cid", None, ("http://127.0.0.1:5000/callback",))
    pkce = Pkce.generate()
    url = authorization_url(
        {"authorization_endpoint": "https://auth.example/authorize?x=1"}, client,
        redirect_uri="http://127.0.0.1:5000/callback", pkce=pkce, state="st",
        scope=("xmpp:client:normal",), login_hint="alice@example.org",
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert query["x"] == ["1"]
    assert query["code_challenge"] == [pkce.challenge]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == ["st"]
    assert query["login_hint"] == ["alice@example.org"]
    assert "code_verifier" not in query


def test_token_file_round_trip_is_private(tmp_path) -> None:
    path = tmp_path / "state" / "tokens.json"
    store = TokenFile(path)
    assert store.load("alice@example.org") is None
    tokens = StoredTokens(
        jid="alice@example.org", issuer="https://auth.example",
        token_endpoint="https://auth.example/token",
        client_id="cid", client_secret=None, access_token="at", expires_at=100.0,
        refresh_token="rt",
    )
    store.save(tokens)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.load("Alice@Example.org") == tokens
    assert tokens.expired(now=80.0)
    assert not tokens.expired(now=10.0)
    store.forget("alice@example.org")
    assert store.load("alice@example.org") is None


def test_token_file_ignores_garbage(tmp_path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    assert TokenFile(path).load("alice@example.org") is None
