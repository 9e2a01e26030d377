"""The Store protocol in SQL: codes, device codes, consent, sessions, keys, clients,
throttling and housekeeping on top of :class:`~xmpp_oauth.store.sqlcore.SqlCore`.

Same rules as there: one transaction per method, ``?`` placeholders, every single-use step a
conditional ``UPDATE ... RETURNING`` so that concurrent callers cannot both succeed.
"""

from __future__ import annotations

import json
from typing import Final

from .base import (
    AuthorizationCode,
    Consent,
    DeviceCode,
    DeviceStatus,
    Grant,
    LoginSession,
    StoredClient,
    StoredKey,
)
from .sqlcore import (
    DEFAULT_RETENTION,
    Row,
    SqlCore,
    _json,
    _opt,
    _tuple,
)

_CODE_COLS: Final = (
    "code_hash, client_id, client_name, jid, redirect_uri, scopes, code_challenge,"
    " code_challenge_method, nonce, auth_time, created_at, expires_at, used_at, grant_id, extra"
)
_DEVICE_COLS: Final = (
    "device_code_hash, user_code, client_id, client_name, scopes, created_at, expires_at,"
    " poll_interval, status, last_polled_at, jid, auth_time, grant_id"
)
def _code(r: Row) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=r["code_hash"], client_id=r["client_id"], client_name=r["client_name"],
        jid=r["jid"], redirect_uri=r["redirect_uri"], scopes=_tuple(r["scopes"]),
        code_challenge=r["code_challenge"], code_challenge_method=r["code_challenge_method"],
        nonce=r["nonce"], auth_time=float(r["auth_time"]), created_at=float(r["created_at"]),
        expires_at=float(r["expires_at"]), used_at=_opt(r["used_at"]), grant_id=r["grant_id"],
        extra=json.loads(r["extra"]),
    )


def _device(r: Row) -> DeviceCode:
    return DeviceCode(
        device_code_hash=r["device_code_hash"], user_code=r["user_code"],
        client_id=r["client_id"], client_name=r["client_name"], scopes=_tuple(r["scopes"]),
        created_at=float(r["created_at"]), expires_at=float(r["expires_at"]),
        interval=int(r["poll_interval"]), status=DeviceStatus(r["status"]),
        last_polled_at=float(r["last_polled_at"]), jid=r["jid"], auth_time=float(r["auth_time"]),
        grant_id=r["grant_id"],
    )

def _client(r: Row) -> StoredClient:
    return StoredClient(client_id=r["client_id"], client_secret_hash=r["client_secret_hash"],
                        metadata=json.loads(r["metadata"]), created_at=float(r["created_at"]))



