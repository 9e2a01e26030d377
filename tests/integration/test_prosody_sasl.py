"""Prosody 0.12 + mod_auth_dovecot -> ``xmpp-oauth sasl`` -> real slixmpp clients.

One private Prosody with two VirtualHosts, each pointed at its own listener of one
``xmpp-oauth sasl`` process (``localhost`` over a UNIX socket, ``second.localhost`` over
loopback TCP), STARTTLS with a throw-away certificate.  Tokens are minted in this (test)
process on the shared SQLite store, which is also "another process" for revocations.
"""

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
    LoginResult,
    ProsodyHost,
    ProsodyServer,
    TlsFiles,
    XmppOAuthProcess,
    free_port,
    prosody_available,
    xmpp_login,
)

pytestmark = pytest.mark.integration

PASSWORDS = {"alice@localhost": "alice: correct horse", "bob@localhost": "bob-pw",
             "carol@second.localhost": "carol-pw"}


@dataclass
class Stack:
    config: Path
    settings: Settings
    service: XmppOAuthProcess
    prosody: ProsodyServer

    async def login(self, jid: str, mechanism: str = "OAUTHBEARER", **kw: object) -> LoginResult:
        return await xmpp_login(jid, port=self.prosody.c2s_port, mechanism=mechanism,
                                ca_file=self.prosody.ca_file, **kw)  # type: ignore[arg-type]


def write_config(base: Path, socket_path: Path, tcp_port: int) -> Path:
    config = base / "xmpp-oauth.toml"
    config.write_text(f"""
domains = ["localhost", "second.localhost"]
data_dir = "{base / 'data'}"
log_level = "DEBUG"

[sasl]
max_failures_per_minute = 5

[[sasl.listeners]]
domain = "localhost"
socket = "{socket_path}"

[[sasl.listeners]]
domain = "second.localhost"
host = "127.0.0.1"
port = {tcp_port}
""")
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Stack]:
    require(prosody_available(), "Prosody not installed (apt-get install prosody "
                                 "prosody-modules lua-sec lua-socket)")
    base = tmp_path_factory.mktemp("prosody-sasl")
    socket_path, tcp_port = base / "sasl-localhost.sock", free_port()
    config = write_config(base, socket_path, tcp_port)
    settings = Settings.from_toml(config, env={})

    async def prepare() -> None:  # keys and accounts exist before the service starts
        async with open_runtime(settings, background=False) as rt:
            accounts = LocalAccounts(rt.store, clock=rt.clock, domains=settings.domains)
            for jid, password in PASSWORDS.items():
                await accounts.create(jid, password)

    asyncio.run(prepare())
    service = XmppOAuthProcess(config, ["sasl"], sockets=[str(socket_path)], ports=[tcp_port])
    service.start()
    prosody = ProsodyServer(
        base / "prosody",
        hosts=[ProsodyHost("localhost", auth="dovecot", dovecot_socket=str(socket_path)),
               ProsodyHost("second.localhost", auth="dovecot", dovecot_port=tcp_port)],
        tls=tls_files,
    )
    try:
        prosody.start()
        yield Stack(config, settings, service, prosody)
    finally:
        prosody.stop()
        service.stop()


@pytest.fixture
async def runtime(stack: Stack) -> AsyncIterator[Runtime]:
    async with open_runtime(stack.settings, background=False) as rt:
        yield rt


async def mint(rt: Runtime, jid: str, *, scopes: tuple[str, ...] = ("xmpp:client:normal",),
               ttl: int = 3600, now: float | None = None, audience: str | None = None,
               client_id: str = "test-client") -> str:
    now = time.time() if now is None else now
    grant = Grant(grant_id=new_secret(16), jid=jid, client_id=client_id, client_name="Test",
                  scopes=scopes, created_at=now, last_used_at=now, auth_time=now)
    await rt.store.create_grant(grant)
    domain = jid.rpartition("@")[2]
    return rt.tokens.issue_access_token(
        subject=jid, client_id=client_id, scopes=scopes, grant_id=grant.grant_id,
        audience=[audience or f"xmpp:{domain}"], auth_time=now, ttl=ttl, now=now,
    ).token


def assert_refused(result: LoginResult, condition: str = "not-authorized") -> None:
    assert not result.success, result
    assert result.condition == condition, result


