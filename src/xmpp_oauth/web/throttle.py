"""Sign-in throttling per account and per client address (RFC 6749 §10.10, DESIGN §6).

Failures are counted in the store (shared by every ``serve`` process) under
``acct:<jid>`` and ``addr:<ip>`` within ``accounts.login_failure_window`` seconds.  An account
is locked for the rest of the window after ``accounts.max_login_failures`` failures; an address
after four times as many, since many people may share one address.  Names that match no
account are counted exactly like real ones, so the throttle never tells whether an account
exists.  A success clears the account's counter but never the address's: one valid account
must not let an address keep guessing at others.

The same store counters limit guesses of RFC 8628 user codes (``ucode:<ip>``, §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..clock import Clock
from ..store.base import Store

#: An address may fail this many times more often than a single account.
ADDRESS_FACTOR: Final = 4


@dataclass(frozen=True, slots=True)
class Locked:
    """Too many recent failures: try again after ``retry_after`` seconds."""

    retry_after: int


class LoginThrottle:
    """Counts failed sign-ins and user-code guesses; decides when to refuse more."""

    def __init__(self, *, store: Store, clock: Clock, max_failures: int, window: int) -> None:
        self._store = store
        self._clock = clock
        self._max = max(1, max_failures)
        self._window = max(1, window)

    @staticmethod
    def _account_key(jid: str) -> str:
        return f"acct:{jid}"

    @staticmethod
    def _address_key(address: str) -> str:
        return f"addr:{address}"

    @property
    def locked(self) -> Locked:
        return Locked(self._window)

    async def check_login(self, jid: str, address: str) -> Locked | None:
        """``Locked`` when this account or this address failed too often recently."""
        now = self._clock.now()
        if (
            await self._store.login_failures(self._account_key(jid), now=now, window=self._window)
            >= self._max
        ):
            return self.locked
        if (
            await self._store.login_failures(
                self._address_key(address), now=now, window=self._window
            )
            >= self._max * ADDRESS_FACTOR
        ):
            return self.locked
        return None

    async def login_failed(self, jid: str, address: str) -> None:
        now = self._clock.now()
        await self._store.record_login_failure(self._account_key(jid), now=now, window=self._window)
        await self._store.record_login_failure(
            self._address_key(address), now=now, window=self._window
        )

    async def login_succeeded(self, jid: str) -> None:
        await self._store.clear_login_failures(self._account_key(jid))

    async def check_user_code(self, address: str) -> Locked | None:
        """RFC 8628 §5.1: bound the guesses of user codes one address may make."""
        count = await self._store.login_failures(
            f"ucode:{address}", now=self._clock.now(), window=self._window
        )
        return self.locked if count >= self._max * ADDRESS_FACTOR else None

    async def user_code_failed(self, address: str) -> None:
        await self._store.record_login_failure(
            f"ucode:{address}", now=self._clock.now(), window=self._window
        )


__all__ = ["ADDRESS_FACTOR", "Locked", "LoginThrottle"]
