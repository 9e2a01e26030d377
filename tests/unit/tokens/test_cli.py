"""``xmpp-oauth keys ...`` and ``xmpp-oauth token issue`` against a real SQLite store."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import stat
import time
from collections.abc import Callable
from pathlib import Path

import jwt as pyjwt
import pytest

from xmpp_oauth.errors import ConfigError
from xmpp_oauth.settings import Settings
from xmpp_oauth.store import open_store
from xmpp_oauth.tokens.cli import register
from xmpp_oauth.tokens.jwt import TokenService
from xmpp_oauth.tokens.keys import load_keyring
from xmpp_oauth.validate import InMemoryRevocationSet, Validator


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return int(args.func(args, settings))


def output(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> str:
    assert run(settings, *argv) == 0
    return capsys.readouterr().out


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


def test_keys_list_export_rotate(settings: Settings, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    assert "no signing keys" in output(capsys, settings, "keys", "list")

    jwks = json.loads(output(capsys, settings, "keys", "export"))  # generates the first key
    assert len(jwks["keys"]) == 1
    first = jwks["keys"][0]
    assert first["kty"] == "OKP" and first["alg"] == "EdDSA" and "d" not in first

    listing = json.loads(output(capsys, settings, "keys", "list", "--json"))
    assert [(k["kid"], k["state"]) for k in listing] == [(first["kid"], "active")]

    assert "new active key" in output(capsys, settings, "keys", "rotate")
    listing = json.loads(output(capsys, settings, "keys", "list", "--json"))
    assert len(listing) == 2 and listing[0]["state"] == "active"
    assert listing[1]["kid"] == first["kid"] and listing[1]["state"].startswith("retired")
    assert "verifies until" in output(capsys, settings, "keys", "list")

    # Full JWKS: both keys until the old one's tokens have expired; ejabberd: the active one.
    assert len(json.loads(output(capsys, settings, "keys", "export"))["keys"]) == 2
    ejabberd = json.loads(output(capsys, settings, "keys", "export", "--for", "ejabberd"))
    assert [k["kid"] for k in ejabberd["keys"]] == [listing[0]["kid"]]

    target = tmp_path / "jwt.jwk"
    assert run(settings, "keys", "export", "--format", "jwk", "-o", str(target)) == 0
    jwk = json.loads(target.read_text())
    assert jwk["kid"] == listing[0]["kid"] and "keys" not in jwk
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_hs256_export_is_secret(settings_factory: Callable[..., Settings],
                                capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = settings_factory(keys__algorithm="HS256")
    with pytest.raises(ConfigError):
        run(settings, "keys", "export")  # never published
    with pytest.raises(ConfigError):
        run(settings, "keys", "export", "--for", "ejabberd")  # not to stdout
    target = tmp_path / "ejabberd.jwk"
    target.write_text("old")
    target.chmod(0o644)
    assert run(settings, "keys", "export", "--for", "ejabberd", "--format", "jwk",
               "-o", str(target)) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    jwk = json.loads(target.read_text())
    assert jwk["kty"] == "oct" and jwk["alg"] == "HS256"
    capsys.readouterr()

    # The exported secret verifies what the server signs (as ejabberd would).
    token = output(capsys, settings, "token", "issue", "--jid", "alice@localhost").strip()
    secret = base64.urlsafe_b64decode(jwk["k"] + "=" * (-len(jwk["k"]) % 4))
    claims = pyjwt.decode(token, secret, algorithms=["HS256"], audience="xmpp:localhost")
    assert claims["jid"] == "alice@localhost"


def test_token_issue(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    out = output(capsys, settings, "token", "issue", "--jid", "Alice@localhost",
                 "--scope", "xmpp:client:normal openid", "--scope", "openid",
                 "--ttl", "120", "--client-id", "dev-tool", "--json")
    response = json.loads(out)
    assert response["token_type"] == "Bearer" and response["expires_in"] == 120
    assert response["scope"] == "openid xmpp:client:normal"

    async def check() -> None:
        async with open_store(settings.store_url) as store:
            ring = await load_keyring(store, settings, now=time.time())
            grant = await store.get_grant(response["grant_id"])
        assert grant is not None and grant.jid == "alice@localhost"
        assert grant.client_id == "dev-tool" and set(grant.scopes) == {"xmpp:client:normal",
                                                                        "openid"}
        validator = Validator(TokenService(ring, issuer=settings.issuer),
                              InMemoryRevocationSet(), domains=settings.domains)
        principal = validator.validate(response["access_token"], authzid="alice@localhost",
                                       now=time.time())
        assert principal.jid == "alice@localhost" and principal.jti == response["jti"]
        assert principal.expires_at <= time.time() + 121

    asyncio.run(check())

    plain = output(capsys, settings, "token", "issue", "--jid", "bob@localhost")
    assert plain.count(".") == 2 and plain.endswith("\n")


@pytest.mark.parametrize(
    "jid", ["alice", "alice@example.org", "alice@localhost/phone", "@localhost"]
)
def test_token_issue_refuses_bad_jids(settings: Settings, jid: str) -> None:
    with pytest.raises(ConfigError):
        run(settings, "token", "issue", "--jid", jid)


def test_token_issue_refuses_bad_ttl(settings: Settings) -> None:
    with pytest.raises(ConfigError):
        run(settings, "token", "issue", "--jid", "alice@localhost", "--ttl", "-5")
