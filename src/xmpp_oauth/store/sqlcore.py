"""The Store protocol in SQL, shared by the SQLite and PostgreSQL stores.

Theory of operation
-------------------
Each public method is one transaction on a :class:`Db` handle that the dialect class hands
out (``_write()`` for read-modify-write work, ``_read()`` for plain reads).  Statements use
``?`` placeholders; the PostgreSQL handle renumbers them.  Everything that must not happen
twice is a *conditional* ``UPDATE ... WHERE <still allowed> RETURNING``: of two concurrent
callers the database lets exactly one match the row, on both engines (SQLite holds its write
lock from ``BEGIN IMMEDIATE``; PostgreSQL re-checks the ``WHERE`` after the row lock).
Hot read-modify-write paths (refresh rotation, and revocation inside it) are written as
:mod:`~xmpp_oauth.store.plan` plans and run through ``_atomic()``, which the SQLite store
groups with concurrent plans into one commit (``sqliteplans``).

Revocation (DESIGN §3): revoking grants stamps them, deletes their refresh tokens and appends
them to ``revocations`` under a sequence number taken from a one-row counter.  Updating that
row serialises revoking transactions, so sequence order is commit order and a reader that saw
``seq = n`` can never later discover an ``m < n``: ``revoked_grants_since`` is an index range
scan that costs nothing when nothing changed.  New grants are numbered the same way (column
``grants.seq``, counter ``grant``) by every path that creates one, for ``grants_created_since``.

Times are passed in (``now=``).  JSON columns (scopes, metadata) are text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol, TypeVar

from ..errors import StoreError
from . import migrations
from .base import Account, Grant, RefreshRotation, RefreshToken, RefreshUse
from .plan import Plan, PlanFactory, executemany, fetchall, fetchone, run_async
from .refresh import (
    INSERT_REFRESH,
    REFRESH_COLS,
    insert_args,
    refresh_record,
    use_refresh_plan,
)

T = TypeVar("T")

#: How long a revoked grant (and a used code) stays known after its revocation (use), unless
#: the caller of :meth:`SqlStore.purge_expired` says otherwise.  Must exceed every access
#: token lifetime: while a token may be valid, its grant's revocation must be remembered.
DEFAULT_RETENTION: Final = 86400.0


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


class Db(Protocol):
    """One connection inside one transaction (or autocommit, for reads)."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _opt(value: Any) -> float | None:
    # SQLite's RETURNING may hand back an integral REAL as int; records promise floats.
    return None if value is None else float(value)


