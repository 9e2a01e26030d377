"""The store for deployments that outgrow one host: PostgreSQL through an asyncpg pool.

Several service processes on several hosts share one database.  Atomic steps (rotating a
refresh token, redeeming a code) are conditional ``UPDATE ... RETURNING`` statements under
READ COMMITTED: a second transaction touching the same row waits for the first's row lock,
then re-evaluates its ``WHERE`` against the committed row and matches nothing.

Revocations are announced with ``NOTIFY`` on :data:`CHANNEL` inside the revoking transaction
(PostgreSQL delivers it on commit); :meth:`PostgresStore.listen_revocations` opens a dedicated
connection that ``LISTEN``s, so other processes refresh at once instead of at the next poll.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import asyncpg

from ..errors import StoreError
from . import migrations
from .sql import SqlStore
from .sqlcore import Db, Row

#: The NOTIFY channel revocations are announced on (payload: the new sequence number).
CHANNEL: Final = "xmpp_oauth_revocations"
#: pg_advisory_xact_lock key serialising schema migrations ("xmpp" in ASCII).
_MIGRATION_LOCK: Final = 0x786D7070
DEFAULT_CONNECT_TIMEOUT: Final = 10.0

_PG_ERRORS: Final = (
    asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
    TimeoutError,
)


def store_label(url: str) -> str:
    """``postgresql host:port/db`` for messages: never the user name or password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host", [""])[0]) or "localhost"
    port = parts.port or int(query.get("port", ["5432"])[0])
    database = parts.path.lstrip("/")
    return f"postgresql {host}:{port}" + (f"/{database}" if database else "")


def describe_pg_error(exc: BaseException) -> str:
    """A short, operator-facing description of a PostgreSQL or connection failure."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is PostgreSQL running there?)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"database does not exist ({exc})"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"authentication failed ({exc})"
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return f"database is read-only ({exc})"
    if isinstance(exc, asyncpg.UniqueViolationError):
        return f"record already exists ({exc})"
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError
                  | asyncpg.InternalClientError):
        return f"connection lost ({exc})"
    if isinstance(exc, OSError):
        return f"cannot connect ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__


@lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``$1, $2, ...`` (our SQL has no ``?`` in literals)."""
    out: list[str] = []
    n = 0
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgDb:
    """A :class:`~xmpp_oauth.store.sql.Db` over an asyncpg connection or pool."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(_numbered(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(_numbered(sql), rows)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._conn.fetchrow(_numbered(sql), *args)
        return row

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._conn.fetch(_numbered(sql), *args))


class RevocationSubscription:
    """A LISTEN connection; ``alive`` turns false when the server drops it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @property
    def alive(self) -> bool:
        return not self._conn.is_closed()

    async def close(self) -> None:
        if not self._conn.is_closed():
            try:
                await self._conn.close(timeout=2)
            except _PG_ERRORS:
                self._conn.terminate()


class PostgresStore(SqlStore):
    """The Store in PostgreSQL (``postgresql://user@host:port/db``)."""

    name = "postgresql"
    dialect = "postgresql"
    _version_table_probe = "SELECT 1 AS hit WHERE to_regclass('schema_version') IS NOT NULL"

    def __init__(self, url: str, pool: asyncpg.Pool, *, connect_timeout: float) -> None:
        self.label = store_label(url)
        self._url = url
        self._pool = pool
        self._connect_timeout = connect_timeout

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, min_size: int = 1,
                   max_size: int = 10,
                   connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> PostgresStore:
        """Connect a pool and, unless ``migrate=False``, upgrade the schema."""
        try:
            pool = await asyncpg.create_pool(
                url, min_size=min_size, max_size=max_size, timeout=connect_timeout,
                command_timeout=60,
            )
        except _PG_ERRORS as exc:
            raise StoreError(store_label(url), describe_pg_error(exc)) from exc
        store = cls(url, pool, connect_timeout=connect_timeout)
        if migrate:
            try:
                if await store.schema_version() != migrations.latest_version():
                    await store.migrate()
            except BaseException:
                await store.close()
                raise
        return store

    async def close(self) -> None:
        try:
            await self._pool.close()
        except _PG_ERRORS:
            self._pool.terminate()

    def _error(self, exc: BaseException) -> StoreError:
        return StoreError(self.label, describe_pg_error(exc))

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Db]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PgDb(conn)
        except _PG_ERRORS as exc:
            raise self._error(exc) from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Db]:
        try:
            yield _PgDb(self._pool)
        except _PG_ERRORS as exc:
            raise self._error(exc) from exc

    async def _lock_schema(self, db: Db) -> None:
        await db.execute("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)

    async def _notify_revocation(self, db: Db, seq: int) -> None:
        await db.execute("SELECT pg_notify(?, ?)", CHANNEL, str(seq))

    async def listen_revocations(self, callback: Callable[[], None]) -> RevocationSubscription:
        """Call ``callback`` (in the event loop) whenever some process commits a revocation."""
        try:
            conn = await asyncpg.connect(self._url, timeout=self._connect_timeout)
            await conn.add_listener(CHANNEL, lambda *_args: callback())
        except _PG_ERRORS as exc:
            raise self._error(exc) from exc
        return RevocationSubscription(conn)


__all__ = ["CHANNEL", "PostgresStore", "RevocationSubscription", "describe_pg_error",
           "store_label"]
