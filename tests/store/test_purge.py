"""Housekeeping boundaries: ``purge_expired`` removes what can no longer be valid, never more.

Validity everywhere is ``now < expires_at``; each kind is checked just before and exactly at its
boundary, on both backends.
"""

from __future__ import annotations

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.store.base import Consent
from xmpp_oauth.store.sql import SqlStore

R = 1000.0  # retention
EPS = 0.001


async def test_expiring_kinds_are_purged_exactly_at_expiry(store: SqlStore) -> None:
    await store.add_authorization_code(f.code("c-unused", expires_at=T0 + 120))
    await store.add_device_code(f.device("d1", "AAAA-AAAA", expires_at=T0 + 120))
    await store.create_session(f.session("s1", expires_at=T0 + 120))
    await store.create_grant(f.grant("g1"))
    await store.add_refresh_token(f.refresh("r1", "g1", expires_at=T0 + 120))
    await store.add_refresh_token(f.refresh("r2", "g1", expires_at=T0 + 500))
    await store.record_login_failure("acct:alice@localhost", now=T0, window=120)

    counts = await store.purge_expired(now=T0 + 120 - EPS, retention=R)
    assert set(counts.values()) == {0}
    assert await store.get_device_code_by_user_code("AAAA-AAAA") is not None
    assert await store.get_session("s1", now=T0) is not None
    assert await store.get_refresh_token("r1") is not None
    assert await store.login_failures("acct:alice@localhost", now=T0, window=120) == 1
    assert await store.redeem_authorization_code("c-unused", grant_id="gx",
                                                 now=T0 + 120 - 2 * EPS) is not None

    await store.add_authorization_code(f.code("c-late", expires_at=T0 + 120))
    counts = await store.purge_expired(now=T0 + 120, retention=R)
    assert counts["authorization_codes"] == 1  # c-late; the used one is kept for replay checks
    assert counts["device_codes"] == 1
    assert counts["sessions"] == 1
    assert counts["refresh_tokens"] == 1
    assert counts["login_failures"] == 1
    assert await store.get_refresh_token("r1") is None
    assert await store.get_refresh_token("r2") is not None
    assert await store.get_device_code_by_user_code("AAAA-AAAA") is None


async def test_used_codes_stay_for_replay_detection(store: SqlStore) -> None:
    await store.add_authorization_code(f.code("c1", expires_at=T0 + 120))
    assert await store.redeem_authorization_code("c1", grant_id="g1", now=T0 + 1) is not None
    await store.add_refresh_token(f.refresh("r1", "g1", expires_at=T0 + 10 * R))
    counts = await store.purge_expired(now=T0 + 120 + R - EPS, retention=R)
    assert counts["authorization_codes"] == 0
    # A late replay still finds the code and revokes what it issued.
    assert await store.redeem_authorization_code("c1", grant_id="g2", now=T0 + 200) is None
    assert (await store.get_grant("g1")).revoke_reason == "code_replay"  # type: ignore[union-attr]
    counts = await store.purge_expired(now=T0 + 120 + R, retention=R)
    assert counts["authorization_codes"] == 1


async def test_consumed_refresh_tokens_stay_until_expiry(store: SqlStore) -> None:
    await store.create_grant(f.grant("g1"))
    await store.add_refresh_token(f.refresh("r1", expires_at=T0 + 300))
    await store.rotate_refresh_token("r1", f.refresh("r2", expires_at=T0 + 900), now=T0 + 10)
    await store.purge_expired(now=T0 + 300 - EPS, retention=R)
    # Still there, so presenting it again is recognised as reuse.
    assert await store.rotate_refresh_token("r1", f.refresh("r3"), now=T0 + 20) is None
    assert (await store.get_grant("g1")).revoke_reason == "refresh_reuse"  # type: ignore[union-attr]


async def test_revoked_grants_are_remembered_for_the_retention(store: SqlStore) -> None:
    await store.create_grant(f.grant("g1"))
    await store.add_refresh_token(f.refresh("r1", "g1", expires_at=T0 + 10 * R))
    await store.revoke_grant("g1", reason="user", now=T0 + 10)
    counts = await store.purge_expired(now=T0 + 10 + R - EPS, retention=R)
    assert counts["grants"] == 0 and counts["revocations"] == 0
    assert (await store.revoked_grants_since(0))[0] == ["g1"]
    counts = await store.purge_expired(now=T0 + 10 + R, retention=R)
    assert counts["grants"] == 1 and counts["revocations"] == 1
    assert await store.get_grant("g1") is None
    assert (await store.revoked_grants_since(0))[0] == []


async def test_dead_families_go_live_ones_stay(store: SqlStore) -> None:
    # Never refreshable, unused for the retention: no token of it can still be valid.
    await store.create_grant(f.grant("dead", last_used_at=T0))
    # Equally old but holding a live refresh token: the app can still come back.
    await store.create_grant(f.grant("live", last_used_at=T0))
    await store.add_refresh_token(f.refresh("r-live", "live", expires_at=T0 + 5 * R))
    # Refresh token expired: dead once its last use is older than the retention.
    await store.create_grant(f.grant("lapsed", last_used_at=T0))
    await store.add_refresh_token(f.refresh("r-lapsed", "lapsed", expires_at=T0 + 50))
    counts = await store.purge_expired(now=T0 + R - EPS, retention=R)
    assert counts["grants"] == 0
    counts = await store.purge_expired(now=T0 + R, retention=R)
    assert counts["grants"] == 2
    assert await store.get_grant("dead") is None and await store.get_grant("lapsed") is None
    assert await store.get_grant("live") is not None


async def test_permanent_records_are_never_purged(store: SqlStore) -> None:
    await store.create_account(f.account())
    await store.add_signing_key(f.key("k1", retired_at=T0))
    await store.add_client(f.client("c1"))
    await store.revoke_client("bad-client", now=T0)
    await store.remember_consent(Consent("alice@localhost", "client-a", ("openid",), T0))
    await store.purge_expired(now=T0 + 1e9, retention=R)
    assert await store.get_account("alice@localhost") is not None
    assert [k.kid for k in await store.list_signing_keys()] == ["k1"]
    assert await store.get_client("c1") is not None
    assert await store.is_client_revoked("bad-client")
    assert await store.get_consent("alice@localhost", "client-a") is not None