async def test_valid_token_binds_the_session_to_its_owner(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@localhost")
    result = await stack.login("alice@localhost", access_token=token)
    assert result.success, result
    assert result.bare_jid == "alice@localhost"
    result = await stack.login("alice@localhost", access_token=token, authzid="alice@localhost")
    assert result.success and result.bare_jid == "alice@localhost", result


async def test_token_of_alice_cannot_become_bob(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@localhost")
    assert_refused(await stack.login("bob@localhost", access_token=token,
                                     authzid="bob@localhost"), "invalid-authzid")
    # Without an authzid, connecting "as bob" still yields alice (the subject), never bob.
    result = await stack.login("bob@localhost", access_token=token)
    assert result.success and result.bare_jid == "alice@localhost", result


async def test_empty_token_returns_the_discovery_document_url(stack: Stack) -> None:
    result = await stack.login("alice@localhost", access_token="")
    assert_refused(result)
    assert len(result.challenges) == 1
    body = json.loads(result.challenges[0])
    assert body["status"] == "invalid_token"
    assert body["openid-configuration"] == stack.settings.openid_configuration_url


async def test_expired_wrong_audience_and_openid_only_tokens_are_refused(
    stack: Stack, runtime: Runtime
) -> None:
    expired = await mint(runtime, "alice@localhost", ttl=60, now=time.time() - 7200)
    wrong_aud = await mint(runtime, "alice@localhost", audience="xmpp:elsewhere.example")
    openid_only = await mint(runtime, "alice@localhost", scopes=("openid", "profile"))
    for token in (expired, wrong_aud, openid_only):
        result = await stack.login("alice@localhost", access_token=token)
        assert_refused(result)
        assert result.challenges, result  # the RFC 7628 error came first
    body = json.loads((await stack.login("alice@localhost", access_token=openid_only))
                      .challenges[0])
    assert body["status"] == "insufficient_scope"


async def test_token_revoked_in_another_process_is_refused(stack: Stack, runtime: Runtime,
                                                           tmp_path: Path) -> None:
    client_id = f"revoke-me-{new_secret(6)}"
    token = await mint(runtime, "alice@localhost", client_id=client_id)
    assert (await stack.login("alice@localhost", access_token=token)).success
    # Revoked by the admin CLI: a third process, neither this one nor the service.
    subprocess.run([sys.executable, "-m", "xmpp_oauth", "-c", str(stack.config), "client",
                    "revoke", client_id], check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 2.0
    while (result := await stack.login("alice@localhost", access_token=token)).success:
        assert time.monotonic() < deadline, "revocation not effective within 2 s"
    assert_refused(result)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
async def test_local_passwords(stack: Stack, mechanism: str) -> None:
    ok = await stack.login("bob@localhost", mechanism, password=PASSWORDS["bob@localhost"])
    assert ok.success and ok.bare_jid == "bob@localhost", ok
    assert_refused(await stack.login("bob@localhost", mechanism, password="wrong"))
    assert_refused(await stack.login("nobody@localhost", mechanism, password="wrong"))


async def test_second_virtual_host_cannot_log_in_users_of_the_first(
    stack: Stack, runtime: Runtime
) -> None:
    alice = await mint(runtime, "alice@localhost")
    carol = await mint(runtime, "carol@second.localhost")
    assert_refused(await stack.login("alice@second.localhost", access_token=alice))
    assert_refused(await stack.login("carol@localhost", access_token=carol))
    assert_refused(await stack.login("alice@second.localhost", "PLAIN",
                                     password=PASSWORDS["alice@localhost"]))
    ok = await stack.login("carol@second.localhost", access_token=carol)
    assert ok.success and ok.bare_jid == "carol@second.localhost", ok
    ok = await stack.login("carol@second.localhost", "SCRAM-SHA-1",
                           password=PASSWORDS["carol@second.localhost"])
    assert ok.success and ok.bare_jid == "carol@second.localhost", ok


async def test_service_restart_while_prosody_runs(stack: Stack, runtime: Runtime) -> None:
    token = await mint(runtime, "alice@localhost")
    carol = await mint(runtime, "carol@second.localhost")
    assert (await stack.login("alice@localhost", access_token=token)).success
    stack.service.restart()
    # mod_auth_dovecot notices the dead connection only when a login uses it: that first
    # login per host fails (not-authorized, text "closed"), then it reconnects.
    for jid, tok in (("alice@localhost", token), ("carol@second.localhost", carol)):
        results = [await stack.login(jid, access_token=tok) for _ in range(3)]
        assert all(r.success and r.bare_jid == jid for r in results[1:]), results
        assert results[0].success or results[0].condition == "not-authorized", results
    assert (await stack.login("bob@localhost", "PLAIN",
                              password=PASSWORDS["bob@localhost"])).success
