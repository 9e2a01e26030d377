"""ejabberd 23.01 with our tokens: ``auth_method: jwt`` (exported key, token as the PLAIN
password) and ``auth_method: external`` with ``xmpp-oauth extauth`` (token or local password)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import require
from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.runtime import Runtime, open_runtime
from xmpp_oauth.settings import Settings
from xmpp_oauth.store.base import Grant
from xmpp_oauth.tokens.secrets import new_secret

from .servers import (
    EjabberdHost,
    EjabberdServer,
    LoginResult,
    TlsFiles,
    ejabberd_available,
    xmpp_login,
)

pytestmark = pytest.mark.integration

ALICE_PW = "alice: ext password"


@dataclass
class Stack:
    config: Path
    settings: Settings
    ejabberd: EjabberdServer
    jwk: dict[str, str]

    async def login(self, jid: str, password: str) -> LoginResult:
        # Both methods take the secret as a PLAIN password (TLS required).
        return await xmpp_login(jid, port=self.ejabberd.c2s_port, mechanism="PLAIN",
                                password=password, ca_file=self.ejabberd.ca_file)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Stack]:
    require(ejabberd_available(), "ejabberd not installed (apt-get install ejabberd "
                                  "erlang-p1-oauth2)")
    base = tmp_path_factory.mktemp("ejabberd-auth")
    config = base / "xmpp-oauth.toml"
    config.write_text(f'domains = ["jwt.localhost", "ext.localhost"]\n'
                      f'data_dir = "{base / "data"}"\nlog_level = "DEBUG"\n')
    settings = Settings.from_toml(config, env={})

    async def prepare() -> None:
        async with open_runtime(settings, background=False) as rt:
            await LocalAccounts(rt.store, clock=rt.clock, domains=settings.domains).create(
                "alice@ext.localhost", ALICE_PW)

    asyncio.run(prepare())
    key_file = base / "ejabberd-jwt.jwk"
    subprocess.run([sys.executable, "-m", "xmpp_oauth", "-c", str(config), "keys", "export",
                    "--format", "jwk", "--for", "ejabberd", "-o", str(key_file)],
                   check=True, capture_output=True, timeout=60)
    extauth = f"{sys.executable} -m xmpp_oauth -c {config} extauth"
    server = EjabberdServer(
        base / "ejabberd",
        hosts=[EjabberdHost("jwt.localhost", auth="jwt", jwt_key=str(key_file)),
               EjabberdHost("ext.localhost", auth="external", extauth_program=extauth)],
        tls=tls_files,
    )
    try:
        server.start()
        yield Stack(config, settings, server, json.loads(key_file.read_text()))
    finally:
        server.stop()


@pytest.fixture
async def runtime(stack: Stack) -> AsyncIterator[Runtime]:
    async with open_runtime(stack.settings, background=False) as rt:
        yield rt


async def mint(rt: Runtime, jid: str, *, ttl: int = 3600, now: float | None = None,
               scopes: tuple[str, ...] = ("xmpp:client:normal",)) -> str:
    now = time.time() if now is None else now
    grant = Grant(grant_id=new_secret(16), jid=jid, client_id="test", client_name="Test",
                  scopes=scopes, created_at=now, last_used_at=now, auth_time=now)
    await rt.store.create_grant(grant)
    return rt.tokens.issue_access_token(
        subject=jid, client_id="test", scopes=scopes, grant_id=grant.grant_id,
        audience=[f"xmpp:{jid.rpartition('@')[2]}"], auth_time=now, ttl=ttl, now=now,
    ).token


def refused(result: LoginResult) -> bool:
    return not result.success and result.condition == "not-authorized"


def test_exported_key_is_one_public_jwk(stack: Stack) -> None:
    assert "keys" not in stack.jwk and "d" not in stack.jwk
    assert stack.jwk["kty"] == "OKP" and stack.jwk["crv"] == "Ed25519"


async def test_jwt_token_as_plain_password(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@jwt.localhost")
    ok = await stack.login("alice@jwt.localhost", token)
    assert ok.success and ok.bare_jid == "alice@jwt.localhost", ok
    # ejabberd compares the jid claim with the login user: alice's token is not bob's.
    assert refused(await stack.login("bob@jwt.localhost", token))
    expired = await mint(runtime, "alice@jwt.localhost", ttl=60, now=time.time() - 7200)
    assert refused(await stack.login("alice@jwt.localhost", expired))
    assert refused(await stack.login("alice@jwt.localhost", token[:-4] + "AAAA"))
    # ejabberd ignores the scope: a token without a login scope must carry no jid claim.
    openid_only = await mint(runtime, "alice@jwt.localhost", scopes=("openid",))
    assert refused(await stack.login("alice@jwt.localhost", openid_only))


async def test_extauth_with_token(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@ext.localhost")
    ok = await stack.login("alice@ext.localhost", token)
    assert ok.success and ok.bare_jid == "alice@ext.localhost", ok
    assert refused(await stack.login("bob@ext.localhost", token))
    jwt_domain_token = await mint(runtime, "alice@jwt.localhost")
    assert refused(await stack.login("alice@ext.localhost", jwt_domain_token))
    openid_only = await mint(runtime, "alice@ext.localhost", scopes=("openid",))
    assert refused(await stack.login("alice@ext.localhost", openid_only))


async def test_extauth_with_local_password(stack: Stack) -> None:
    ok = await stack.login("alice@ext.localhost", ALICE_PW)
    assert ok.success and ok.bare_jid == "alice@ext.localhost", ok
    assert refused(await stack.login("alice@ext.localhost", ALICE_PW + "x"))
    assert refused(await stack.login("bob@ext.localhost", ALICE_PW))


async def test_extauth_sees_revocations(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@ext.localhost")
    assert (await stack.login("alice@ext.localhost", token)).success
    grant_ids = [g.grant_id for g in await runtime.store.list_grants("alice@ext.localhost")]
    for gid in grant_ids:
        await runtime.store.revoke_grant(gid, reason="test", now=time.time())
    deadline = time.monotonic() + 2.0
    while (result := await stack.login("alice@ext.localhost", token)).success:
        assert time.monotonic() < deadline, "revocation not effective within 2 s"
    assert refused(result)
