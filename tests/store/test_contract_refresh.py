"""Store contract: ``use_refresh_token``, the refresh_token grant's one-transaction store side.

Every outcome of the decision table (``store/refresh.py``), on both backends: what it returns,
what it changed and what it left alone; concurrent uses of one token in one process (exactly
one rotation; SQLite commits them in one group); a failing use in a group leaves the others'.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store.base import RefreshRotation, RefreshUse
from xmpp_oauth.store.sql import SqlStore

SCOPES = ("xmpp:client:normal", "offline_access")


async def _use(store: SqlStore, token: str, new: str, *, client_id: str = "client-a",
               now: float = T0 + 10, within: frozenset[str] | None = None) -> RefreshRotation:
    return await store.use_refresh_token(token, client_id=client_id, new_hash=new,
                                         expires_at=now + 3600, scopes_within=within, now=now)


async def _seed(store: SqlStore, *tokens: str, **kw: float) -> None:
    await store.create_grant(f.grant())
    for token in tokens:
        await store.add_refresh_token(f.refresh(token, **kw))


async def test_use_rotates_and_returns_token_and_grant(store: SqlStore) -> None:
    await _seed(store, "r1")
    used = await _use(store, "r1", "r2", now=T0 + 60)
    assert used.outcome is RefreshUse.ROTATED
    assert used.token == f.refresh("r1", consumed_at=T0 + 60)
    assert used.grant == f.grant(last_used_at=T0 + 60)
    # RFC 6749 §6: the successor keeps the grant, the client and the original scopes.
    assert await store.get_refresh_token("r2") == f.refresh(
        "r2", created_at=T0 + 60, expires_at=T0 + 60 + 3600)
    assert (await store.get_refresh_token("r1")).consumed_at == T0 + 60  # type: ignore[union-attr]
    assert (await store.get_grant("g1")).last_used_at == T0 + 60  # type: ignore[union-attr]
    assert (await _use(store, "r2", "r3", now=T0 + 61)).outcome is RefreshUse.ROTATED


async def test_use_unknown(store: SqlStore) -> None:
    await _seed(store, "r1")
    assert await _use(store, "nope", "x") == RefreshRotation(RefreshUse.UNKNOWN)
    assert await store.get_refresh_token("x") is None


async def test_use_by_another_client_revokes(store: SqlStore) -> None:
    await _seed(store, "r1")
    used = await _use(store, "r1", "r2", client_id="client-b")
    assert used.outcome is RefreshUse.WRONG_CLIENT and used.token == f.refresh("r1")
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "refresh_wrong_client"
    assert await store.get_refresh_token("r1") is None
    assert await store.get_refresh_token("r2") is None
    assert (await store.revoked_grants_since(0))[0] == ["g1"]


async def test_use_of_a_consumed_token_revokes(store: SqlStore) -> None:
    await _seed(store, "r1")
    assert (await _use(store, "r1", "r2", now=T0 + 1)).outcome is RefreshUse.ROTATED
    used = await _use(store, "r1", "r3", now=T0 + 2)
    assert used.outcome is RefreshUse.REUSED and used.token is not None
    assert used.token.consumed_at == T0 + 1
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "refresh_reuse" and g.revoked_at == T0 + 2
    # The legitimate holder's newer token died with the grant.
    assert await store.get_refresh_token("r2") is None
    assert (await _use(store, "r2", "r4", now=T0 + 3)).outcome is RefreshUse.UNKNOWN


async def test_use_expired_or_of_a_revoked_grant_changes_nothing(store: SqlStore) -> None:
    await _seed(store, "r1", expires_at=T0 + 100)
    # Valid while now < expires_at: at the boundary it is expired.
    used = await _use(store, "r1", "x", now=T0 + 100)
    assert used == RefreshRotation(RefreshUse.INVALID, f.refresh("r1", expires_at=T0 + 100))
    assert (await store.get_refresh_token("r1")).consumed_at is None  # type: ignore[union-attr]
    assert await store.get_refresh_token("x") is None
    assert (await store.get_grant("g1")).revoked_at is None  # type: ignore[union-attr]
    await store.create_grant(f.grant("g2"))
    await store.add_refresh_token(f.refresh("r2", "g2"))
    await store.revoke_grant("g2", reason="user", now=T0 + 1)
    # Revoking deleted the grant's tokens; a token that survived one (e.g. inserted by a
    # rotation racing the revocation) is refused as well.
    await store.add_refresh_token(f.refresh("r3", "g2"))
    assert (await _use(store, "r3", "y")).outcome is RefreshUse.INVALID
    assert await store.get_refresh_token("y") is None


async def test_use_with_scopes_beyond_the_token_changes_nothing(store: SqlStore) -> None:
    await _seed(store, "r1")
    used = await _use(store, "r1", "x", within=frozenset({"xmpp:client:normal", "openid"}))
    assert used == RefreshRotation(RefreshUse.SCOPE, f.refresh("r1"))
    assert (await store.get_refresh_token("r1")).consumed_at is None  # type: ignore[union-attr]
    assert await store.get_refresh_token("x") is None
    # Narrowing is fine; the successor still carries the original scopes.
    used = await _use(store, "r1", "r2", within=frozenset({"xmpp:client:normal"}))
    assert used.outcome is RefreshUse.ROTATED
    assert (await store.get_refresh_token("r2")).scopes == SCOPES  # type: ignore[union-attr]


async def test_concurrent_uses_of_one_token_rotate_once(store: SqlStore) -> None:
    await _seed(store, "r1")
    outcomes = await asyncio.gather(*(_use(store, "r1", f"n{i}") for i in range(4)))
    kinds = [o.outcome for o in outcomes]
    assert kinds.count(RefreshUse.ROTATED) == 1
    # The first loser finds it consumed (reuse); once the grant is revoked its tokens are
    # gone, so later ones may find nothing at all.
    assert RefreshUse.REUSED in kinds
    assert set(kinds) <= {RefreshUse.ROTATED, RefreshUse.REUSED, RefreshUse.UNKNOWN}
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "refresh_reuse"
    for i in range(4):
        assert await store.get_refresh_token(f"n{i}") is None


async def test_a_failing_use_leaves_concurrent_ones_alone(store: SqlStore) -> None:
    await _seed(store, "r1", "r2", "taken")
    results = await asyncio.gather(
        _use(store, "r1", "n1"), _use(store, "r2", "taken"), return_exceptions=True)
    assert isinstance(results[0], RefreshRotation)
    assert results[0].outcome is RefreshUse.ROTATED
    assert isinstance(results[1], StoreError)
    assert await store.get_refresh_token("n1") is not None
    # The failed use rolled back completely: its token is still usable.
    assert (await store.get_refresh_token("r2")).consumed_at is None  # type: ignore[union-attr]
    assert (await _use(store, "r2", "n2")).outcome is RefreshUse.ROTATED


async def test_use_on_a_closed_store_is_a_store_error(store: SqlStore) -> None:
    await _seed(store, "r1")
    await store.close()
    with pytest.raises(StoreError):
        await _use(store, "r1", "r2")
