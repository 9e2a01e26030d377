"""The SASL path's in-memory account data: throttle window, snapshot freshness, PLAIN cache."""

from __future__ import annotations

import pytest

from xmpp_oauth.runtime import Runtime
from xmpp_oauth.saslservice.accounts import (
    AccountCache,
    AccountUnavailableError,
    FailureThrottle,
    PlainVerifier,
)
from xmpp_oauth.saslservice.exchanges import account_jid


def test_throttle_sliding_window() -> None:
    throttle = FailureThrottle(3, window=60)
    for t in (0.0, 10.0, 20.0):
        assert not throttle.blocked("a", now=t)
        throttle.record("a", now=t)
    assert throttle.blocked("a", now=21.0)
    assert not throttle.blocked("b", now=21.0)
    assert not throttle.blocked("a", now=60.5)  # the first failure left the window
    throttle.record("a", now=61.0)
    assert throttle.blocked("a", now=61.0)
    throttle.clear("a")
    assert not throttle.blocked("a", now=61.0)


def test_throttle_memory_is_bounded() -> None:
    throttle = FailureThrottle(2, max_keys=100)
    for i in range(1000):
        throttle.record(f"user{i}", now=0.0)
    assert len(throttle._failures) <= 100


async def test_cache_freshness(runtime: Runtime) -> None:
    clock = [100.0]
    cache = AccountCache(runtime.store, max_staleness=30, monotonic=lambda: clock[0])
    with pytest.raises(AccountUnavailableError):
        cache.get("alice@localhost")  # never loaded
    await cache.refresh()
    account = cache.get("alice@localhost")
    assert account is not None and not account.disabled
    assert account.record_for("SCRAM-SHA-1") != account.record_for("SCRAM-SHA-256")
    assert cache.get("nobody@localhost") is None
    clock[0] += 31
    with pytest.raises(AccountUnavailableError):
        cache.get("alice@localhost")
    await cache.refresh()
    assert cache.get("alice@localhost") is not None


def test_plain_verifier_cache_is_bound_to_the_record() -> None:
    from xmpp_oauth.sasl.scram import make_scram_record

    verifier = PlainVerifier()
    record = make_scram_record("pw", "SCRAM-SHA-256")
    assert not verifier.cached("a@x", record, "pw")
    assert verifier.check(record, "pw") and not verifier.check(record, "px")
    assert not verifier.check(None, "pw")  # decoy: same work, always false
    verifier.remember("a@x", record, "pw")
    assert verifier.cached("a@x", record, "pw")
    assert not verifier.cached("a@x", record, "px")
    assert not verifier.cached("b@x", record, "pw")
    new_record = make_scram_record("pw2", "SCRAM-SHA-256")  # password changed
    assert not verifier.cached("a@x", new_record, "pw")


@pytest.mark.parametrize("username,domain,expected", [
    ("alice", "localhost", "alice@localhost"),
    ("Alice", "localhost", "alice@localhost"),
    ("alice@localhost", "localhost", "alice@localhost"),
    ("alice@LOCALHOST", "localhost", "alice@localhost"),
    ("alice@second.localhost", "localhost", None),
    ("al ice", "localhost", None),
    ("", "localhost", None),
])
def test_account_jid(username: str, domain: str, expected: str | None) -> None:
    assert account_jid(username, domain) == expected


