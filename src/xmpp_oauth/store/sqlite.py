"""The embedded default store: one SQLite file in WAL mode (aiosqlite).

Several processes on one host (web server, SASL service, component) may open the same file.
WAL lets readers run while one writer writes; ``busy_timeout`` makes a writer wait for the
lock instead of failing; every read-modify-write transaction starts with ``BEGIN IMMEDIATE``,
so it holds the write lock from its first read and two processes can never both see
"unused" and both win (a deferred transaction would instead fail with SQLITE_BUSY when it
tries to upgrade its read snapshot).

Inside one process each connection runs on aiosqlite's worker thread; an ``asyncio.Lock``
per connection keeps one coroutine's transaction from interleaving with another's.  Reads use
a second connection so they never queue behind a writer waiting for another process.  Plans
(the refresh rotation) use a third connection, under the same write lock, through
:class:`~xmpp_oauth.store.sqliteplans.SqlitePlanRunner` (group commit; see there why its
statements run on the event loop).
``synchronous = NORMAL`` in WAL mode loses at most the last transactions on power loss, never
consistency.  The file is created with mode 0600: it holds private signing keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

from ..errors import StoreError
from . import migrations
from .plan import PlanFactory
from .sql import SqlStore
from .sqlcore import Db, Row
from .sqliteplans import SqlitePlanRunner

DEFAULT_BUSY_TIMEOUT: Final = 5.0
T = TypeVar("T")


def describe_sqlite_error(exc: sqlite3.Error) -> str:
    """A short, operator-facing description of an SQLite failure."""
    message = str(exc)
    low = message.lower()
    if "readonly" in low or "read-only" in low:
        return f"database is read-only ({message})"
    if "not a database" in low or "malformed" in low:
        return f"database file is corrupt ({message})"
    if "locked" in low or "busy" in low:
        return f"database is locked by another process ({message})"
    if "unable to open" in low:
        return f"cannot open the database file ({message})"
    if isinstance(exc, sqlite3.IntegrityError):
        return f"record already exists or violates a constraint ({message})"
    return message


class _SqliteDb:
    """A :class:`~xmpp_oauth.store.sql.Db` over one aiosqlite connection."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        # One thread hop; the change count is read from the connection afterwards (the
        # per-connection lock guarantees nobody else ran a statement in between).
        before = self._conn.total_changes
        await self._conn.execute_fetchall(sql, args)
        return self._conn.total_changes - before

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor = await self._conn.executemany(sql, rows)
        await cursor.close()

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        rows = list(await self._conn.execute_fetchall(sql, args))
        return rows[0] if rows else None

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, args))


async def _connect(path: Path, timeout: float) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(
        path, isolation_level=None, timeout=timeout, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute_fetchall(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
    except BaseException:
        await conn.close()
        raise
    return conn


def _prepare_file(path: Path, label: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(label, f"cannot create the database file ({exc.strerror})") from exc


async def _enable_wal(conn: aiosqlite.Connection, busy_timeout: float) -> None:
    """Switch the file to WAL, waiting up to ``busy_timeout`` for other processes.

    Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at once
    there instead of calling the busy handler when another connection holds a lock it might
    be waiting for (as when two processes create the same new store together).  Only the
    opening waits, never a request.
    """
    deadline = asyncio.get_running_loop().time() + busy_timeout
    while True:
        try:
            await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if "readonly" in message:
                return  # a read-only file keeps its mode; writes will fail clearly
            if "locked" not in message or asyncio.get_running_loop().time() >= deadline:
                raise
        await asyncio.sleep(0.01)


class SqliteStore(SqlStore):
    """The Store in one SQLite file (``sqlite:///path``)."""

    name = "sqlite"
    dialect = "sqlite"

    def __init__(self, path: Path, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection, *, busy_timeout: float) -> None:
        self.path = path
        self.label = f"sqlite {path}"
        self._writer = writer
        self._reader = reader
        self._wdb = _SqliteDb(writer)
        self._rdb = _SqliteDb(reader)
        self._wlock = asyncio.Lock()
        self._rlock = asyncio.Lock()
        self._closed = False
        self._busy_timeout = busy_timeout
        self._plans: SqlitePlanRunner | None = None

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, migrate: bool = True,
                   busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> SqliteStore:
        """Open (creating if needed) and, unless ``migrate=False``, upgrade the schema."""
        file = Path(path)
        label = f"sqlite {file}"
        _prepare_file(file, label)
        writer: aiosqlite.Connection | None = None
        reader: aiosqlite.Connection | None = None
        try:
            writer = await _connect(file, busy_timeout)
            await _enable_wal(writer, busy_timeout)
            reader = await _connect(file, busy_timeout)
            # Reading the schema is what notices a file that is not a database.
            await reader.execute_fetchall("SELECT COUNT(*) FROM sqlite_master")
        except sqlite3.Error as exc:
            for conn in (reader, writer):
                if conn is not None:
                    await conn.close()
            raise StoreError(label, describe_sqlite_error(exc)) from exc
        store = cls(file, writer, reader, busy_timeout=busy_timeout)
        try:
            store._plans = await SqlitePlanRunner.open(
                file, lock=store._wlock, busy_timeout=busy_timeout, label=label,
                describe=describe_sqlite_error)
        except BaseException as exc:
            await store.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(label, describe_sqlite_error(exc)) from exc
            raise
        if migrate:
            try:
                if await store.schema_version() != migrations.latest_version():
                    await store.migrate()
            except BaseException:
                await store.close()
                raise
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._plans is not None:
            await self._plans.close()
        async with self._wlock, self._rlock:
            for conn in (self._reader, self._writer):
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await conn.close()

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(self.label, describe_sqlite_error(exc))

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Db]:
        async with self._wlock:
            conn = self._writer
            try:
                await conn.execute_fetchall("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            except ValueError as exc:  # aiosqlite: connection closed
                raise StoreError(self.label, "store is closed") from exc
            try:
                yield self._wdb
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute_fetchall("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise
            try:
                await conn.execute_fetchall("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute_fetchall("ROLLBACK")
                raise self._error(exc) from exc

    async def _atomic(self, make_plan: PlanFactory[T]) -> T:
        """Group-commit a plan with concurrent ones (``sqliteplans``)."""
        if self._plans is None or self._closed:
            raise StoreError(self.label, "store is closed")
        return await self._plans.run(make_plan)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Db]:
        async with self._rlock:
            try:
                yield self._rdb
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            except ValueError as exc:
                if self._closed:
                    raise StoreError(self.label, "store is closed") from exc
                raise


__all__ = ["DEFAULT_BUSY_TIMEOUT", "SqliteStore", "describe_sqlite_error"]
