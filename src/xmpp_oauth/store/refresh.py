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


#: Positions in a :data:`SELECT_JOINED` row (the PostgreSQL rotation returns the same
#: columns in the same order; a plain token row has the first seven).  The hot path reads
#: rows by position: a name lookup compares column names one by one.
(_HASH, _GRANT_ID, _CLIENT_ID, _SCOPES, _CREATED, _EXPIRES, _CONSUMED, _G_JID, _G_CLIENT_ID,
 _G_CLIENT_NAME, _G_SCOPES, _G_CREATED, _G_LAST_USED, _G_REVOKED, _G_REASON,
 _G_AUTH_TIME) = range(16)
CONSUME: Final = (
    "UPDATE refresh_tokens SET consumed_at = ? WHERE token_hash = ? AND consumed_at IS NULL"
)


@lru_cache(maxsize=256)
def _tuple(text: str) -> tuple[str, ...]:
    # Scope lists repeat from token to token; parse each distinct one once.
    return tuple(json.loads(text))


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def refresh_record(r: Any, *, consumed_at: float | None = None) -> RefreshToken:
    """The token of a row whose first columns are :data:`REFRESH_COLS`, in that order
    (``consumed_at``: the value to record instead of the stored one)."""
    return RefreshToken(
        token_hash=r[_HASH], grant_id=r[_GRANT_ID], client_id=r[_CLIENT_ID],
        scopes=_tuple(r[_SCOPES]), created_at=float(r[_CREATED]),
        expires_at=float(r[_EXPIRES]),
        consumed_at=_opt(r[_CONSUMED]) if consumed_at is None else consumed_at,
    )


def joined_grant(r: Any, *, used_at: float | None = None) -> Grant | None:
    """The grant part of a :data:`SELECT_JOINED` row (``None``: no such grant);
    ``used_at``: the time of a use just recorded (``last_used_at`` never goes back)."""
    if r[_G_JID] is None:
        return None
    last_used = float(r[_G_LAST_USED])
    return Grant(
        grant_id=r[_GRANT_ID], jid=r[_G_JID], client_id=r[_G_CLIENT_ID],
        client_name=r[_G_CLIENT_NAME], scopes=_tuple(r[_G_SCOPES]),
        created_at=float(r[_G_CREATED]),
        last_used_at=last_used if used_at is None or used_at < last_used else used_at,
        revoked_at=_opt(r[_G_REVOKED]), revoke_reason=r[_G_REASON],
        auth_time=float(r[_G_AUTH_TIME]),
    )


def insert_args(t: RefreshToken, scopes_json: str | None = None) -> tuple[Any, ...]:
    """Arguments of :data:`INSERT_REFRESH` (``scopes_json``: the scopes as already stored)."""
    if scopes_json is None:
        scopes_json = json.dumps(list(t.scopes), separators=(",", ":"), sort_keys=True)
    return (t.token_hash, t.grant_id, t.client_id, scopes_json, t.created_at, t.expires_at,
            t.consumed_at)


_UNKNOWN: Final = RefreshRotation(RefreshUse.UNKNOWN)


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

    ``client_id=None`` skips the client check; ``make_new(token)`` gets the presented token
    (as it will be once consumed) and returns the new record (it may raise ``ValueError`` to
    abort the transaction).  The checks read the row itself; records are built only for
    what is returned (this runs once per refresh, on the event loop).
    """
    row = yield fetchone(SELECT_JOINED, token_hash)
    if row is None:
        return _UNKNOWN
    grant_id = row[_GRANT_ID]
    if client_id is not None and row[_CLIENT_ID] != client_id:
        # RFC 6749 §10.4: a refresh token is bound to its client; another one holding it
        # means it leaked.
        yield from revoke("grant_id = ?", (grant_id,), reason="refresh_wrong_client", now=now)
        return RefreshRotation(RefreshUse.WRONG_CLIENT, refresh_record(row))
    if row[_CONSUMED] is not None:
        # RFC 9700 §4.14.2: a rotated-away token came back; someone holds a copy.
        yield from revoke("grant_id = ?", (grant_id,), reason="refresh_reuse", now=now)
        return RefreshRotation(RefreshUse.REUSED, refresh_record(row))
    if float(row[_EXPIRES]) <= now or row[_G_JID] is None or row[_G_REVOKED] is not None:
        return RefreshRotation(RefreshUse.INVALID, refresh_record(row))
    consumed = refresh_record(row, consumed_at=now)
    if scopes_within is not None and not scopes_within.issubset(consumed.scopes):
        return RefreshRotation(RefreshUse.SCOPE, refresh_record(row))
    new = make_new(consumed)
    # Exactly one caller can flip consumed_at from NULL: the race is decided here.
    changed = yield execute(CONSUME, now, token_hash)
    if not changed:
        yield from revoke("grant_id = ?", (grant_id,), reason="refresh_reuse", now=now)
        return RefreshRotation(RefreshUse.REUSED, refresh_record(row))
    same = new.scopes == consumed.scopes
    yield execute(INSERT_REFRESH, *insert_args(new, row[_SCOPES] if same else None))
    yield execute(TOUCH_GRANT, now, grant_id, now)
    return RefreshRotation(RefreshUse.ROTATED, consumed, joined_grant(row, used_at=now))


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
