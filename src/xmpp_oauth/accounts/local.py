"""Local accounts: users whose passwords this service keeps (argon2id + SCRAM keys).

A password change or disabling the account ends every authorization the user gave: the store
revokes all their grants and deletes their login sessions in the same transaction as the
change (DESIGN §3), so a stolen token dies with the old password.

Account names are bare JIDs, normalised with slixmpp's JID rules (nodeprep lowercases the
local part) and restricted to the domains this service serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from slixmpp.jid import JID, InvalidJID

from ..clock import Clock
from ..errors import AccountDisabledError, InvalidCredentialsError
from ..store.base import Account, Store
from . import passwords


def normalize_jid(jid: str, domains: Iterable[str] | None = None) -> str:
    """The canonical bare JID ``local@domain``; ValueError if it is not one (or not ours)."""
    try:
        parsed = JID(jid.strip())
    except InvalidJID as exc:
        raise ValueError(f"{jid!r} is not a valid JID: {exc}") from None
    if not parsed.local or parsed.resource:
        raise ValueError(f"{jid!r} is not a bare JID of the form user@domain")
    allowed = set(domains) if domains is not None else None
    if allowed is not None and parsed.domain not in allowed:
        raise ValueError(f"{parsed.domain!r} is not a domain served here ({sorted(allowed)})")
    return str(parsed.bare)


class LocalAccounts:
    """The ``local`` account backend and the operations behind ``xmpp-oauth user``."""

    def __init__(self, store: Store, *, clock: Clock,
                 domains: Iterable[str] | None = None) -> None:
        self._store = store
        self._clock = clock
        self._domains = tuple(domains) if domains is not None else None

    def normalize(self, jid: str) -> str:
        return normalize_jid(jid, self._domains)

    # -- AccountBackend -----------------------------------------------------------------------
    async def authenticate(self, jid: str, password: str) -> None:
        """Succeed silently, or raise InvalidCredentialsError / AccountDisabledError /
        StoreError.  Wrong user and wrong password look the same, in answer and in time."""
        try:
            bare = self.normalize(jid)
        except ValueError:
            await asyncio.to_thread(passwords.burn_verification, password)
            raise InvalidCredentialsError("invalid username or password") from None
        account = await self._store.get_account(bare)
        if account is None:
            await asyncio.to_thread(passwords.burn_verification, password)
            raise InvalidCredentialsError("invalid username or password")
        ok = await asyncio.to_thread(passwords.verify_password, account.password_hash, password)
        if not ok:
            raise InvalidCredentialsError("invalid username or password")
        # Only someone who knows the password learns that the account is disabled.
        if account.disabled:
            raise AccountDisabledError(f"account {bare} is disabled")

    async def exists(self, jid: str) -> bool:
        try:
            bare = self.normalize(jid)
        except ValueError:
            return False
        return await self._store.get_account(bare) is not None

    # -- administration -----------------------------------------------------------------------
    async def get(self, jid: str) -> Account | None:
        return await self._store.get_account(self.normalize(jid))

    async def list_accounts(self) -> list[Account]:
        return await self._store.list_accounts()

    async def create(self, jid: str, password: str) -> Account:
        """Raises ValueError (bad JID or password) or StoreError (exists, store trouble)."""
        bare = self.normalize(jid)
        hashed, sha1, sha256 = await asyncio.to_thread(passwords.make_credentials, password)
        now = self._clock.now()
        account = Account(jid=bare, password_hash=hashed, scram_sha1=sha1, scram_sha256=sha256,
                          disabled=False, created_at=now, password_changed_at=now)
        await self._store.create_account(account)
        return account

    async def change_password(self, jid: str, password: str) -> None:
        """New password; every grant of the account is revoked, its sessions deleted."""
        bare = self.normalize(jid)
        hashed, sha1, sha256 = await asyncio.to_thread(passwords.make_credentials, password)
        await self._store.update_account_credentials(
            bare, password_hash=hashed, scram_sha1=sha1, scram_sha256=sha256,
            now=self._clock.now(),
        )

    async def disable(self, jid: str) -> None:
        """No more logins; every grant revoked, sessions deleted."""
        await self._store.set_account_disabled(self.normalize(jid), True, now=self._clock.now())

    async def enable(self, jid: str) -> None:
        """Logins allowed again (revoked grants stay revoked)."""
        await self._store.set_account_disabled(self.normalize(jid), False,
                                               now=self._clock.now())

    async def delete(self, jid: str) -> None:
        """Remove the account, its consents and sessions; its grants are revoked."""
        await self._store.delete_account(self.normalize(jid), now=self._clock.now())


__all__ = ["LocalAccounts", "normalize_jid"]
