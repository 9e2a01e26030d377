"""In-memory account data for PLAIN and SCRAM (RFC 4616, RFC 5802/7677) on the SASL path.

The XMPP server waits on the SASL service synchronously (DESIGN §5.2), so a login must never
wait for the database.  Choice made here: **every local account's SCRAM keys live in memory**,
loaded from the store at start and fully refreshed in the background every
``refresh_interval`` seconds (one ``list_accounts`` query; a few hundred bytes per account).
Consequences, documented for operators:

* a new account or a password change reaches the SASL service within ``refresh_interval``
  (tokens are unaffected: a password change revokes grants, which the revocation set picks up
  within a second);
* while the store is unreachable the last snapshot keeps serving; once it is older than
  ``max_staleness`` password logins answer ``FAIL temp`` (temporary-auth-failure) instead of
  trusting very old data, and before the first successful load they answer ``FAIL temp`` too.

Also here:

* :class:`FailureThrottle`: per-account failure counting over a sliding minute, answered from
  memory (Prosody sends no client address, so accounts are the only key);
* :class:`PlainVerifier`: PLAIN is checked against the stored SCRAM-SHA-256 key (one PBKDF2,
  ~2 ms at 4096 rounds; never argon2).  A verified password is remembered as an HMAC under a
  per-process key, bound to the record it matched, so repeated logins cost microseconds; a
  changed record (new password) misses the cache.  Unknown users are checked against a decoy
  record so that they cost the same as a wrong password.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..accounts.passwords import check_plain_against_scram
from ..errors import StoreError
from ..sasl.scram import make_scram_record
from ..store.base import Store

log = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL: Final = 5.0
DEFAULT_MAX_STALENESS: Final = 300.0
THROTTLE_WINDOW: Final = 60.0
#: Remembered verified passwords (bounded; oldest dropped first).
MAX_VERIFIED: Final = 100_000


@dataclass(frozen=True, slots=True)
class CachedAccount:
    jid: str
    scram_sha1: str = field(repr=False)
    scram_sha256: str = field(repr=False)
    disabled: bool

    def record_for(self, mechanism: str) -> str:
        return self.scram_sha1 if mechanism == "SCRAM-SHA-1" else self.scram_sha256


class AccountUnavailableError(Exception):
    """The account data is missing or too old to be trusted (answer ``FAIL temp``)."""


class AccountCache:
    """All local accounts' SCRAM keys in memory, refreshed from the store in the background."""

    def __init__(
        self,
        store: Store,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.refresh_interval = refresh_interval
        self.max_staleness = max_staleness
        self._monotonic = monotonic
        self._accounts: dict[str, CachedAccount] = {}
        self._loaded_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the hot path -----------------------------------------------------------------------
    def get(self, jid: str) -> CachedAccount | None:
        """The account of bare JID ``jid`` (lowercase), or None.

        Raises :class:`AccountUnavailableError` when no snapshot is fresh enough.
        """
        if self._loaded_at is None:
            raise AccountUnavailableError("accounts not loaded yet")
        if self._monotonic() - self._loaded_at > self.max_staleness:
            raise AccountUnavailableError("account data is stale (store unreachable)")
        return self._accounts.get(jid)

    def __len__(self) -> int:
        return len(self._accounts)

    # -- refreshing -------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Replace the snapshot with the store's current accounts (raises StoreError)."""
        rows = await self._store.list_accounts()
        self._accounts = {
            a.jid.lower(): CachedAccount(a.jid.lower(), a.scram_sha1, a.scram_sha256, a.disabled)
            for a in rows
        }
        self._loaded_at = self._monotonic()

    async def start(self) -> None:
        """First load (a failure is logged: password logins answer ``temp`` until it works)."""
        try:
            await self.refresh()
        except StoreError as exc:
            log.warning("cannot load accounts yet (password logins fail for now): %s", exc)
        self._task = asyncio.create_task(self._run(), name="sasl-account-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.refresh()
            except StoreError as exc:
                log.warning("account refresh failed (keeping %d accounts): %s",
                            len(self._accounts), exc)
            except Exception:
                log.exception("account refresh failed")


class FailureThrottle:
    """At most ``limit`` failures per key in a sliding ``window``; checks are O(1) amortised."""

    def __init__(self, limit: int, *, window: float = THROTTLE_WINDOW,
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, key: str, *, now: float) -> bool:
        times = self._prune(key, now)
        return self.limit > 0 and times is not None and len(times) >= self.limit

    def record(self, key: str, *, now: float) -> None:
        times = self._prune(key, now)
        if times is None:
            if len(self._failures) >= self.max_keys:
                # Bounded memory: forget the oldest key (dicts keep insertion order).
                self._failures.pop(next(iter(self._failures)))
            times = self._failures[key] = deque(maxlen=max(self.limit, 1))
        times.append(now)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class PlainVerifier:
    """PLAIN passwords against SCRAM-SHA-256 records, with a cache of verified passwords."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._decoy: str | None = None

    def _mac(self, jid: str, password: str) -> bytes:
        return hmac.new(self._key, f"{jid}\0{password}".encode(), hashlib.sha256).digest()

    def cached(self, jid: str, record: str, password: str) -> bool:
        """True when this exact password was verified against this exact record before."""
        hit = self._verified.get(jid)
        return (
            hit is not None
            and hmac.compare_digest(hit[0], record)
            and hmac.compare_digest(hit[1], self._mac(jid, password))
        )

    def check(self, record: str | None, password: str) -> bool:
        """The slow check (one PBKDF2); thread-safe, run it off the event loop.

        ``record=None`` (no such account) spends the same time on a decoy and fails.
        """
        if record is None:
            if self._decoy is None:
                self._decoy = make_scram_record(secrets.token_urlsafe(16), "SCRAM-SHA-256")
            check_plain_against_scram(self._decoy, password)
            return False
        return check_plain_against_scram(record, password)

    def remember(self, jid: str, record: str, password: str) -> None:
        """Remember a verified password (call on the event loop, not in the worker)."""
        if jid not in self._verified and len(self._verified) >= MAX_VERIFIED:
            self._verified.pop(next(iter(self._verified)))
        self._verified[jid] = (record, self._mac(jid, password))

    def forget(self, jid: str) -> None:
        self._verified.pop(jid, None)


__all__ = [
    "AccountCache",
    "AccountUnavailableError",
    "CachedAccount",
    "FailureThrottle",
    "PlainVerifier",
]
