"""A real runtime (SQLite store, keys, validator) and a started SASL service for the tests here."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.runtime import Runtime, open_runtime
from xmpp_oauth.saslservice.server import SaslService, build_sasl_service
from xmpp_oauth.settings import SaslListener, Settings
from xmpp_oauth.store.base import Grant
from xmpp_oauth.tokens.secrets import new_secret

from .dovecot_client import DovecotClient

DOMAINS = ("localhost", "second.localhost")
PASSWORDS = {"alice@localhost": "alice-pw: ü", "carol@second.localhost": "carol-pw"}


async def issue_token(runtime: Runtime, jid: str, *, scopes: Sequence[str] = ("xmpp",),
                      ttl: int = 3600, now: float | None = None,
                      audience: Sequence[str] | None = None) -> tuple[str, str]:
    """A real grant in the store and an access token for it: (token, grant_id)."""
    now = runtime.clock.now() if now is None else now
    grant = Grant(grant_id=new_secret(16), jid=jid, client_id="test-client",
                  client_name="Test", scopes=tuple(scopes), created_at=now, last_used_at=now,
                  auth_time=now)
    await runtime.store.create_grant(grant)
    domain = jid.rpartition("@")[2]
    issued = runtime.tokens.issue_access_token(
        subject=jid, client_id="test-client", scopes=scopes, grant_id=grant.grant_id,
        audience=list(audience or [f"xmpp:{domain}"]), auth_time=now, ttl=ttl, now=now,
    )
    return issued.token, grant.grant_id


@dataclass
class Service:
    runtime: Runtime
    service: SaslService
    sockets: dict[str, str]  # domain -> UNIX socket path
    ports: dict[str, int]  # domain -> TCP port

    async def client(self, domain: str = "localhost", *, tcp: bool = False) -> DovecotClient:
        if tcp:
            return await DovecotClient.connect(port=self.ports[domain])
        return await DovecotClient.connect(path=self.sockets[domain])


@pytest.fixture
async def runtime(settings_factory: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    settings = settings_factory(domains=list(DOMAINS), sasl__max_failures_per_minute=5)
    async with open_runtime(settings, background=False) as rt:
        accounts = LocalAccounts(rt.store, clock=rt.clock, domains=DOMAINS)
        for jid, password in PASSWORDS.items():
            await accounts.create(jid, password)
        yield rt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def service(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Service]:
    listeners = []
    for i, domain in enumerate(DOMAINS):
        listeners.append(SaslListener(domain=domain, socket=str(tmp_path / f"s{i}.sock")))
        listeners.append(SaslListener(domain=domain, host="127.0.0.1", port=free_port()))
    svc = build_sasl_service(runtime, listeners=listeners)
    await svc.start()
    sockets = {b.domain: b.socket for b in svc.bound if b.socket}
    ports = {b.domain: b.port for b in svc.bound if b.port}
    try:
        yield Service(runtime, svc, sockets, ports)
    finally:
        await svc.close()
