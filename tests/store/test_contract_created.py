"""Store contract, new grants: ``grants_created_since`` (SQLite and PostgreSQL).

The component's new-grant notices page through this cursor; it must report every grant once,
oldest first, whichever path (or process) created it, and never one twice.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

from tests.store import factories as f
from tests.store import workers
from tests.store.factories import T0
from xmpp_oauth.store.base import Grant
from xmpp_oauth.store.sql import SqlStore

CTX = multiprocessing.get_context("spawn")


def ids(grants: list[Grant]) -> list[str]:
    return [g.grant_id for g in grants]


async def drain(store: SqlStore, cursor: int, *, limit: int = 200) -> tuple[list[Grant], int]:
    """Every grant after ``cursor``, page by page."""
    seen: list[Grant] = []
    while True:
        page, nxt = await store.grants_created_since(cursor, limit=limit)
        assert len(page) <= limit
        if not page:
            assert nxt == cursor
            return seen, cursor
        assert nxt > cursor
        seen += page
        cursor = nxt


async def test_empty_store(store: SqlStore) -> None:
    assert await store.grants_created_since(-1) == ([], 0)
    assert await store.grants_created_since(0) == ([], 0)


async def test_oldest_first_in_creation_order(store: SqlStore) -> None:
    # Creation order, not created_at: a clock that steps back must not hide a grant.
    for gid, at in (("g1", T0 + 5), ("g2", T0), ("g3", T0 + 9)):
        await store.create_grant(f.grant(gid, created_at=at, last_used_at=at))
    await store.create_grant(f.grant("g-bob", jid="bob@localhost"))
    grants, cursor = await store.grants_created_since(0)
    assert ids(grants) == ["g1", "g2", "g3", "g-bob"]
    # The records are the stored grants, field for field.
    assert grants == [await store.get_grant(g) for g in ids(grants)]
    assert await store.grants_created_since(cursor) == ([], cursor)
    await store.create_grant(f.grant("g4"))
    assert ids((await store.grants_created_since(cursor))[0]) == ["g4"]


async def test_limit_pages_without_gaps_or_repeats(store: SqlStore) -> None:
    for i in range(7):
        await store.create_grant(f.grant(f"g{i}"))
    page1, c1 = await store.grants_created_since(0, limit=3)
    page2, c2 = await store.grants_created_since(c1, limit=3)
    page3, c3 = await store.grants_created_since(c2, limit=3)
    assert [ids(page1), ids(page2), ids(page3)] == [["g0", "g1", "g2"], ["g3", "g4", "g5"],
                                                    ["g6"]]
    assert c1 < c2 < c3
    assert await store.grants_created_since(c3, limit=3) == ([], c3)
    # Paging again from any cursor gives the same answer (cursors are stable).
    assert await store.grants_created_since(c1, limit=3) == (page2, c2)
    assert ids((await drain(store, 0, limit=1))[0]) == [f"g{i}" for i in range(7)]


async def test_negative_cursor_means_from_now_on(store: SqlStore) -> None:
    await store.create_grant(f.grant("old1"))
    await store.create_grant(f.grant("old2"))
    grants, now = await store.grants_created_since(-1)
    assert grants == []
    assert await store.grants_created_since(-5, limit=1) == ([], now)
    assert await store.grants_created_since(now) == ([], now)
    await store.create_grant(f.grant("new"))
    assert ids((await store.grants_created_since(now))[0]) == ["new"]
    # "Now" moved on with it.
    assert (await store.grants_created_since(-1))[1] > now


async def test_every_creating_path_is_reported(store: SqlStore) -> None:
    _, start = await store.grants_created_since(-1)
    await store.create_grant(f.grant("g-direct"))
    await store.add_authorization_code(f.code("c1"))
    assert await store.redeem_authorization_code("c1", grant_id="g-code", now=T0 + 1)
    await store.add_device_code(f.device("d1", "WDJB-MJHT"))
    assert await store.decide_device_code("WDJB-MJHT", approve=True, jid="carol@localhost",
                                          auth_time=T0 + 1, now=T0 + 1)
    assert await store.redeem_device_code("d1", grant_id="g-device", now=T0 + 2)
    grants, cursor = await store.grants_created_since(start)
    assert ids(grants) == ["g-direct", "g-code", "g-device"]
    assert grants == [await store.get_grant(g) for g in ids(grants)]
    code_grant, device_grant = grants[1], grants[2]
    assert (code_grant.jid, code_grant.client_name, code_grant.created_at) == (
        "alice@localhost", "App A", T0 + 1)
    assert (device_grant.jid, device_grant.client_name, device_grant.created_at) == (
        "carol@localhost", "TV", T0 + 2)


async def test_paths_that_create_nothing_report_nothing(store: SqlStore) -> None:
    await store.create_grant(f.grant("g1"))
    await store.add_refresh_token(f.refresh("r1", "g1"))
    _, start = await store.grants_created_since(-1)
    # Rotation, use, a code replay (which revokes), an expired code, a pending device code:
    # no new grant, so nothing to report.
    assert await store.rotate_refresh_token("r1", f.refresh("r2"), now=T0 + 1)
    await store.touch_grant("g1", now=T0 + 2)
    await store.add_authorization_code(f.code("c1"))
    assert await store.redeem_authorization_code("c1", grant_id="g-code", now=T0 + 1)
    _, after_code = await store.grants_created_since(-1)
    assert await store.redeem_authorization_code("c1", grant_id="g-replay", now=T0 + 2) is None
    await store.add_authorization_code(f.code("c-old", expires_at=T0))
    assert await store.redeem_authorization_code("c-old", grant_id="g-late", now=T0 + 1) is None
    await store.add_device_code(f.device("d1", "PEND-INGG"))
    assert await store.redeem_device_code("d1", grant_id="g-dev", now=T0 + 1) is None
    await store.revoke_grant("g1", reason="user", now=T0 + 3)
    assert ids((await store.grants_created_since(start))[0]) == ["g-code"]
    assert await store.grants_created_since(after_code) == ([], after_code)


async def test_revoked_grants_are_still_reported(store: SqlStore) -> None:
    _, start = await store.grants_created_since(-1)
    await store.create_grant(f.grant("g1"))
    await store.create_grant(f.grant("g2"))
    await store.revoke_grant("g1", reason="user", now=T0 + 1)
    await store.revoke_grants("alice@localhost", reason="password_changed", now=T0 + 2)
    grants, _ = await store.grants_created_since(start)
    assert ids(grants) == ["g1", "g2"]
    assert [(g.revoked_at, g.revoke_reason) for g in grants] == [
        (T0 + 1, "user"), (T0 + 2, "password_changed")]


async def test_purged_grants_are_gone_and_numbering_goes_on(store: SqlStore) -> None:
    await store.create_grant(f.grant("g1"))
    await store.create_grant(f.grant("g2"))
    await store.add_refresh_token(f.refresh("r2", "g2", expires_at=T0 + 3600))
    await store.revoke_grant("g1", reason="user", now=T0)
    assert (await store.purge_expired(now=T0 + 10, retention=5))["grants"] == 1
    _, end = await store.grants_created_since(-1)
    assert ids((await store.grants_created_since(0))[0]) == ["g2"]
    await store.create_grant(f.grant("g3"))
    assert ids((await store.grants_created_since(0))[0]) == ["g2", "g3"]
    assert ids((await store.grants_created_since(end))[0]) == ["g3"]


async def test_concurrent_creators_in_other_processes_lose_nothing(
    store: SqlStore, store_url: str
) -> None:
    """Three processes create grants through all three paths at once while this one pages
    through them with a small limit: every grant is seen exactly once, none skipped."""
    per_process, who = 30, ("a", "b", "c")
    _, cursor = await store.grants_created_since(-1)
    barrier, queue = CTX.Barrier(len(who)), CTX.Queue()
    procs = [CTX.Process(target=workers.create_grants,
                         args=(store_url, w, per_process, barrier, queue), daemon=True)
             for w in who]
    for p in procs:
        p.start()
    seen: list[str] = []
    done = asyncio.Event()

    async def follow() -> None:
        nonlocal cursor
        while True:
            finished = done.is_set()  # read before the poll: one more full pass after it
            page, nxt = await store.grants_created_since(cursor, limit=7)
            assert nxt >= cursor
            seen.extend(ids(page))
            cursor = nxt
            if not page:
                if finished:
                    return
                await asyncio.sleep(0.002)  # yield to the writers; no timing is asserted

    follower = asyncio.create_task(follow())
    created: list[Any] = []
    try:
        for _ in procs:
            status, value = await asyncio.to_thread(queue.get, True, 120)
            assert status == "ok", value
            created.extend(value)
        for p in procs:
            await asyncio.to_thread(p.join, 60)
            assert p.exitcode == 0
    finally:
        done.set()
        await asyncio.wait_for(follower, 60)
    assert len(seen) == len(set(seen)) == len(who) * per_process
    assert sorted(seen) == sorted(created)
    # Each process's grants come in the order it created them.
    for w in who:
        assert [g for g in seen if g.startswith(f"{w}-")] == [f"{w}-g{i}"
                                                               for i in range(per_process)]
