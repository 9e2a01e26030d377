"""StoreServices over the real store: ownership, revocation side effects, account state."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store.factories import code
from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.store import Store, open_store
from xmpp_oauth.store.base import Account, Consent, Grant
from xmpp_oauth_component.notify import GrantNotifier
from xmpp_oauth_component.services import AccountState, StoreServices

from .fakes import T0, grant


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        async with open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as s:
            yield s
        return
    import asyncpg

    from tests.helpers import pg_dsn

    dsn = pg_dsn()
    schema = f"component_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in dsn else "?"
        async with open_store(f"{dsn}{sep}search_path={schema}") as s:
            yield s
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


@pytest.fixture
def revoked() -> list[str]:
    return []


@pytest.fixture
def services(store: Store, revoked: list[str]) -> StoreServices:
    return StoreServices(store, FrozenClock(T0 + 100), on_revoked=revoked.append)


async def _seed(store: Store) -> None:
    for g in (grant("a1", "alice@localhost", "Conversations"),
              grant("a2", "alice@localhost", "Dino", created=T0 + 1),
              grant("b1", "bob@localhost", "Bot")):
        await store.create_grant(g)


async def test_revoke_touches_only_own_grants(store: Store, services: StoreServices,
                                              revoked: list[str]) -> None:
    await _seed(store)
    done = await services.revoke_grants("alice@localhost", ["a1", "b1", "nope"],
                                        reason="user_xmpp")
    assert done == ["a1"]
    assert revoked == ["a1"]
    b1 = await store.get_grant("b1")
    assert b1 is not None and b1.revoked_at is None
    a1 = await store.get_grant("a1")
    assert a1 is not None and a1.revoked_at == T0 + 100 and a1.revoke_reason == "user_xmpp"
    assert [g.grant_id for g in await services.list_grants("alice@localhost")] == ["a2"]
    # Already revoked: nothing happens twice.
    assert await services.revoke_grants("alice@localhost", ["a1"], reason="x") == []


async def test_revoke_all(store: Store, services: StoreServices, revoked: list[str]) -> None:
    await _seed(store)
    assert sorted(await services.revoke_all("alice@localhost", reason="user_xmpp")) == ["a1", "a2"]
    assert sorted(revoked) == ["a1", "a2"]
    assert await services.list_grants("alice@localhost") == []
    assert len(await services.list_grants("bob@localhost")) == 1


async def _consent_to_all(store: Store) -> None:
    for jid, client_id in (("alice@localhost", "client-a1"), ("alice@localhost", "client-a2"),
                           ("alice@localhost", "client-other"), ("bob@localhost", "client-b1")):
        await store.remember_consent(Consent(jid, client_id, ("xmpp:client:normal",), T0))


async def _consented(store: Store) -> set[tuple[str, str]]:
    pairs = (("alice@localhost", "client-a1"), ("alice@localhost", "client-a2"),
             ("alice@localhost", "client-other"), ("bob@localhost", "client-b1"))
    return {p for p in pairs if await store.get_consent(*p) is not None}


@pytest.mark.parametrize("reason", ["user_xmpp", "admin_xmpp"])
async def test_revoke_forgets_consent_of_revoked_clients(store: Store, services: StoreServices,
                                                         reason: str) -> None:
    """Else prompt=none would silently re-grant the app just revoked (as the web page does)."""
    await _seed(store)
    await _consent_to_all(store)
    await services.revoke_grants("alice@localhost", ["a1", "b1"], reason=reason)
    assert await _consented(store) == {("alice@localhost", "client-a2"),
                                       ("alice@localhost", "client-other"),
                                       ("bob@localhost", "client-b1")}
    await services.revoke_grants("alice@localhost", ["a2"], reason=reason)
    assert await _consented(store) == {("alice@localhost", "client-other"),
                                       ("bob@localhost", "client-b1")}


async def test_revoke_all_forgets_every_consent(store: Store, services: StoreServices) -> None:
    await _seed(store)
    await _consent_to_all(store)
    await services.revoke_all("alice@localhost", reason="user_xmpp")
    assert await _consented(store) == {("bob@localhost", "client-b1")}


async def test_account_disable_forgets_consent(store: Store, services: StoreServices) -> None:
    await _seed(store)
    await _consent_to_all(store)
    await store.create_account(Account("alice@localhost", "h", "s1", "s256", False, T0, T0))
    await services.set_account_disabled("alice@localhost", True)
    assert await _consented(store) == {("bob@localhost", "client-b1")}


async def test_account_disable_revokes(store: Store, services: StoreServices,
                                       revoked: list[str]) -> None:
    await _seed(store)
    assert await services.account("alice@localhost") is None
    await store.create_account(Account("alice@localhost", "h", "s1", "s256", False, T0, T0))
    assert await services.account("alice@localhost") == AccountState("alice@localhost", False)
    await services.set_account_disabled("alice@localhost", True)
    assert await services.account("alice@localhost") == AccountState("alice@localhost", True)
    assert await services.list_grants("alice@localhost") == []
    assert sorted(revoked) == ["a1", "a2"]
    await services.set_account_disabled("alice@localhost", False)
    assert await services.account("alice@localhost") == AccountState("alice@localhost", False)


async def test_grants_created_since(store: Store, services: StoreServices) -> None:
    await store.create_grant(grant("old", "alice@localhost", "Old"))
    grants, cursor = await services.grants_created_since(None)
    assert grants == []
    await _seed(store)
    grants, cursor2 = await services.grants_created_since(cursor)
    assert [g.grant_id for g in grants] == ["a1", "a2", "b1"]
    assert await services.grants_created_since(cursor2) == ([], cursor2)


async def test_notifier_over_the_store(store: Store, services: StoreServices,
                                       tmp_path: Path) -> None:
    """The notifier on the real store: grants from a code redemption are announced once,
    foreign and already revoked ones not at all, and a restart repeats nothing."""
    cursor_file = tmp_path / "cursor"
    sent: list[Grant] = []
    first = GrantNotifier(services, sent.append, domains=["localhost"], cursor_file=cursor_file)
    await store.create_grant(grant("old", "alice@localhost", "Old"))
    assert await first.poll_once() == 0  # a first start begins at "now"
    await store.add_authorization_code(code("c1", jid="alice@localhost", client_name="Dino"))
    assert await store.redeem_authorization_code("c1", grant_id="g-code", now=T0 + 10)
    await store.create_grant(grant("x", "mallory@evil.example", "X"))
    await store.create_grant(grant("gone", "alice@localhost", "Gone"))
    await store.revoke_grant("gone", reason="user", now=T0 + 11)
    while await first.poll_once():
        pass
    assert [(g.grant_id, g.client_name) for g in sent] == [("g-code", "Dino")]
    await store.create_grant(grant("b1", "bob@localhost", "Bot"))
    second = GrantNotifier(services, sent.append, domains=["localhost"], cursor_file=cursor_file)
    while await second.poll_once():
        pass
    assert [g.grant_id for g in sent] == ["g-code", "b1"]
