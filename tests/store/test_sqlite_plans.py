"""SQLite's plan runner (``store/sqliteplans.py``): what only the SQLite store does.

* concurrent plans are committed together, and one that fails is undone alone (the group
  runs again with a savepoint per plan);
* while another connection holds the write lock the group waits on a thread, not on the
  event loop, and goes through once the lock is free;
* the runner's own connection never checkpoints; checkpoints run off the loop, regularly.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.store import connect_store, sqliteplans
from xmpp_oauth.store.base import RefreshUse
from xmpp_oauth.store.sqlite import SqliteStore


async def _open(tmp_path: Path) -> tuple[SqliteStore, Path]:
    path = tmp_path / "plans.sqlite3"
    store = await connect_store(f"sqlite:///{path}")
    assert isinstance(store, SqliteStore)
    await store.create_grant(f.grant())
    return store, path


async def _use(store: SqliteStore, token: str, new: str) -> RefreshUse:
    used = await store.use_refresh_token(token, client_id="client-a", new_hash=new,
                                         expires_at=T0 + 3600, now=T0 + 1)
    return used.outcome


async def test_concurrent_plans_share_one_commit(tmp_path: Path, monkeypatch: Any) -> None:
    store, _ = await _open(tmp_path)
    groups: list[int] = []
    real = sqliteplans.run_plans_optimistic

    def counting(conn: sqlite3.Connection, plans: Any) -> Any:
        groups.append(len(plans))
        return real(conn, plans)

    monkeypatch.setattr(sqliteplans, "run_plans_optimistic", counting)
    try:
        for i in range(5):
            await store.add_refresh_token(f.refresh(f"r{i}"))
        outcomes = await asyncio.gather(*(_use(store, f"r{i}", f"n{i}") for i in range(5)))
        assert outcomes == [RefreshUse.ROTATED] * 5
        assert groups == [5]
    finally:
        await store.close()


async def test_a_busy_write_lock_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    store, path = await _open(tmp_path)
    await store.add_refresh_token(f.refresh("r1"))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, say
        task = asyncio.create_task(_use(store, "r1", "r2"))
        for _ in range(5):
            await asyncio.sleep(0)  # let the runner try, fail and hand the group over
        # The loop is free (we are running); the group waits on the thread.
        assert not task.done()
        other.execute("COMMIT")
        assert await task is RefreshUse.ROTATED
    finally:
        other.close()
        await store.close()
    assert (await _reopened_token(path, "r2")) is not None


async def _reopened_token(path: Path, token: str) -> Any:
    store = await connect_store(f"sqlite:///{path}")
    try:
        return await store.get_refresh_token(token)
    finally:
        await store.close()


async def test_checkpoints_run_on_the_thread(tmp_path: Path, monkeypatch: Any) -> None:
    store, path = await _open(tmp_path)
    calls: list[str] = []
    real = sqliteplans.checkpoint

    def counting(conn: sqlite3.Connection) -> None:
        calls.append(threading.current_thread().name)
        real(conn)

    monkeypatch.setattr(sqliteplans, "checkpoint", counting)
    monkeypatch.setattr(sqliteplans, "CHECKPOINT_EVERY", 5)
    try:
        await store.add_refresh_token(f.refresh("t0"))
        for i in range(12):
            assert await _use(store, f"t{i}", f"t{i + 1}") is RefreshUse.ROTATED
    finally:
        await store.close()  # waits for a checkpoint still running
    # One every five commits, unless the previous one is still running then.
    assert 1 <= len(calls) <= 2
    assert all(name.startswith("xmpp-oauth-sqlite") for name in calls)


async def test_the_runner_connection_never_checkpoints_by_itself(tmp_path: Path) -> None:
    conn = sqliteplans.connect(tmp_path / "x.sqlite3", 1.0)
    try:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.mark.parametrize("failing", [0, 1])
async def test_a_failing_plan_in_a_group_is_undone_alone(tmp_path: Path, failing: int) -> None:
    store, _ = await _open(tmp_path)
    try:
        for token in ("a", "b", "taken"):
            await store.add_refresh_token(f.refresh(token))
        news = ["na", "nb"]
        news[failing] = "taken"  # its successor collides: that plan fails
        results = await asyncio.gather(_use(store, "a", news[0]), _use(store, "b", news[1]),
                                       return_exceptions=True)
        ok = 1 - failing
        assert results[ok] is RefreshUse.ROTATED
        assert isinstance(results[failing], Exception)
        assert (await store.get_refresh_token(["a", "b"][failing])).consumed_at is None  # type: ignore[union-attr]
        assert (await store.get_refresh_token(["a", "b"][ok])).consumed_at is not None  # type: ignore[union-attr]
    finally:
        await store.close()
