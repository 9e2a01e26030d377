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

import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import asyncpg

from ..errors import StoreError
from . import migrations
from .base import RefreshRotation, RefreshUse
from .plan import Plan, execute
from .refresh import joined_grant, refresh_record
from .sql import SqlStore
from .sqlcore import Db, Row

#: The NOTIFY channel revocations are announced on (payload: the new sequence number).
CHANNEL: Final = "xmpp_oauth_revocations"
#: pg_advisory_xact_lock key serialising schema migrations ("xmpp" in ASCII).
_MIGRATION_LOCK: Final = 0x786D7070
DEFAULT_CONNECT_TIMEOUT: Final = 10.0

#: The successful path of ``refresh.use_refresh_plan`` as one statement: consume the token if
#: it is this client's, unconsumed, unexpired, of a live grant and covers the asked scopes
#: ($4, JSON array or NULL); insert its successor; touch the grant; return the joined row.
#: A concurrent rotation of the same token waits for the row lock, re-checks
#: ``consumed_at IS NULL`` and matches nothing (then the plan reports reuse).
_ROTATE_SQL: Final = """
WITH used AS (
    UPDATE refresh_tokens r SET consumed_at = $1
    FROM grants g
    WHERE r.token_hash = $2 AND r.consumed_at IS NULL AND r.expires_at > $1
      AND r.client_id = $3 AND g.grant_id = r.grant_id AND g.revoked_at IS NULL
      AND ($4::text IS NULL OR r.scopes::jsonb @> $4::jsonb)
    RETURNING r.token_hash, r.grant_id, r.client_id, r.scopes, r.created_at, r.expires_at,
        r.consumed_at, g.jid AS g_jid, g.client_id AS g_client_id,
        g.client_name AS g_client_name, g.scopes AS g_scopes, g.created_at AS g_created_at,
        GREATEST(g.last_used_at, $1) AS g_last_used_at, g.revoked_at AS g_revoked_at,
        g.revoke_reason AS g_revoke_reason, g.auth_time AS g_auth_time
), added AS (
    INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at,
                                expires_at, consumed_at)
    SELECT $5, grant_id, client_id, scopes, $1, $6, NULL FROM used
), touched AS (
    UPDATE grants SET last_used_at = $1
    WHERE grant_id IN (SELECT grant_id FROM used) AND last_used_at < $1
)
SELECT * FROM used
"""

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

    def _notify_revocation(self, seq: int) -> Plan[None]:
        yield execute("SELECT pg_notify(?, ?)", CHANNEL, str(seq))

    async def use_refresh_token(
        self,
        token_hash: str,
        *,
        client_id: str,
        new_hash: str,
        expires_at: float,
        scopes_within: frozenset[str] | None = None,
        now: float,
    ) -> RefreshRotation:
        """One round trip when the token is good (the common case), else the full plan.

        The statement consumes the token only if every check of the plan passes; when it
        matches nothing, the plan runs in a transaction to find out why (and to revoke the
        grant on reuse or a wrong client) exactly as the SQLite store does.
        """
        within = None if scopes_within is None else json.dumps(sorted(scopes_within))
        try:
            row = await self._pool.fetchrow(
                _ROTATE_SQL, now, token_hash, client_id, within, new_hash, expires_at)
        except _PG_ERRORS as exc:
            raise self._error(exc) from exc
        if row is not None:
            return RefreshRotation(RefreshUse.ROTATED, refresh_record(row), joined_grant(row))
        return await super().use_refresh_token(
            token_hash, client_id=client_id, new_hash=new_hash, expires_at=expires_at,
            scopes_within=scopes_within, now=now)

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
