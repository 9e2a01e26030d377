"""Running store plans on SQLite: group commit on the event loop, waiting and syncing off it.

Theory of operation
-------------------
The hot write path (refresh rotation) is a :mod:`~xmpp_oauth.store.plan`.  Plans submitted
while a group is being written (or in the same turn of the event loop) wait, then go
together: one ``BEGIN IMMEDIATE``, the plans, one ``COMMIT``; a plan that raises is undone
alone and gets its exception (:func:`run_plans_optimistic`, :func:`run_plans`).
Results are handed out only after the commit; if it fails, or SQLite rolled the transaction
back by itself (``SQLITE_FULL`` and the like), every plan of the group gets the error.

Where each part runs depends on whether it can wait:

=======================  ===================================================================
step                     runs
=======================  ===================================================================
``BEGIN IMMEDIATE``      on the event loop, with a busy timeout of zero: it never waits.
                         When another process holds the write lock, the whole group goes to
                         a thread instead, which waits up to the store's busy timeout
statements, ``COMMIT``   on the event loop: microseconds of CPU each; in WAL mode with
                         ``synchronous = NORMAL`` a commit appends to the WAL without syncing
checkpoints              on the thread, on a connection of their own, every
                         :data:`CHECKPOINT_EVERY` commits (``PASSIVE``: writers go on
                         meanwhile).  The loop's connection never checkpoints by itself:
                         that would sync the file on the loop
=======================  ===================================================================

Why not run everything on a thread, as aiosqlite does?  A thread hop costs far more than the
statements when the event loop is busy: the worker has to get the GIL and a CPU back, several
times per transaction.  Measured under the HTTP benchmark (~2,500 refreshes/s, 8 clients), a
group of four plans spent ~1.2 ms on the worker thread (~40 µs when idle), and a commit-only
hop still ~0.7 ms; on the loop the same group costs ~200 µs of CPU.

The connection belongs to this runner; the store's write lock (an ``asyncio.Lock``) is shared,
so a group never interleaves with the store's other write transactions in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

from ..errors import StoreError
from .plan import PlanFactory, run_sync

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A plan's outcome in a group: (True, result) or (False, the exception it raised).
Outcome = tuple[bool, Any]
#: Commits between two checkpoints; a refresh group writes ~5-10 pages, so the WAL stays
#: near SQLite's own automatic checkpoint size (1000 pages).
CHECKPOINT_EVERY: Final = 100
_BUSY: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that, once set up, never waits for a lock nor checkpoints by itself."""
    # Setting up may wait (another process may be creating or migrating the file).
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout,
                           check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA busy_timeout = 0")
    except BaseException:
        conn.close()
        raise
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY


def run_plans(conn: sqlite3.Connection, plans: Sequence[PlanFactory[Any]]) -> list[Outcome]:
    """Run ``plans`` in the open transaction, each in a savepoint: one that raises is undone
    alone and its outcome is the exception."""
    if len(plans) == 1:  # no savepoint needed: a failure rolls the transaction back
        try:
            return [(True, run_sync(conn, plans[0]()))]
        except Exception as exc:
            return [(False, exc)]
    outcomes: list[Outcome] = []
    for make in plans:
        conn.execute("SAVEPOINT plan")
        try:
            result = run_sync(conn, make())
        except Exception as exc:
            conn.execute("ROLLBACK TO plan")
            conn.execute("RELEASE plan")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE plan")
            outcomes.append((True, result))
    return outcomes


def run_plans_optimistic(conn: sqlite3.Connection,
                         plans: Sequence[PlanFactory[Any]]) -> list[Outcome] | None:
    """Run ``plans`` without savepoints; ``None`` if one raised (then roll back and use
    :func:`run_plans`: plans are pure, running one again repeats its steps exactly).

    Plans almost never raise (a constraint violation, a bug), and savepoints are not free:
    SQLite copies each page a plan changes into the savepoint's journal first.
    """
    if len(plans) == 1:
        return run_plans(conn, plans)
    try:
        return [(True, run_sync(conn, make())) for make in plans]
    except Exception:
        return None


def finish(conn: sqlite3.Connection, outcomes: list[Outcome]) -> list[Outcome]:
    """``COMMIT`` when some plan succeeded, else ``ROLLBACK``; a failure is raised."""
    if not conn.in_transaction:
        # SQLite rolled back by itself (e.g. disk full): nothing of the group happened.
        raise sqlite3.OperationalError("the transaction was rolled back")
    try:
        conn.execute("COMMIT" if any(ok for ok, _ in outcomes) else "ROLLBACK")
    except BaseException:
        rollback(conn)
        raise
    return outcomes


def rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def group_waiting(conn: sqlite3.Connection, plans: Sequence[PlanFactory[Any]],
                  busy_timeout_ms: int) -> list[Outcome]:
    """The whole group in the calling thread, waiting for the write lock if need be."""
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            return finish(conn, run_plans(conn, plans))
        except BaseException:
            rollback(conn)
            raise
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class SqlitePlanRunner:
    """Group-commits plans on one connection (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, checkpointer: sqlite3.Connection,
                 executor: ThreadPoolExecutor, *, loop: asyncio.AbstractEventLoop,
                 lock: asyncio.Lock, busy_timeout: float, label: str,
                 describe: Callable[[sqlite3.Error], str]) -> None:
        # The loop the store was opened in (its lock belongs to it too).  Kept because
        # Python 3.11's get_running_loop() makes a getpid() system call every time.
        self._loop = loop
        self._conn = conn
        self._checkpointer = checkpointer
        self._executor = executor
        self._lock = lock
        self._busy_ms = int(busy_timeout * 1000)
        self._label = label
        self._describe = describe
        self._pending: list[tuple[PlanFactory[Any], asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Future[None] | None = None
        self._commits = 0
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, lock: asyncio.Lock, busy_timeout: float, label: str,
                   describe: Callable[[sqlite3.Error], str]) -> SqlitePlanRunner:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xmpp-oauth-sqlite")
        loop = asyncio.get_running_loop()
        opened: list[sqlite3.Connection] = []
        try:
            for _ in range(2):
                opened.append(await loop.run_in_executor(executor, connect, path,
                                                         busy_timeout))
        except BaseException:
            for conn in opened:
                conn.close()
            executor.shutdown(wait=False)
            raise
        return cls(opened[0], opened[1], executor, loop=loop, lock=lock,
                   busy_timeout=busy_timeout, label=label, describe=describe)

    def _error(self, exc: BaseException) -> BaseException:
        """SQLite failures become StoreErrors; a plan's own exceptions pass unchanged."""
        if isinstance(exc, sqlite3.Error):
            return StoreError(self._label, self._describe(exc))
        return exc

    def _closed_error(self) -> StoreError:
        return StoreError(self._label, "store is closed")

    async def run(self, make_plan: PlanFactory[T]) -> T:
        """Run the plan in the next group; its result once the group committed."""
        if self._closed:
            raise self._closed_error()
        future: asyncio.Future[T] = self._loop.create_future()
        self._pending.append((make_plan, future))
        if self._committer is None:
            self._committer = self._loop.create_task(self._commit_groups())
        return await future

    async def _commit_groups(self) -> None:
        group: list[tuple[PlanFactory[Any], asyncio.Future[Any]]] = []
        try:
            while self._pending:
                # Let the handlers already woken in this turn of the loop add their plans:
                # one yield, no waiting (an idle server commits a lone plan at once).
                await asyncio.sleep(0)
                group, self._pending = self._pending, []
                try:
                    async with self._lock:
                        outcomes = await self._write([plan for plan, _ in group])
                except Exception as exc:
                    outcomes = [(False, exc)] * len(group)
                for (_, future), (ok, value) in zip(group, outcomes, strict=True):
                    if future.done():  # the caller stopped waiting; the work stands
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(self._error(value))
                group = []
        finally:
            self._committer = None
            for _, future in group + self._pending:  # only when cancelled (loop shutdown)
                if not future.done():
                    future.set_exception(self._closed_error())

    async def _write(self, plans: list[PlanFactory[Any]]) -> list[Outcome]:
        if self._closed:
            raise self._closed_error()
        conn = self._conn
        careful = False
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")  # busy timeout 0: never blocks the loop
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                # Another process is writing: wait for it off the loop.
                return await self._loop.run_in_executor(
                    self._executor, group_waiting, conn, plans, self._busy_ms)
            try:
                tried = run_plans(conn, plans) if careful else run_plans_optimistic(conn, plans)
                if tried is not None:
                    outcomes = finish(conn, tried)
                    break
            except BaseException:
                rollback(conn)
                raise
            rollback(conn)  # a plan raised: run the group again, one savepoint per plan
            careful = True
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._commits = 0
            self._start_checkpoint()
        return outcomes

    def _start_checkpoint(self) -> None:
        done = self._loop.run_in_executor(self._executor, checkpoint, self._checkpointer)
        self._checkpointing = done

        def finished(future: asyncio.Future[None]) -> None:
            self._checkpointing = None
            if not future.cancelled() and future.exception() is not None:
                # Not fatal: the next one retries, and the WAL only grows meanwhile.
                log.warning("%s: checkpoint failed: %s", self._label, future.exception())

        done.add_done_callback(finished)

    async def close(self) -> None:
        """Refuse new plans (and those still waiting for a group), then close."""
        self._closed = True
        if self._committer is not None:
            with contextlib.suppress(Exception):
                await self._committer
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await self._checkpointing
        async with self._lock:
            for conn in (self._checkpointer, self._conn):
                with contextlib.suppress(sqlite3.Error):
                    await self._loop.run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=False)


__all__ = ["CHECKPOINT_EVERY", "SqlitePlanRunner", "connect", "finish", "group_waiting",
           "run_plans", "run_plans_optimistic"]
