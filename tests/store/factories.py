"""Record factories for store tests (defaults everywhere, override what a test is about)."""

from __future__ import annotations

from typing import Any

from xmpp_oauth.store.base import (
    Account,
    AuthorizationCode,
    DeviceCode,
    Grant,
    LoginSession,
    RefreshToken,
    StoredClient,
    StoredKey,
)

T0 = 1_800_000_000.0


def account(jid: str = "alice@localhost", **kw: Any) -> Account:
    base: dict[str, Any] = dict(
        jid=jid, password_hash="$argon2id$fake", scram_sha1="s1", scram_sha256="s256",
        disabled=False, created_at=T0, password_changed_at=T0,
    )
    base.update(kw)
    return Account(**base)


def grant(grant_id: str = "g1", jid: str = "alice@localhost", **kw: Any) -> Grant:
    base: dict[str, Any] = dict(
        grant_id=grant_id, jid=jid, client_id="client-a", client_name="App A",
        scopes=("xmpp:client:normal", "offline_access"), created_at=T0, last_used_at=T0,
        auth_time=T0 - 5,
    )
    base.update(kw)
    return Grant(**base)


def refresh(token_hash: str = "r1", grant_id: str = "g1", **kw: Any) -> RefreshToken:
    base: dict[str, Any] = dict(
        token_hash=token_hash, grant_id=grant_id, client_id="client-a",
        scopes=("xmpp:client:normal", "offline_access"), created_at=T0, expires_at=T0 + 3600,
    )
    base.update(kw)
    return RefreshToken(**base)


def code(code_hash: str = "c1", **kw: Any) -> AuthorizationCode:
    base: dict[str, Any] = dict(
        code_hash=code_hash, client_id="client-a", client_name="App A", jid="alice@localhost",
        redirect_uri="http://127.0.0.1:9999/cb", scopes=("openid", "xmpp:client:normal"),
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256", nonce="n-0S6", auth_time=T0 - 5, created_at=T0,
        expires_at=T0 + 120, extra={"resource": ["xmpp:localhost"], "amr": ["pwd"]},
    )
    base.update(kw)
    return AuthorizationCode(**base)


def device(device_code_hash: str = "d1", user_code: str = "WDJB-MJHT", **kw: Any) -> DeviceCode:
    base: dict[str, Any] = dict(
        device_code_hash=device_code_hash, user_code=user_code, client_id="client-tv",
        client_name="TV", scopes=("xmpp:client:normal",), created_at=T0, expires_at=T0 + 600,
        interval=5,
    )
    base.update(kw)
    return DeviceCode(**base)


def session(session_hash: str = "s1", jid: str = "alice@localhost", **kw: Any) -> LoginSession:
    base: dict[str, Any] = dict(
        session_hash=session_hash, jid=jid, auth_time=T0, created_at=T0, expires_at=T0 + 3600,
        amr=("pwd",),
    )
    base.update(kw)
    return LoginSession(**base)


def key(kid: str = "k1", **kw: Any) -> StoredKey:
    base: dict[str, Any] = dict(
        kid=kid, alg="EdDSA", private_pem=b"-----BEGIN PRIVATE KEY-----\nAA==\n", created_at=T0,
    )
    base.update(kw)
    return StoredKey(**base)


def client(client_id: str = "admin-client", **kw: Any) -> StoredClient:
    base: dict[str, Any] = dict(
        client_id=client_id, client_secret_hash="ab" * 32,
        metadata={"client_name": "Admin app", "redirect_uris": ["https://app.example/cb"]},
        created_at=T0,
    )
    base.update(kw)
    return StoredClient(**base)
