"""Store contract, part 2: codes, device codes, consent, sessions, keys, clients, throttling."""

from __future__ import annotations

import pytest

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store.base import Consent, DeviceStatus
from xmpp_oauth.store.sql import SqlStore

# -- authorization codes (RFC 6749 §4.1.2) --------------------------------------------------


async def test_code_redeem_creates_the_grant(store: SqlStore) -> None:
    await store.add_authorization_code(f.code())
    used = await store.redeem_authorization_code("c1", grant_id="g-new", now=T0 + 10)
    assert used == f.code(used_at=T0 + 10, grant_id="g-new")
    assert used is not None and used.extra == {"resource": ["xmpp:localhost"], "amr": ["pwd"]}
    g = await store.get_grant("g-new")
    assert g is not None
    assert (g.jid, g.client_id, g.client_name, g.scopes) == (
        "alice@localhost", "client-a", "App A", ("openid", "xmpp:client:normal"))
    assert (g.created_at, g.last_used_at, g.auth_time, g.revoked_at) == (T0 + 10, T0 + 10,
                                                                         T0 - 5, None)


async def test_code_replay_revokes_what_it_issued(store: SqlStore) -> None:
    await store.add_authorization_code(f.code())
    assert await store.redeem_authorization_code("c1", grant_id="g1", now=T0 + 1) is not None
    await store.add_refresh_token(f.refresh("r1", "g1"))
    assert await store.redeem_authorization_code("c1", grant_id="g2", now=T0 + 2) is None
    g = await store.get_grant("g1")
    assert g is not None and g.revoke_reason == "code_replay"
    assert await store.get_grant("g2") is None
    assert await store.get_refresh_token("r1") is None
    assert (await store.revoked_grants_since(0))[0] == ["g1"]


async def test_code_unknown_or_expired(store: SqlStore) -> None:
    await store.add_authorization_code(f.code(expires_at=T0 + 120))
    assert await store.redeem_authorization_code("nope", grant_id="g1", now=T0) is None
    assert await store.redeem_authorization_code("c1", grant_id="g1", now=T0 + 120) is None
    assert await store.get_grant("g1") is None
    # Expiry is not use: a later replay check finds no grant to revoke.
    assert await store.redeem_authorization_code("c1", grant_id="g2", now=T0 + 121) is None


async def test_code_redeem_is_all_or_nothing(store: SqlStore) -> None:
    """The grant insert fails (its id is taken): the code must stay unused."""
    await store.create_grant(f.grant("taken", jid="bob@localhost"))
    await store.add_authorization_code(f.code())
    with pytest.raises(StoreError) as err:
        await store.redeem_authorization_code("c1", grant_id="taken", now=T0 + 1)
    assert str(err.value).startswith(store.label)
    assert (await store.get_grant("taken")).jid == "bob@localhost"  # type: ignore[union-attr]
    again = await store.redeem_authorization_code("c1", grant_id="fresh", now=T0 + 2)
    assert again is not None and again.grant_id == "fresh"


# -- device codes (RFC 8628) ----------------------------------------------------------------


async def test_device_code_approve_and_redeem(store: SqlStore) -> None:
    await store.add_device_code(f.device())
    assert await store.get_device_code_by_user_code("WDJB-MJHT") == f.device()
    assert await store.get_device_code_by_user_code("XXXX-XXXX") is None
    # Pending: polling reports the record as it was and remembers the poll (slow_down).
    first = await store.poll_device_code("d1", now=T0 + 5)
    assert first is not None and first.status is DeviceStatus.PENDING
    assert first.last_polled_at == 0.0
    second = await store.poll_device_code("d1", now=T0 + 10)
    assert second is not None and second.last_polled_at == T0 + 5
    assert await store.redeem_device_code("d1", grant_id="g1", now=T0 + 11) is None
    assert await store.decide_device_code("WDJB-MJHT", approve=True, jid="alice@localhost",
                                          auth_time=T0 + 12, now=T0 + 12) is True
    # Decided once: a second decision is refused.
    assert await store.decide_device_code("WDJB-MJHT", approve=False, jid="mallory@localhost",
                                          auth_time=T0 + 13, now=T0 + 13) is False
    approved = await store.get_device_code_by_user_code("WDJB-MJHT")
    assert approved is not None and approved.status is DeviceStatus.APPROVED
    assert approved.jid == "alice@localhost"
    done = await store.redeem_device_code("d1", grant_id="g1", now=T0 + 14)
    assert done is not None and done.status is DeviceStatus.CONSUMED and done.grant_id == "g1"
    g = await store.get_grant("g1")
    assert g is not None and (g.jid, g.client_id, g.auth_time) == ("alice@localhost",
                                                                    "client-tv", T0 + 12)
    assert await store.redeem_device_code("d1", grant_id="g2", now=T0 + 15) is None
    assert await store.get_grant("g2") is None
    assert await store.poll_device_code("unknown", now=T0) is None


async def test_device_code_denied_and_expired(store: SqlStore) -> None:
    await store.add_device_code(f.device("d1", "AAAA-AAAA"))
    await store.add_device_code(f.device("d2", "BBBB-BBBB", expires_at=T0 + 600))
    assert await store.decide_device_code("AAAA-AAAA", approve=False, jid="alice@localhost",
                                          auth_time=T0, now=T0 + 1)
    denied = await store.poll_device_code("d1", now=T0 + 2)
    assert denied is not None and denied.status is DeviceStatus.DENIED
    assert await store.redeem_device_code("d1", grant_id="g1", now=T0 + 3) is None
    assert not await store.decide_device_code("BBBB-BBBB", approve=True, jid="alice@localhost",
                                              auth_time=T0, now=T0 + 600)
    assert not await store.decide_device_code("ZZZZ-ZZZZ", approve=True, jid="a@localhost",
                                              auth_time=T0, now=T0)


