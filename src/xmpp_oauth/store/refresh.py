"""RFC 6749 §6 / RFC 9700 §4.14 refresh-token rotation as one store transaction (a plan).

Theory of operation
-------------------
:func:`use_refresh_plan` is the whole store side of the refresh_token grant, written as a
:mod:`~xmpp_oauth.store.plan`: SQLite runs it in a group commit with concurrent refreshes,
PostgreSQL in one transaction (after a one-statement attempt at the usual case, see
``postgres.py``).  It reads the token joined with its grant, decides, and writes::

    read token + grant --- none ----------------------------------> UNKNOWN
        | other client --------------------- revoke grant -------> WRONG_CLIENT
        | consumed before ------------------ revoke grant -------> REUSED
        | expired / grant revoked -------------------------------> INVALID
        | asked scopes not within the token's ------------------> SCOPE
        v
    UPDATE ... SET consumed_at WHERE consumed_at IS NULL
        | 0 rows (a concurrent use won) ---- revoke grant -------> REUSED
        v
    INSERT new token, touch grant.last_used_at ------------------> ROTATED

The conditional ``UPDATE`` decides races on both engines: SQLite holds its write lock from
``BEGIN IMMEDIATE`` (no other writer runs between the read and the update), and PostgreSQL's
row lock makes the second of two concurrent updates re-check ``consumed_at IS NULL`` against
the committed row and match nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from .base import Grant, RefreshRotation, RefreshToken, RefreshUse
from .plan import Plan, execute, fetchone

#: Revokes the live grants matching a WHERE clause (``SqlCore._revoke_plan``).
RevokePlan = Callable[..., Plan[list[str]]]

REFRESH_COLS: Final = (
    "token_hash, grant_id, client_id, scopes, created_at, expires_at, consumed_at"
)
#: The token's columns under their own names, its grant's prefixed with ``g_``.
_JOINED_COLS: Final = (
    "r.token_hash, r.grant_id, r.client_id, r.scopes, r.created_at, r.expires_at,"
    " r.consumed_at, g.jid AS g_jid, g.client_id AS g_client_id,"
    " g.client_name AS g_client_name, g.scopes AS g_scopes, g.created_at AS g_created_at,"
    " g.last_used_at AS g_last_used_at, g.revoked_at AS g_revoked_at,"
    " g.revoke_reason AS g_revoke_reason, g.auth_time AS g_auth_time"
)
SELECT_JOINED: Final = (
    f"SELECT {_JOINED_COLS} FROM refresh_tokens r"  # noqa: S608
    " LEFT JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = ?"
)
INSERT_REFRESH: Final = (
    f"INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
TOUCH_GRANT: Final = (
    "UPDATE grants SET last_used_at = ? WHERE grant_id = ? AND last_used_at < ?"
)


@lru_cache(maxsize=256)
def _tuple(text: str) -> tuple[str, ...]:
    # Scope lists repeat from token to token; parse each distinct one once.
    return tuple(json.loads(text))


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def refresh_record(r: Any) -> RefreshToken:
    return RefreshToken(
        token_hash=r["token_hash"], grant_id=r["grant_id"], client_id=r["client_id"],
        scopes=_tuple(r["scopes"]), created_at=float(r["created_at"]),
        expires_at=float(r["expires_at"]), consumed_at=_opt(r["consumed_at"]),
    )


def joined_grant(r: Any) -> Grant | None:
    """The grant part of a :data:`SELECT_JOINED` row (``None``: no such grant)."""
    if r["g_jid"] is None:
        return None
    return Grant(
        grant_id=r["grant_id"], jid=r["g_jid"], client_id=r["g_client_id"],
        client_name=r["g_client_name"], scopes=_tuple(r["g_scopes"]),
        created_at=float(r["g_created_at"]), last_used_at=float(r["g_last_used_at"]),
        revoked_at=_opt(r["g_revoked_at"]), revoke_reason=r["g_revoke_reason"],
        auth_time=float(r["g_auth_time"]),
    )


def insert_args(t: RefreshToken, scopes_json: str | None = None) -> tuple[Any, ...]:
    """Arguments of :data:`INSERT_REFRESH` (``scopes_json``: the scopes as already stored)."""
    if scopes_json is None:
        scopes_json = json.dumps(list(t.scopes), separators=(",", ":"), sort_keys=True)
    return (t.token_hash, t.grant_id, t.client_id, scopes_json, t.created_at, t.expires_at,
            t.consumed_at)


def use_refresh_plan(
    token_hash: str,
    *,
    client_id: str | None,
    scopes_within: frozenset[str] | None,
    make_new: Callable[[RefreshToken], RefreshToken],
    revoke: RevokePlan,
    now: float,
) -> Plan[RefreshRotation]:
    """The decision table in the module docstring.

    ``client_id=None`` skips the client check; ``make_new(old)`` returns the new record (it
    may raise ``ValueError`` to abort the transaction).
    """
    row = yield fetchone(SELECT_JOINED, token_hash)
    if row is None:
        return RefreshRotation(RefreshUse.UNKNOWN)
    old = refresh_record(row)
    where = ("grant_id = ?", (old.grant_id,))
    if client_id is not None and old.client_id != client_id:
        # RFC 6749 §10.4: a refresh token is bound to its client; another one holding it
        # means it leaked.
        yield from revoke(*where, reason="refresh_wrong_client", now=now)
        return RefreshRotation(RefreshUse.WRONG_CLIENT, old)
    if old.consumed_at is not None:
        # RFC 9700 §4.14.2: a rotated-away token came back; someone holds a copy.
        yield from revoke(*where, reason="refresh_reuse", now=now)
        return RefreshRotation(RefreshUse.REUSED, old)
    grant = joined_grant(row)
    if old.expires_at <= now or grant is None or grant.revoked_at is not None:
        return RefreshRotation(RefreshUse.INVALID, old)
    if scopes_within is not None and not scopes_within.issubset(old.scopes):
        return RefreshRotation(RefreshUse.SCOPE, old)
    new = make_new(old)
    # Exactly one caller can flip consumed_at from NULL: the race is decided here.
    changed = yield execute(
        "UPDATE refresh_tokens SET consumed_at = ? WHERE token_hash = ? AND consumed_at IS NULL",
        now, token_hash,
    )
    if not changed:
        yield from revoke(*where, reason="refresh_reuse", now=now)
        return RefreshRotation(RefreshUse.REUSED, old)
    same = new.scopes == old.scopes
    yield execute(INSERT_REFRESH, *insert_args(new, row["scopes"] if same else None))
    yield execute(TOUCH_GRANT, now, old.grant_id, now)
    consumed = RefreshToken(
        token_hash=old.token_hash, grant_id=old.grant_id, client_id=old.client_id,
        scopes=old.scopes, created_at=old.created_at, expires_at=old.expires_at,
        consumed_at=now)
    touched = Grant(
        grant_id=grant.grant_id, jid=grant.jid, client_id=grant.client_id,
        client_name=grant.client_name, scopes=grant.scopes, created_at=grant.created_at,
        last_used_at=max(grant.last_used_at, now), revoked_at=None, auth_time=grant.auth_time)
    return RefreshRotation(RefreshUse.ROTATED, consumed, touched)


__all__ = [
    "INSERT_REFRESH",
    "insert_args",
    "REFRESH_COLS",
    "SELECT_JOINED",
    "TOUCH_GRANT",
    "joined_grant",
    "refresh_record",
    "use_refresh_plan",
]