class SqlStore(SqlCore):
    """Every Store method, written once; subclasses supply connections and dialect hooks."""

    # -- authorization codes (RFC 6749 §4.1.2) -----------------------------------------------
    async def add_authorization_code(self, code: AuthorizationCode) -> None:
        c = code
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO authorization_codes ({_CODE_COLS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                c.code_hash, c.client_id, c.client_name, c.jid, c.redirect_uri,
                _json(list(c.scopes)), c.code_challenge, c.code_challenge_method, c.nonce,
                c.auth_time, c.created_at, c.expires_at, c.used_at, c.grant_id, _json(c.extra),
            )

    async def redeem_authorization_code(
        self, code_hash: str, *, grant_id: str, now: float
    ) -> AuthorizationCode | None:
        async with self._write() as db:
            row = await db.fetchone(
                "UPDATE authorization_codes SET used_at = ?, grant_id = ?"  # noqa: S608
                " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?"
                f" RETURNING {_CODE_COLS}",
                now, grant_id, code_hash, now,
            )
            if row is None:
                old = await db.fetchone(
                    "SELECT used_at, grant_id FROM authorization_codes WHERE code_hash = ?",
                    code_hash,
                )
                if old is not None and old["used_at"] is not None and old["grant_id"]:
                    # RFC 6749 §4.1.2: a code used twice -> revoke what it issued.
                    await self._revoke(db, "grant_id = ?", (old["grant_id"],),
                                       reason="code_replay", now=now)
                return None
            code = _code(row)
            await self._insert_grant(db, Grant(
                grant_id=grant_id, jid=code.jid, client_id=code.client_id,
                client_name=code.client_name, scopes=code.scopes, created_at=now,
                last_used_at=now, auth_time=code.auth_time,
            ))
            return code

    # -- device codes (RFC 8628) -------------------------------------------------------------
    async def add_device_code(self, device: DeviceCode) -> None:
        d = device
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO device_codes ({_DEVICE_COLS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                d.device_code_hash, d.user_code, d.client_id, d.client_name,
                _json(list(d.scopes)), d.created_at, d.expires_at, d.interval, d.status.value,
                d.last_polled_at, d.jid, d.auth_time, d.grant_id,
            )

    async def get_device_code_by_user_code(self, user_code: str) -> DeviceCode | None:
        async with self._read() as db:
            row = await db.fetchone(
                f"SELECT {_DEVICE_COLS} FROM device_codes WHERE user_code = ?", user_code  # noqa: S608
            )
        return _device(row) if row is not None else None

    async def decide_device_code(
        self, user_code: str, *, approve: bool, jid: str, auth_time: float, now: float
    ) -> bool:
        status = DeviceStatus.APPROVED if approve else DeviceStatus.DENIED
        async with self._write() as db:
            return bool(await db.execute(
                "UPDATE device_codes SET status = ?, jid = ?, auth_time = ?"
                " WHERE user_code = ? AND status = ? AND expires_at > ?",
                status.value, jid, auth_time, user_code, DeviceStatus.PENDING.value, now,
            ))

    async def poll_device_code(self, device_code_hash: str, *, now: float) -> DeviceCode | None:
        async with self._write() as db:
            row = await db.fetchone(
                f"SELECT {_DEVICE_COLS} FROM device_codes WHERE device_code_hash = ?",  # noqa: S608
                device_code_hash,
            )
            if row is None:
                return None
            await db.execute(
                "UPDATE device_codes SET last_polled_at = ? WHERE device_code_hash = ?",
                now, device_code_hash,
            )
            return _device(row)

    async def redeem_device_code(
        self, device_code_hash: str, *, grant_id: str, now: float
    ) -> DeviceCode | None:
        async with self._write() as db:
            row = await db.fetchone(
                "UPDATE device_codes SET status = ?, grant_id = ?"  # noqa: S608
                " WHERE device_code_hash = ? AND status = ? AND expires_at > ?"
                f" RETURNING {_DEVICE_COLS}",
                DeviceStatus.CONSUMED.value, grant_id, device_code_hash,
                DeviceStatus.APPROVED.value, now,
            )
            if row is None:
                return None
            device = _device(row)
            await self._insert_grant(db, Grant(
                grant_id=grant_id, jid=device.jid, client_id=device.client_id,
                client_name=device.client_name, scopes=device.scopes, created_at=now,
                last_used_at=now, auth_time=device.auth_time,
            ))
            return device

    # -- consent -----------------------------------------------------------------------------
    async def remember_consent(self, consent: Consent) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO consents (jid, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (jid, client_id) DO UPDATE SET scopes = excluded.scopes,"
                " granted_at = excluded.granted_at",
                consent.jid, consent.client_id, _json(list(consent.scopes)), consent.granted_at,
            )

    async def get_consent(self, jid: str, client_id: str) -> Consent | None:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT jid, client_id, scopes, granted_at FROM consents"
                " WHERE jid = ? AND client_id = ?", jid, client_id,
            )
        if row is None:
            return None
        return Consent(jid=row["jid"], client_id=row["client_id"], scopes=_tuple(row["scopes"]),
                       granted_at=float(row["granted_at"]))

    async def forget_consent(self, jid: str, client_id: str | None = None) -> None:
        async with self._write() as db:
            if client_id is None:
                await db.execute("DELETE FROM consents WHERE jid = ?", jid)
            else:
                await db.execute("DELETE FROM consents WHERE jid = ? AND client_id = ?",
                                 jid, client_id)

    # -- login sessions ----------------------------------------------------------------------
    async def create_session(self, session: LoginSession) -> None:
        s = session
        async with self._write() as db:
            await db.execute(
                "INSERT INTO login_sessions (session_hash, jid, auth_time, created_at,"
                " expires_at, amr) VALUES (?, ?, ?, ?, ?, ?)",
                s.session_hash, s.jid, s.auth_time, s.created_at, s.expires_at,
                _json(list(s.amr)),
            )

    async def get_session(self, session_hash: str, *, now: float) -> LoginSession | None:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT session_hash, jid, auth_time, created_at, expires_at, amr"
                " FROM login_sessions WHERE session_hash = ? AND expires_at > ?",
                session_hash, now,
            )
        if row is None:
            return None
        return LoginSession(session_hash=row["session_hash"], jid=row["jid"],
                            auth_time=float(row["auth_time"]),
                            created_at=float(row["created_at"]),
                            expires_at=float(row["expires_at"]), amr=_tuple(row["amr"]))

    async def delete_session(self, session_hash: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM login_sessions WHERE session_hash = ?", session_hash)

    async def delete_sessions(self, jid: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM login_sessions WHERE jid = ?", jid)

    # -- signing keys ------------------------------------------------------------------------
    async def add_signing_key(self, key: StoredKey) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO signing_keys (kid, alg, private_pem, created_at, retired_at)"
                " VALUES (?, ?, ?, ?, ?)",
                key.kid, key.alg, key.private_pem, key.created_at, key.retired_at,
            )

    async def list_signing_keys(self) -> list[StoredKey]:
        async with self._read() as db:
            rows = await db.fetchall(
                "SELECT kid, alg, private_pem, created_at, retired_at FROM signing_keys"
                " ORDER BY created_at, kid"
            )
        return [StoredKey(kid=r["kid"], alg=r["alg"], private_pem=bytes(r["private_pem"]),
                          created_at=float(r["created_at"]), retired_at=_opt(r["retired_at"]))
                for r in rows]

    async def retire_signing_key(self, kid: str, *, now: float) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL",
                now, kid,
            )

    async def delete_signing_key(self, kid: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM signing_keys WHERE kid = ?", kid)

    # -- clients -----------------------------------------------------------------------------
    async def add_client(self, client: StoredClient) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO clients (client_id, client_secret_hash, metadata, created_at)"
                " VALUES (?, ?, ?, ?)",
                client.client_id, client.client_secret_hash, _json(client.metadata),
                client.created_at,
            )

    async def get_client(self, client_id: str) -> StoredClient | None:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT client_id, client_secret_hash, metadata, created_at FROM clients"
                " WHERE client_id = ?", client_id,
            )
        return _client(row) if row is not None else None

    async def list_clients(self) -> list[StoredClient]:
        async with self._read() as db:
            rows = await db.fetchall(
                "SELECT client_id, client_secret_hash, metadata, created_at FROM clients"
                " ORDER BY created_at, client_id"
            )
        return [_client(r) for r in rows]

    async def delete_client(self, client_id: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM clients WHERE client_id = ?", client_id)

    async def revoke_client(
        self, client_id: str, *, now: float, reason: str = "client_revoked"
    ) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO revoked_clients (client_id, revoked_at, reason) VALUES (?, ?, ?)"
                " ON CONFLICT (client_id) DO NOTHING", client_id, now, reason,
            )
            await self._revoke(db, "client_id = ?", (client_id,), reason=reason, now=now)

    async def is_client_revoked(self, client_id: str) -> bool:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT 1 AS hit FROM revoked_clients WHERE client_id = ?", client_id
            )
        return row is not None

    # -- throttling --------------------------------------------------------------------------
    async def record_login_failure(self, key: str, *, now: float, window: float) -> int:
        # A fixed window per key: the first failure after the window ended starts a new one.
        async with self._write() as db:
            row = await db.fetchone(
                "INSERT INTO login_failures (failure_key, failures, window_start, expires_at)"
                " VALUES (?, 1, ?, ?) ON CONFLICT (failure_key) DO UPDATE SET"
                " failures = CASE WHEN login_failures.expires_at <= ? THEN 1"
                " ELSE login_failures.failures + 1 END,"
                " window_start = CASE WHEN login_failures.expires_at <= ?"
                " THEN excluded.window_start ELSE login_failures.window_start END,"
                " expires_at = CASE WHEN login_failures.expires_at <= ?"
                " THEN excluded.expires_at ELSE login_failures.expires_at END"
                " RETURNING failures",
                key, now, now + window, now, now, now,
            )
        assert row is not None
        return int(row["failures"])

    async def login_failures(self, key: str, *, now: float, window: float) -> int:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT failures FROM login_failures WHERE failure_key = ? AND expires_at > ?",
                key, now,
            )
        return int(row["failures"]) if row is not None else 0

    async def clear_login_failures(self, key: str) -> None:
        async with self._write() as db:
            await db.execute("DELETE FROM login_failures WHERE failure_key = ?", key)

    # -- housekeeping ------------------------------------------------------------------------
    async def purge_expired(
        self, *, now: float, retention: float = DEFAULT_RETENTION
    ) -> dict[str, int]:
        """Delete what can no longer be valid (``expires_at <= now``: validity is
        ``now < expires_at`` everywhere).  Revoked grants, their revocation entries and used
        codes are kept ``retention`` seconds longer, so a token issued before the revocation
        is still refused and a late code replay still revokes."""
        old = now - retention
        async with self._write() as db:
            counts = {
                "authorization_codes": await db.execute(
                    "DELETE FROM authorization_codes WHERE (used_at IS NULL AND expires_at <= ?)"
                    " OR expires_at <= ?", now, old),
                "device_codes": await db.execute(
                    "DELETE FROM device_codes WHERE expires_at <= ?", now),
                "sessions": await db.execute(
                    "DELETE FROM login_sessions WHERE expires_at <= ?", now),
                "refresh_tokens": await db.execute(
                    "DELETE FROM refresh_tokens WHERE expires_at <= ?", now),
                "login_failures": await db.execute(
                    "DELETE FROM login_failures WHERE expires_at <= ?", now),
                "revocations": await db.execute(
                    "DELETE FROM revocations WHERE revoked_at <= ?", old),
            }
            revoked = await db.execute(
                "DELETE FROM grants WHERE revoked_at IS NOT NULL AND revoked_at <= ?", old)
            # A dead family: unused for `retention` (so no access token left) and no live
            # refresh token (the expired ones were deleted just above).
            dead = await db.execute(
                "DELETE FROM grants WHERE revoked_at IS NULL AND last_used_at <= ? AND NOT"
                " EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.grant_id)",
                old,
            )
            counts["grants"] = revoked + dead
        return counts


__all__ = ["SqlStore"]
