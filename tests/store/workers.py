"""Code that runs in *other processes* (multiprocessing, spawn) against a shared store.

Each function is a process entry point: it opens its own store from the URL, synchronises with
the test through the multiprocessing primitives it was given, and reports through a queue.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.store import connect_store


def _report(queue: Any, work: Any) -> None:
    try:
        queue.put(("ok", asyncio.run(work)))
    except BaseException:  # the test shows whatever went wrong over there
        queue.put(("error", traceback.format_exc()))


def race_rotations(url: str, who: str, rounds: int, barrier: Any, queue: Any) -> None:
    """For each round, rotate the shared token ``r<i>`` at the same moment as the peer."""

    async def work() -> list[bool]:
        store = await connect_store(url)
        won: list[bool] = []
        try:
            for i in range(rounds):
                new = f.refresh(f"r{i}-{who}", f"g{i}", created_at=T0 + 1)
                await asyncio.to_thread(barrier.wait, 30)
                result = await store.rotate_refresh_token(f"r{i}", new, now=T0 + 1)
                won.append(result is not None)
        finally:
            await store.close()
        return won

    _report(queue, work())


def race_uses(url: str, who: str, rounds: int, barrier: Any, queue: Any) -> None:
    """Like :func:`race_rotations`, through ``use_refresh_token`` (the grant's path)."""

    async def work() -> list[str]:
        store = await connect_store(url)
        outcomes: list[str] = []
        try:
            for i in range(rounds):
                await asyncio.to_thread(barrier.wait, 30)
                used = await store.use_refresh_token(
                    f"r{i}", client_id="client-a", new_hash=f"r{i}-{who}",
                    expires_at=T0 + 3600, now=T0 + 1)
                outcomes.append(used.outcome.value)
        finally:
            await store.close()
        return outcomes

    _report(queue, work())


def parallel_writer(url: str, who: str, count: int, barrier: Any, queue: Any) -> None:
    """Create ``count`` grants and rotate an own refresh chain ``count`` times, concurrently
    with a peer doing the same on the same database."""

    async def work() -> int:
        store = await connect_store(url)
        try:
            await asyncio.to_thread(barrier.wait, 30)
            for i in range(count):
                await store.create_grant(f.grant(f"{who}-g{i}", jid=f"{who}@localhost"))
                old = f"{who}-chain-{i}"
                new = f.refresh(f"{who}-chain-{i + 1}", f"{who}-chain", created_at=T0 + i + 1)
                if await store.rotate_refresh_token(old, new, now=T0 + i + 1) is None:
                    raise AssertionError(f"rotation {i} of {who} lost")
        finally:
            await store.close()
        return count

    _report(queue, work())


def open_and_migrate(url: str, barrier: Any, queue: Any) -> None:
    """Open a (maybe empty) store at the same moment as a peer: both must end up migrated."""

    async def work() -> int:
        await asyncio.to_thread(barrier.wait, 30)
        store = await connect_store(url)
        try:
            return await store.schema_version()
        finally:
            await store.close()

    _report(queue, work())


def revoke_on_signal(url: str, grant_id: str, ready: Any, go: Any, queue: Any) -> None:
    """Open the store, say ready, wait for go, revoke; report the wall time after commit."""

    async def work() -> float:
        store = await connect_store(url)
        try:
            ready.set()
            await asyncio.to_thread(go.wait, 30)
            assert await store.revoke_grant(grant_id, reason="other_process", now=time.time())
            return time.monotonic()
        finally:
            await store.close()

    _report(queue, work())


def create_grants(url: str, who: str, count: int, barrier: Any, queue: Any) -> None:
    """Create ``count`` grants through every creating path in turn (create_grant, code
    redemption, device code redemption), concurrently with peers; report their ids."""

    async def work() -> list[str]:
        store = await connect_store(url)
        ids: list[str] = []
        try:
            await asyncio.to_thread(barrier.wait, 30)
            for i in range(count):
                gid, now, jid = f"{who}-g{i}", T0 + i, f"{who}@localhost"
                if i % 3 == 0:
                    await store.create_grant(f.grant(gid, jid=jid, created_at=now))
                elif i % 3 == 1:
                    await store.add_authorization_code(f.code(f"{who}-c{i}", jid=jid))
                    if await store.redeem_authorization_code(f"{who}-c{i}", grant_id=gid,
                                                             now=now) is None:
                        raise AssertionError(f"code {i} of {who} not redeemed")
                else:
                    user_code = f"{who.upper()}-{i:04d}"
                    await store.add_device_code(f.device(f"{who}-d{i}", user_code))
                    assert await store.decide_device_code(
                        user_code, approve=True, jid=jid, auth_time=now, now=now)
                    if await store.redeem_device_code(f"{who}-d{i}", grant_id=gid,
                                                      now=now) is None:
                        raise AssertionError(f"device code {i} of {who} not redeemed")
                ids.append(gid)
        finally:
            await store.close()
        return ids

    _report(queue, work())
