"""Several real processes on one store (SQLite file or PostgreSQL database).

* two processes rotating the same refresh token at the same moment (``rotate_refresh_token``
  and the grant's ``use_refresh_token``): exactly one wins, the other is reuse and the grant
  is revoked; no lost or duplicated rows;
* two processes writing in parallel lose nothing;
* two processes opening an empty store at once both end up on the latest schema;
* a grant revoked in another process is refused here within one second.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import pytest

from tests.store import factories as f
from tests.store import workers
from tests.store.factories import T0
from xmpp_oauth.store import connect_store
from xmpp_oauth.store.migrations import latest_version
from xmpp_oauth.store.revocation import StoreRevocationSet
from xmpp_oauth.store.sql import SqlStore

CTX = multiprocessing.get_context("spawn")


async def _collect(procs: list[Any], queue: Any, timeout: float = 60.0) -> list[Any]:
    results = []
    for _ in procs:
        status, value = await asyncio.to_thread(queue.get, True, timeout)
        assert status == "ok", value
        results.append(value)
    for p in procs:
        await asyncio.to_thread(p.join, timeout)
        assert p.exitcode == 0
    return results


def _start(target: Any, *args: Any) -> Any:
    p = CTX.Process(target=target, args=args, daemon=True)
    p.start()
    return p


async def _count(store: SqlStore, sql: str, *args: Any) -> int:
    async with store._read() as db:
        row = await db.fetchone(sql, *args)
    assert row is not None
    return int(row["n"])


async def test_two_processes_race_one_refresh_token(store: SqlStore, store_url: str) -> None:
    rounds = 12
    for i in range(rounds):
        await store.create_grant(f.grant(f"g{i}"))
        await store.add_refresh_token(f.refresh(f"r{i}", f"g{i}"))
    barrier, queue = CTX.Barrier(2), CTX.Queue()
    procs = [_start(workers.race_rotations, store_url, who, rounds, barrier, queue)
             for who in ("a", "b")]
    a, b = await _collect(procs, queue)
    for i in range(rounds):
        # Exactly one winner per round ...
        assert a[i] != b[i], f"round {i}: a won={a[i]} b won={b[i]}"
        # ... and the loser was treated as reuse: the whole grant is revoked.
        g = await store.get_grant(f"g{i}")
        assert g is not None and g.revoke_reason == "refresh_reuse"
    # No duplicated or half-written rows: every grant revoked once, no tokens left.
    assert await _count(store, "SELECT COUNT(*) AS n FROM revocations") == rounds
    assert await _count(store, "SELECT COUNT(*) AS n FROM refresh_tokens") == 0
    ids, _ = await store.revoked_grants_since(0)
    assert sorted(ids) == sorted(f"g{i}" for i in range(rounds))


async def test_two_processes_race_one_refresh_use(store: SqlStore, store_url: str) -> None:
    rounds = 12
    for i in range(rounds):
        await store.create_grant(f.grant(f"g{i}"))
        await store.add_refresh_token(f.refresh(f"r{i}", f"g{i}"))
    barrier, queue = CTX.Barrier(2), CTX.Queue()
    procs = [_start(workers.race_uses, store_url, who, rounds, barrier, queue)
             for who in ("a", "b")]
    a, b = await _collect(procs, queue)
    for i in range(rounds):
        # Exactly one rotation per round; the other process saw reuse and revoked the grant.
        assert sorted([a[i], b[i]]) == ["reused", "rotated"], f"round {i}: {a[i]}, {b[i]}"
        g = await store.get_grant(f"g{i}")
        assert g is not None and g.revoke_reason == "refresh_reuse"
    assert await _count(store, "SELECT COUNT(*) AS n FROM revocations") == rounds
    assert await _count(store, "SELECT COUNT(*) AS n FROM refresh_tokens") == 0


async def test_parallel_writers_lose_nothing(store: SqlStore, store_url: str) -> None:
    count = 40
    for who in ("a", "b"):
        await store.create_grant(f.grant(f"{who}-chain", jid=f"{who}@localhost"))
        await store.add_refresh_token(f.refresh(f"{who}-chain-0", f"{who}-chain"))
    barrier, queue = CTX.Barrier(2), CTX.Queue()
    procs = [_start(workers.parallel_writer, store_url, who, count, barrier, queue)
             for who in ("a", "b")]
    assert await _collect(procs, queue) == [count, count]
    for who in ("a", "b"):
        grants = await store.list_grants(f"{who}@localhost")
        assert len(grants) == count + 1
        assert await _count(store, "SELECT COUNT(*) AS n FROM refresh_tokens WHERE grant_id = ?"
                            " AND consumed_at IS NULL", f"{who}-chain") == 1
        assert await _count(store, "SELECT COUNT(*) AS n FROM refresh_tokens WHERE grant_id = ?",
                            f"{who}-chain") == count + 1
        live = await store.get_refresh_token(f"{who}-chain-{count}")
        assert live is not None and live.consumed_at is None
        chain = await store.get_grant(f"{who}-chain")
        assert chain is not None and chain.last_used_at == T0 + count


async def test_concurrent_first_open_migrates_once(store_url: str) -> None:
    barrier, queue = CTX.Barrier(2), CTX.Queue()
    procs = [_start(workers.open_and_migrate, store_url, barrier, queue) for _ in range(2)]
    assert await _collect(procs, queue) == [latest_version()] * 2
    s = await connect_store(store_url)
    try:
        assert await _count(s, "SELECT COUNT(*) AS n FROM schema_version") == latest_version()
        async with s._read() as db:
            counters = [r["name"] for r in await db.fetchall("SELECT name FROM counters")]
        assert sorted(counters) == ["grant", "revocation"]
    finally:
        await s.close()


async def _revoked_elsewhere_within_a_second(store: SqlStore, store_url: str,
                                             poll_interval: float) -> None:
    await store.create_grant(f.grant("g1"))
    await store.create_grant(f.grant("g-old"))
    await store.revoke_grant("g-old", reason="user", now=T0)
    revoked = StoreRevocationSet(store, poll_interval=poll_interval)
    await revoked.start()
    try:
        assert revoked.is_revoked("g-old") and not revoked.is_revoked("g1")
        ready, go, queue = CTX.Event(), CTX.Event(), CTX.Queue()
        proc = _start(workers.revoke_on_signal, store_url, "g1", ready, go, queue)
        assert await asyncio.to_thread(ready.wait, 60)
        await asyncio.sleep(poll_interval)  # let a poll or two pass: the set is idle
        go.set()
        (committed_at,) = await _collect([proc], queue)
        # Bounded wait: poll the in-memory set until the deadline.
        deadline = committed_at + 1.0
        while not revoked.is_revoked("g1") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        seen_after = time.monotonic() - committed_at
        assert revoked.is_revoked("g1"), f"not seen {seen_after:.2f}s after the commit"
    finally:
        await revoked.stop()


async def test_revocation_reaches_this_process_within_a_second(
    store: SqlStore, store_url: str
) -> None:
    """The default poll interval (0.25 s), both backends."""
    await _revoked_elsewhere_within_a_second(store, store_url, 0.25)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgresql_notify_beats_the_slow_safety_poll(store: SqlStore,
                                                            store_url: str) -> None:
    """poll_interval=1.0 with a live LISTEN connection means a safety poll every 5 s:
    only NOTIFY can make it within the second."""
    await _revoked_elsewhere_within_a_second(store, store_url, 1.0)


async def test_revocation_set_starts_and_stops_promptly(store: SqlStore) -> None:
    """stop() right after start() (wake-up pending) must not hang (3.11 wait_for pitfall)."""
    for _ in range(5):
        revoked = StoreRevocationSet(store, poll_interval=0.25)
        async with asyncio.timeout(5):
            await revoked.start()
            await revoked.stop()
    revoked = StoreRevocationSet(store, poll_interval=0.25)
    await revoked.start()
    revoked.add_local("local-only")
    assert revoked.is_revoked("local-only") and "local-only" in revoked and len(revoked) == 1
    await revoked.stop()