async def test_device_approved_but_expired_cannot_be_redeemed(store: SqlStore) -> None:
    await store.add_device_code(f.device(expires_at=T0 + 600))
    await store.decide_device_code("WDJB-MJHT", approve=True, jid="alice@localhost",
                                   auth_time=T0, now=T0 + 1)
    assert await store.redeem_device_code("d1", grant_id="g1", now=T0 + 600) is None


# -- consent, sessions ----------------------------------------------------------------------


async def test_consent(store: SqlStore) -> None:
    await store.remember_consent(Consent("alice@localhost", "client-a", ("openid",), T0))
    await store.remember_consent(Consent("alice@localhost", "client-b", ("xmpp",), T0))
    await store.remember_consent(Consent("alice@localhost", "client-a",
                                         ("openid", "profile"), T0 + 1))
    assert await store.get_consent("alice@localhost", "client-a") == Consent(
        "alice@localhost", "client-a", ("openid", "profile"), T0 + 1)
    await store.forget_consent("alice@localhost", "client-a")
    assert await store.get_consent("alice@localhost", "client-a") is None
    assert await store.get_consent("alice@localhost", "client-b") is not None
    await store.forget_consent("alice@localhost")
    assert await store.get_consent("alice@localhost", "client-b") is None


async def test_sessions(store: SqlStore) -> None:
    await store.create_session(f.session("s1", expires_at=T0 + 100, amr=("pwd", "otp")))
    await store.create_session(f.session("s2"))
    await store.create_session(f.session("s3", jid="bob@localhost"))
    assert await store.get_session("s1", now=T0 + 99) == f.session("s1", expires_at=T0 + 100,
                                                                   amr=("pwd", "otp"))
    assert await store.get_session("s1", now=T0 + 100) is None
    await store.delete_session("s2")
    assert await store.get_session("s2", now=T0) is None
    await store.delete_sessions("alice@localhost")
    assert await store.get_session("s1", now=T0) is None
    assert await store.get_session("s3", now=T0) is not None


# -- signing keys, clients ------------------------------------------------------------------


async def test_signing_keys(store: SqlStore) -> None:
    raw = bytes(range(256))  # HS256 raw secrets are arbitrary bytes
    await store.add_signing_key(f.key("k1"))
    await store.add_signing_key(f.key("k2", alg="HS256", private_pem=raw, created_at=T0 + 1))
    assert await store.list_signing_keys() == [f.key("k1"),
                                               f.key("k2", alg="HS256", private_pem=raw,
                                                     created_at=T0 + 1)]
    await store.retire_signing_key("k1", now=T0 + 5)
    await store.retire_signing_key("k1", now=T0 + 9)
    keys = await store.list_signing_keys()
    assert keys[0].retired_at == T0 + 5 and keys[1].retired_at is None
    await store.delete_signing_key("k1")
    assert [k.kid for k in await store.list_signing_keys()] == ["k2"]


async def test_clients_and_deny_list(store: SqlStore) -> None:
    await store.add_client(f.client("c1"))
    await store.add_client(f.client("c2", client_secret_hash=None, created_at=T0 + 1))
    assert await store.get_client("c1") == f.client("c1")
    assert [c.client_id for c in await store.list_clients()] == ["c1", "c2"]
    await store.delete_client("c1")
    assert await store.get_client("c1") is None

    await store.create_grant(f.grant("a", client_id="stateless-x"))
    await store.create_grant(f.grant("b", jid="bob@localhost", client_id="stateless-x"))
    await store.create_grant(f.grant("c", client_id="other"))
    assert not await store.is_client_revoked("stateless-x")
    await store.revoke_client("stateless-x", now=T0 + 3)
    await store.revoke_client("stateless-x", now=T0 + 4)
    assert await store.is_client_revoked("stateless-x")
    assert (await store.get_grant("a")).revoke_reason == "client_revoked"  # type: ignore[union-attr]
    assert (await store.get_grant("b")).revoked_at == T0 + 3  # type: ignore[union-attr]
    assert (await store.get_grant("c")).revoked_at is None  # type: ignore[union-attr]


# -- throttling -----------------------------------------------------------------------------


async def test_login_failure_counters(store: SqlStore) -> None:
    key = "acct:alice@localhost"
    assert await store.login_failures(key, now=T0, window=60) == 0
    assert await store.record_login_failure(key, now=T0, window=60) == 1
    assert await store.record_login_failure(key, now=T0 + 30, window=60) == 2
    assert await store.record_login_failure("addr:192.0.2.1", now=T0, window=60) == 1
    assert await store.login_failures(key, now=T0 + 59, window=60) == 2
    assert await store.login_failures(key, now=T0 + 60, window=60) == 0
    # A failure after the window starts a new one.
    assert await store.record_login_failure(key, now=T0 + 60, window=60) == 1
    await store.clear_login_failures(key)
    assert await store.login_failures(key, now=T0 + 61, window=60) == 0
    assert await store.login_failures("addr:192.0.2.1", now=T0 + 1, window=60) == 1