_ACCOUNT_COLS: Final = (
    "jid, password_hash, scram_sha1, scram_sha256, disabled, created_at, password_changed_at"
)
_GRANT_COLS: Final = (
    "grant_id, jid, client_id, client_name, scopes, created_at, last_used_at, revoked_at,"
    " revoke_reason, auth_time"
)
_INSERT_GRANT: Final = (
    f"INSERT INTO grants ({_GRANT_COLS}, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)

def _account(r: Row) -> Account:
    return Account(
        jid=r["jid"], password_hash=r["password_hash"], scram_sha1=r["scram_sha1"],
        scram_sha256=r["scram_sha256"], disabled=bool(r["disabled"]),
        created_at=float(r["created_at"]), password_changed_at=float(r["password_changed_at"]),
    )


def _grant(r: Row) -> Grant:
    return Grant(
        grant_id=r["grant_id"], jid=r["jid"], client_id=r["client_id"],
        client_name=r["client_name"], scopes=_tuple(r["scopes"]), created_at=float(r["created_at"]),
        last_used_at=float(r["last_used_at"]), revoked_at=_opt(r["revoked_at"]),
        revoke_reason=r["revoke_reason"], auth_time=float(r["auth_time"]),
    )


def _grant_args(g: Grant) -> tuple[Any, ...]:
    return (g.grant_id, g.jid, g.client_id, g.client_name, _json(list(g.scopes)), g.created_at,
            g.last_used_at, g.revoked_at, g.revoke_reason, g.auth_time)


_refresh = refresh_record

class SqlCore:
    """Schema, accounts, grants, revocation and refresh tokens; see :class:`SqlStore`."""

    name: str = "sql"
    dialect: str = "sqlite"
    #: "<kind> <where>", e.g. ``sqlite /var/lib/x.sqlite3``: the prefix of every StoreError.
    label: str = "sql"
    #: A query returning a row iff the schema_version table exists (no writes: read-only
    #: databases must still open).
    _version_table_probe: str = (
        "SELECT 1 AS hit FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    )

    # -- supplied by the dialect ------------------------------------------------------------
    def _write(self) -> AbstractAsyncContextManager[Db]:
        raise NotImplementedError

    def _read(self) -> AbstractAsyncContextManager[Db]:
        raise NotImplementedError

    async def _lock_schema(self, db: Db) -> None:
        """Serialise concurrent migrators (SQLite's write lock already does)."""

    def _notify_revocation(self, seq: int) -> Plan[None]:
        """Steps telling listening processes that ``seq`` was committed (PostgreSQL NOTIFY)."""
        yield from ()

    async def _atomic(self, make_plan: PlanFactory[T]) -> T:
        """Run a plan as one write transaction (SQLite: grouped with concurrent ones)."""
        async with self._write() as db:
            return await run_async(db, make_plan())

    async def close(self) -> None:
        raise NotImplementedError

    def _fail(self, problem: str) -> StoreError:
        return StoreError(self.label, problem)

    # -- schema -----------------------------------------------------------------------------
    async def schema_version(self) -> int:
        """The applied schema version (0 for an empty database)."""
        async with self._read() as db:
            if await db.fetchone(self._version_table_probe) is None:
                return 0
            row = await db.fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"] or 0) if row is not None else 0

    async def migrate(self, *, target: int | None = None) -> int:
        """Apply pending migrations (each in its own transaction); returns the version."""
        steps = migrations.load(self.dialect)
        goal = len(steps) if target is None else target
        while True:
            async with self._write() as db:
                await self._lock_schema(db)
                await db.execute(migrations.render(migrations.VERSION_TABLE_SQL, self.dialect))
                row = await db.fetchone("SELECT MAX(version) AS v FROM schema_version")
                current = int(row["v"] or 0) if row is not None else 0
                if current > len(steps):
                    raise self._fail(f"schema version {current} is newer than this program "
                                     f"supports ({len(steps)}); upgrade xmpp-oauth")
                if current >= goal:
                    return current
                step = steps[current]
                for statement in step.statements:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    step.version, step.name, time.time(),
                )

    # -- accounts ---------------------------------------------------------------------------
    async def create_account(self, account: Account) -> None:
        async with self._write() as db:
            added = await db.execute(
                f"INSERT INTO accounts ({_ACCOUNT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
                " ON CONFLICT (jid) DO NOTHING",
                account.jid, account.password_hash, account.scram_sha1, account.scram_sha256,
                int(account.disabled), account.created_at, account.password_changed_at,
            )
            if not added:
                raise self._fail(f"account {account.jid} already exists")

    async def get_account(self, jid: str) -> Account | None:
        async with self._read() as db:
            row = await db.fetchone(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE jid = ?", jid)  # noqa: S608
        return _account(row) if row is not None else None

    async def list_accounts(self) -> list[Account]:
        async with self._read() as db:
            rows = await db.fetchall(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY jid")  # noqa: S608
        return [_account(r) for r in rows]

    async def update_account_credentials(
        self, jid: str, *, password_hash: str, scram_sha1: str, scram_sha256: str, now: float
    ) -> None:
        async with self._write() as db:
            changed = await db.execute(
                "UPDATE accounts SET password_hash = ?, scram_sha1 = ?, scram_sha256 = ?,"
                " password_changed_at = ? WHERE jid = ?",
                password_hash, scram_sha1, scram_sha256, now, jid,
            )
            if not changed:
                raise self._fail(f"no account {jid}")
            # A new password ends every existing authorization (DESIGN §3).
            await self._revoke(db, "jid = ?", (jid,), reason="password_changed", now=now)
            await db.execute("DELETE FROM login_sessions WHERE jid = ?", jid)

    async def set_account_disabled(self, jid: str, disabled: bool, *, now: float) -> None:
        async with self._write() as db:
            changed = await db.execute(
                "UPDATE accounts SET disabled = ? WHERE jid = ?", int(disabled), jid
            )
            if not changed:
                raise self._fail(f"no account {jid}")
            if disabled:
                await self._revoke(db, "jid = ?", (jid,), reason="account_disabled", now=now)
                await db.execute("DELETE FROM login_sessions WHERE jid = ?", jid)

    async def delete_account(self, jid: str, *, now: float) -> None:
        async with self._write() as db:
            await self._revoke(db, "jid = ?", (jid,), reason="account_deleted", now=now)
            await db.execute("DELETE FROM login_sessions WHERE jid = ?", jid)
            await db.execute("DELETE FROM consents WHERE jid = ?", jid)
            await db.execute("DELETE FROM accounts WHERE jid = ?", jid)

    # -- grants and revocation --------------------------------------------------------------
    async def create_grant(self, grant: Grant) -> None:
        async with self._write() as db:
            await self._insert_grant(db, grant)

    async def _insert_grant(self, db: Db, grant: Grant) -> None:
        """Insert ``grant`` under the next creation number, inside the caller's transaction.

        Every path that creates a grant comes through here.  Updating the counter row
        serialises creators until commit (SQLite: the write lock; PostgreSQL: the row lock),
        so creation numbers become visible in order; take it last, after any other row lock.
        """
        counter = await db.fetchone(
            "UPDATE counters SET value = value + 1 WHERE name = 'grant' RETURNING value"
        )
        assert counter is not None
        await db.execute(_INSERT_GRANT, *_grant_args(grant), int(counter["value"]))

    async def get_grant(self, grant_id: str) -> Grant | None:
        async with self._read() as db:
            row = await db.fetchone(f"SELECT {_GRANT_COLS} FROM grants WHERE grant_id = ?",  # noqa: S608
                                    grant_id)
        return _grant(row) if row is not None else None

    async def list_grants(
        self, jid: str, *, include_revoked: bool = False, limit: int | None = None
    ) -> list[Grant]:
        """A user's grants, newest first; ``limit`` bounds the page (cost stays flat)."""
        sql = f"SELECT {_GRANT_COLS} FROM grants WHERE jid = ?"  # noqa: S608
        if not include_revoked:
            sql += " AND revoked_at IS NULL"
        sql += " ORDER BY created_at DESC, grant_id DESC"
        args: tuple[Any, ...] = (jid,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        async with self._read() as db:
            rows = await db.fetchall(sql, *args)
        return [_grant(r) for r in rows]

    async def touch_grant(self, grant_id: str, *, now: float) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE grants SET last_used_at = ? WHERE grant_id = ? AND last_used_at < ?",
                now, grant_id, now,
            )

    async def revoke_grant(self, grant_id: str, *, reason: str, now: float) -> bool:
        async with self._write() as db:
            return bool(await self._revoke(db, "grant_id = ?", (grant_id,), reason=reason,
                                           now=now))

    async def revoke_grants(
        self, jid: str, *, client_id: str | None = None, reason: str, now: float
    ) -> list[str]:
        where: str = "jid = ?"
        args: tuple[str, ...] = (jid,)
        if client_id is not None:
            where, args = "jid = ? AND client_id = ?", (jid, client_id)
        async with self._write() as db:
            return await self._revoke(db, where, args, reason=reason, now=now)

    async def _revoke(
        self, db: Db, where: str, args: tuple[Any, ...], *, reason: str, now: float
    ) -> list[str]:
        """Revoke the live grants matching ``where`` inside the caller's transaction."""
        return await run_async(db, self._revoke_plan(where, args, reason=reason, now=now))

    def _revoke_plan(
        self, where: str, args: tuple[Any, ...], *, reason: str, now: float
    ) -> Plan[list[str]]:
        rows = yield fetchall(
            "UPDATE grants SET revoked_at = ?, revoke_reason = ?"  # noqa: S608
            f" WHERE revoked_at IS NULL AND {where} RETURNING grant_id",
            now, reason, *args,
        )
        ids = [r["grant_id"] for r in rows]
        if not ids:
            return ids
        # RFC 7009 §2.1: revoking the authorization invalidates its refresh tokens too.
        yield executemany("DELETE FROM refresh_tokens WHERE grant_id = ?", [(i,) for i in ids])
        counter = yield fetchone(
            "UPDATE counters SET value = value + 1 WHERE name = 'revocation' RETURNING value"
        )
        assert counter is not None
        seq = int(counter["value"])
        yield executemany(
            "INSERT INTO revocations (grant_id, seq, revoked_at) VALUES (?, ?, ?)"
            " ON CONFLICT (grant_id) DO UPDATE SET seq = excluded.seq,"
            " revoked_at = excluded.revoked_at",
            [(i, seq, now) for i in ids],
        )
        yield from self._notify_revocation(seq)
        return ids

    async def revoked_grants_since(self, cursor: int) -> tuple[list[str], int]:
        async with self._read() as db:
            rows = await db.fetchall(
                "SELECT grant_id, seq FROM revocations WHERE seq > ? ORDER BY seq", cursor
            )
        if not rows:
            return [], cursor
        return [r["grant_id"] for r in rows], int(rows[-1]["seq"])

    async def grants_created_since(
        self, cursor: int, *, limit: int = 200
    ) -> tuple[list[Grant], int]:
        async with self._read() as db:
            if cursor < 0:
                row = await db.fetchone("SELECT value FROM counters WHERE name = 'grant'")
                assert row is not None
                return [], int(row["value"])
            rows = await db.fetchall(
                f"SELECT {_GRANT_COLS}, seq FROM grants WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
                cursor, limit,
            )
        if not rows:
            return [], cursor
        return [_grant(r) for r in rows], int(rows[-1]["seq"])

    # -- refresh tokens (RFC 6749 §6, RFC 9700 §4.14) ----------------------------------------
    async def add_refresh_token(self, token: RefreshToken) -> None:
        async with self._write() as db:
            await self._insert_refresh(db, token)

    async def _insert_refresh(self, db: Db, t: RefreshToken) -> None:
        await db.execute(INSERT_REFRESH, *insert_args(t))

    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        async with self._read() as db:
            row = await db.fetchone(
                f"SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?", token_hash  # noqa: S608
            )
        return _refresh(row) if row is not None else None

    async def rotate_refresh_token(
        self, old_hash: str, new: RefreshToken, *, now: float
    ) -> RefreshToken | None:
        def checked(old: RefreshToken) -> RefreshToken:
            if new.grant_id != old.grant_id:
                raise ValueError("the new refresh token must belong to the same grant")
            return new

        used = await self._atomic(lambda: use_refresh_plan(
            old_hash, client_id=None, scopes_within=None, make_new=checked,
            revoke=self._revoke_plan, now=now))
        return used.token if used.outcome is RefreshUse.ROTATED else None

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
        def successor(old: RefreshToken) -> RefreshToken:
            # RFC 6749 §6: the new refresh token keeps the original scope.
            return RefreshToken(token_hash=new_hash, grant_id=old.grant_id,
                                client_id=old.client_id, scopes=old.scopes, created_at=now,
                                expires_at=expires_at)

        return await self._atomic(lambda: use_refresh_plan(
            token_hash, client_id=client_id, scopes_within=scopes_within, make_new=successor,
            revoke=self._revoke_plan, now=now))


__all__ = ["DEFAULT_RETENTION", "Db", "Row", "SqlCore"]
