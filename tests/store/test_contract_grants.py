"""Store contract, part 1: accounts, grants, revocation, refresh tokens (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store.base import Consent
from xmpp_oauth.store.sql import SqlStore

# -- accounts -------------------------------------------------------------------------------


async def test_account_round_trip(store: SqlStore) -> None:
    acct = f.account()
    await store.create_account(acct)
    assert await store.get_account("alice@localhost") == acct
    assert await store.get_account("bob@localhost") is None
    await store.create_account(f.account("bob@localhost", disabled=True))
    assert [a.jid for a in await store.list_accounts()] == ["alice@localhost", "bob@localhost"]
    assert (await store.get_account("bob@localhost")).disabled is True  # type: ignore[union-attr]


async def test_duplicate_account_is_a_store_error_naming_the_store(store: SqlStore) -> None:
    await store.create_account(f.account())
    with pytest.raises(StoreError) as err:
        await store.create_account(f.account(password_hash="other"))
    assert str(err.value).startswith(store.label)
    assert "alice@localhost" in str(err.value)
    assert (await store.get_account("alice@localhost")).password_hash == "$argon2id$fake"  # type: ignore[union-attr]


async def _alice_with_grants_and_sessions(store: SqlStore) -> None:
    await store.create_account(f.account())
    await store.create_grant(f.grant("g1"))
    await store.create_grant(f.grant("g2", client_id="client-b"))
    await store.create_grant(f.grant("g-bob", jid="bob@localhost"))
    await store.add_refresh_token(f.refresh("r1", "g1"))
    await store.create_session(f.session("s1"))
    await store.create_session(f.session("s-bob", jid="bob@localhost"))


async def test_password_change_revokes_grants_and_sessions(store: SqlStore) -> None:
    await _alice_with_grants_and_sessions(store)
    await store.update_account_credentials(
        "alice@localhost", password_hash="new", scram_sha1="n1", scram_sha256="n256", now=T0 + 10
    )
    acct = await store.get_account("alice@localhost")
    assert acct is not None
    assert (acct.password_hash, acct.scram_sha1, acct.scram_sha256) == ("new", "n1", "n256")
    assert acct.password_changed_at == T0 + 10
    for gid in ("g1", "g2"):
        g = await store.get_grant(gid)
        assert g is not None and g.revoked_at == T0 + 10
        assert g.revoke_reason == "password_changed"
    assert (await store.get_grant("g-bob")).revoked_at is None  # type: ignore[union-attr]
    assert await store.get_refresh_token("r1") is None
    assert await store.get_session("s1", now=T0) is None
    assert await store.get_session("s-bob", now=T0) is not None
    ids, _ = await store.revoked_grants_since(0)
    assert sorted(ids) == ["g1", "g2"]


async def test_credentials_of_unknown_account(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="no account"):
        await store.update_account_credentials(
            "ghost@localhost", password_hash="x", scram_sha1="x", scram_sha256="x", now=T0
        )


async def test_disable_revokes_enable_does_not_restore(store: SqlStore) -> None:
    await _alice_with_grants_and_sessions(store)
    await store.set_account_disabled("alice@localhost", True, now=T0 + 1)
    assert (await store.get_account("alice@localhost")).disabled  # type: ignore[union-attr]
    assert (await store.get_grant("g1")).revoke_reason == "account_disabled"  # type: ignore[union-attr]
    assert await store.get_session("s1", now=T0) is None
    await store.set_account_disabled("alice@localhost", False, now=T0 + 2)
    assert not (await store.get_account("alice@localhost")).disabled  # type: ignore[union-attr]
    assert (await store.get_grant("g1")).revoked_at == T0 + 1  # type: ignore[union-attr]
    with pytest.raises(StoreError):
        await store.set_account_disabled("ghost@localhost", True, now=T0)


async def test_delete_account(store: SqlStore) -> None:
    await _alice_with_grants_and_sessions(store)
    await store.remember_consent(Consent("alice@localhost", "client-a", ("openid",), T0))
    await store.delete_account("alice@localhost", now=T0 + 3)
    assert await store.get_account("alice@localhost") is None
    assert (await store.get_grant("g2")).revoke_reason == "account_deleted"  # type: ignore[union-attr]
    assert await store.get_consent("alice@localhost", "client-a") is None
    assert await store.get_session("s1", now=T0) is None


# -- grants ---------------------------------------------------------------------------------


async def test_grant_round_trip_and_listing(store: SqlStore) -> None:
    for i in range(5):
        await store.create_grant(f.grant(f"g{i}", created_at=T0 + i, last_used_at=T0 + i))
    await store.create_grant(f.grant("other", jid="bob@localhost"))
    g = await store.get_grant("g3")
    assert g == f.grant("g3", created_at=T0 + 3, last_used_at=T0 + 3)
    assert await store.get_grant("nope") is None
    listed = await store.list_grants("alice@localhost")
    assert [x.grant_id for x in listed] == ["g4", "g3", "g2", "g1", "g0"]
    page = await store.list_grants("alice@localhost", limit=2)
    assert [x.grant_id for x in page] == ["g4", "g3"]
    await store.revoke_grant("g4", reason="user", now=T0 + 9)
    assert [x.grant_id for x in await store.list_grants("alice@localhost", limit=2)] == ["g3", "g2"]
    everything = await store.list_grants("alice@localhost", include_revoked=True)
    assert [x.grant_id for x in everything] == ["g4", "g3", "g2", "g1", "g0"]
    assert await store.list_grants("carol@localhost") == []


async def test_touch_grant_only_moves_forward(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.touch_grant("g1", now=T0 + 50)
    await store.touch_grant("g1", now=T0 + 20)
    assert (await store.get_grant("g1")).last_used_at == T0 + 50  # type: ignore[union-attr]
    await store.touch_grant("unknown", now=T0)


async def test_revoke_grant_once(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.add_refresh_token(f.refresh())
    assert await store.revoke_grant("g1", reason="user", now=T0 + 1) is True
    assert await store.revoke_grant("g1", reason="again", now=T0 + 2) is False
    assert await store.revoke_grant("unknown", reason="user", now=T0) is False
    g = await store.get_grant("g1")
    assert g is not None and (g.revoked_at, g.revoke_reason) == (T0 + 1, "user")
    assert await store.get_refresh_token("r1") is None


async def test_revoke_grants_of_user_and_client(store: SqlStore) -> None:
    await store.create_grant(f.grant("a1"))
    await store.create_grant(f.grant("a2", client_id="client-b"))
    await store.create_grant(f.grant("a3", client_id="client-b"))
    await store.create_grant(f.grant("b1", jid="bob@localhost", client_id="client-b"))
    ids = await store.revoke_grants("alice@localhost", client_id="client-b", reason="u", now=T0)
    assert sorted(ids) == ["a2", "a3"]
    assert await store.revoke_grants("alice@localhost", reason="u", now=T0) == ["a1"]
    assert await store.revoke_grants("alice@localhost", reason="u", now=T0) == []
    assert (await store.get_grant("b1")).revoked_at is None  # type: ignore[union-attr]


async def test_revoked_grants_since_cursor(store: SqlStore) -> None:
    assert await store.revoked_grants_since(0) == ([], 0)
    for gid in ("g1", "g2", "g3"):
        await store.create_grant(f.grant(gid))
    await store.revoke_grant("g1", reason="x", now=T0)
    ids, cursor = await store.revoked_grants_since(0)
    assert ids == ["g1"] and cursor > 0
    assert await store.revoked_grants_since(cursor) == ([], cursor)
    await store.revoke_grants("alice@localhost", reason="x", now=T0)
    ids2, cursor2 = await store.revoked_grants_since(cursor)
    assert sorted(ids2) == ["g2", "g3"] and cursor2 > cursor
    all_ids, _ = await store.revoked_grants_since(0)
    assert sorted(all_ids) == ["g1", "g2", "g3"]


# -- refresh tokens -------------------------------------------------------------------------


async def test_refresh_round_trip_and_rotation(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.add_refresh_token(f.refresh("r1"))
    assert await store.get_refresh_token("r1") == f.refresh("r1")
    consumed = await store.rotate_refresh_token("r1", f.refresh("r2", created_at=T0 + 60),
                                                now=T0 + 60)
    assert consumed == f.refresh("r1", consumed_at=T0 + 60)
    assert await store.get_refresh_token("r2") == f.refresh("r2", created_at=T0 + 60)
    assert (await store.get_grant("g1")).last_used_at == T0 + 60  # type: ignore[union-attr]
    assert await store.rotate_refresh_token("r2", f.refresh("r3"), now=T0 + 61) is not None


async def test_rotation_reuse_revokes_the_grant(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.add_refresh_token(f.refresh("r1"))
    assert await store.rotate_refresh_token("r1", f.refresh("r2"), now=T0 + 1) is not None
    # RFC 9700 §4.14.2: the old token came back -> the whole family dies.
    assert await store.rotate_refresh_token("r1", f.refresh("r3"), now=T0 + 2) is None
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "refresh_reuse" and g.revoked_at == T0 + 2
    assert await store.get_refresh_token("r2") is None
    assert await store.get_refresh_token("r3") is None
    assert (await store.revoked_grants_since(0))[0] == ["g1"]
    # The legitimate holder's newer token is dead too.
    assert await store.rotate_refresh_token("r2", f.refresh("r4"), now=T0 + 3) is None


async def test_rotation_refusals_without_side_effects(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.add_refresh_token(f.refresh("r1", expires_at=T0 + 100))
    assert await store.rotate_refresh_token("unknown", f.refresh("x1"), now=T0) is None
    # Valid while now < expires_at: at the boundary it is expired.
    assert await store.rotate_refresh_token("r1", f.refresh("x2"), now=T0 + 100) is None
    assert (await store.get_refresh_token("r1")).consumed_at is None  # type: ignore[union-attr]
    assert (await store.get_grant("g1")).revoked_at is None  # type: ignore[union-attr]
    assert await store.get_refresh_token("x2") is None
    assert await store.rotate_refresh_token("r1", f.refresh("x3"), now=T0 + 99.5) is not None


async def test_rotation_on_revoked_grant(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.create_grant(f.grant("g2"))
    await store.add_refresh_token(f.refresh("r1"))
    await store.revoke_grant("g1", reason="user", now=T0)
    assert await store.rotate_refresh_token("r1", f.refresh("r2"), now=T0 + 1) is None
    assert await store.get_refresh_token("r2") is None


async def test_rotation_into_another_grant_is_refused_atomically(store: SqlStore) -> None:
    await store.create_grant(f.grant())
    await store.add_refresh_token(f.refresh("r1"))
    with pytest.raises(ValueError):
        await store.rotate_refresh_token("r1", f.refresh("r2", grant_id="g-other"), now=T0 + 1)
    assert (await store.get_refresh_token("r1")).consumed_at is None  # type: ignore[union-attr]
    assert await store.get_refresh_token("r2") is None


async def test_duplicate_refresh_hash_is_a_store_error(store: SqlStore) -> None:
    await store.add_refresh_token(f.refresh("r1"))
    with pytest.raises(StoreError) as err:
        await store.add_refresh_token(f.refresh("r1"))
    assert str(err.value).startswith(store.label)
