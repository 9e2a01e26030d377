"""Local accounts over a real SQLite store (no mocks): verify, SCRAM, disable/change revoke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store import factories as f
from xmpp_oauth.accounts import account_backend
from xmpp_oauth.accounts.local import LocalAccounts, normalize_jid
from xmpp_oauth.accounts.passwords import check_plain_against_scram
from xmpp_oauth.accounts.xmpp import XmppAccounts
from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.errors import AccountDisabledError, InvalidCredentialsError, StoreError
from xmpp_oauth.settings import Settings
from xmpp_oauth.store import connect_store
from xmpp_oauth.store.sql import SqlStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await connect_store(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def accounts(store: SqlStore, clock: FrozenClock) -> LocalAccounts:
    return LocalAccounts(store, clock=clock, domains=("localhost", "example.org"))


def test_normalize_jid() -> None:
    assert normalize_jid(" Alice@localhost ") == "alice@localhost"
    for bad in ("localhost", "alice@localhost/phone", "a b@localhost", "@localhost", ""):
        with pytest.raises(ValueError):
            normalize_jid(bad)
    with pytest.raises(ValueError, match="not a domain served here"):
        normalize_jid("alice@elsewhere.example", ["localhost"])


async def test_create_and_authenticate(accounts: LocalAccounts, clock: FrozenClock) -> None:
    acct = await accounts.create("Alice@localhost", "hunter2 hunter2")
    assert acct.jid == "alice@localhost" and acct.created_at == clock.now()
    assert check_plain_against_scram(acct.scram_sha256, "hunter2 hunter2")
    await accounts.authenticate("alice@localhost", "hunter2 hunter2")
    await accounts.authenticate("ALICE@localhost", "hunter2 hunter2")
    assert await accounts.exists("alice@localhost")
    assert not await accounts.exists("bob@localhost")
    assert not await accounts.exists("not a jid")
    with pytest.raises(StoreError, match="already exists"):
        await accounts.create("alice@localhost", "other")
    with pytest.raises(ValueError):
        await accounts.create("carol@elsewhere.example", "pw")


@pytest.mark.parametrize("jid,password", [
    ("alice@localhost", "hunter3"),
    ("bob@localhost", "hunter2 hunter2"),
    ("not a jid", "hunter2 hunter2"),
    ("alice@localhost", ""),
])
async def test_wrong_credentials_look_the_same(accounts: LocalAccounts, jid: str,
                                               password: str) -> None:
    await accounts.create("alice@localhost", "hunter2 hunter2")
    with pytest.raises(InvalidCredentialsError) as err:
        await accounts.authenticate(jid, password)
    assert str(err.value) == "invalid username or password"


async def test_disable_revokes_and_blocks(accounts: LocalAccounts, store: SqlStore,
                                          clock: FrozenClock) -> None:
    await accounts.create("alice@localhost", "pw-alice")
    await store.create_grant(f.grant("g1"))
    await store.add_refresh_token(f.refresh("r1", "g1"))
    await store.create_session(f.session("s1", expires_at=clock.now() + 3600))
    clock.advance(10)
    await accounts.disable("alice@localhost")
    with pytest.raises(AccountDisabledError):
        await accounts.authenticate("alice@localhost", "pw-alice")
    # Without the password nobody learns the account is disabled.
    with pytest.raises(InvalidCredentialsError):
        await accounts.authenticate("alice@localhost", "guess")
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "account_disabled"
    assert g.revoked_at == clock.now()
    assert await store.get_refresh_token("r1") is None
    assert await store.get_session("s1", now=clock.now()) is None
    await accounts.enable("alice@localhost")
    await accounts.authenticate("alice@localhost", "pw-alice")


async def test_password_change_revokes_everything(accounts: LocalAccounts, store: SqlStore,
                                                  clock: FrozenClock) -> None:
    before = await accounts.create("alice@localhost", "old password")
    await store.create_grant(f.grant("g1"))
    clock.advance(60)
    await accounts.change_password("Alice@localhost", "new password")
    with pytest.raises(InvalidCredentialsError):
        await accounts.authenticate("alice@localhost", "old password")
    await accounts.authenticate("alice@localhost", "new password")
    after = await accounts.get("alice@localhost")
    assert after is not None and after.password_changed_at == clock.now()
    assert after.scram_sha1 != before.scram_sha1 and after.scram_sha256 != before.scram_sha256
    assert check_plain_against_scram(after.scram_sha256, "new password")
    assert (await store.get_grant("g1")).revoke_reason == "password_changed"  # type: ignore[union-attr]
    assert (await store.revoked_grants_since(0))[0] == ["g1"]
    with pytest.raises(StoreError, match="no account"):
        await accounts.change_password("ghost@localhost", "pw")


async def test_delete(accounts: LocalAccounts, store: SqlStore) -> None:
    await accounts.create("alice@localhost", "pw")
    await store.create_grant(f.grant("g1"))
    await accounts.delete("alice@localhost")
    assert not await accounts.exists("alice@localhost")
    assert (await store.get_grant("g1")).revoke_reason == "account_deleted"  # type: ignore[union-attr]
    assert [a.jid for a in await accounts.list_accounts()] == []


async def test_account_backend_choice(store: SqlStore, tmp_path: Path) -> None:
    local = account_backend(Settings.from_mapping({"data_dir": str(tmp_path)}), store)
    assert isinstance(local, LocalAccounts)
    remote = account_backend(Settings.from_mapping(
        {"data_dir": str(tmp_path), "accounts": {"backend": "xmpp"}}), store)
    assert isinstance(remote, XmppAccounts)
    assert await remote.exists("alice@localhost")
    assert not await remote.exists("alice@elsewhere.example")
