"""The component's only bridge to the store: grants, revocation and account state (async).

Stanza handlers call a :class:`Services` object and nothing else, so tests can hand them a
fake; :class:`StoreServices` is the real one over :class:`~xmpp_oauth.store.base.Store`.
Ownership is enforced here as well as in the command layer: a user's revocation only ever
touches that user's own active grants.

Revoking also forgets the remembered consent of each revoked grant's client (all of the
account's consents for "revoke all" and for disabling), as the web account page does: else a
``prompt=none`` request would silently create a new grant for the app just revoked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Protocol

from xmpp_oauth.clock import Clock
from xmpp_oauth.store.base import Grant, Store

log = logging.getLogger(__name__)

#: ``reason`` recorded with revocations made through the component.
REASON_USER: Final = "user_xmpp"
REASON_ADMIN: Final = "admin_xmpp"


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the admin commands need to know about a local account."""

    jid: str
    disabled: bool


class Services(Protocol):
    """Everything the command handlers and the notifier may do."""

    async def list_grants(self, jid: str) -> list[Grant]:
        """Active grants of ``jid``, newest first."""
        ...

    async def revoke_grants(
        self, jid: str, grant_ids: Collection[str], *, reason: str
    ) -> list[str]:
        """Revoke those of ``grant_ids`` that are active grants of ``jid``; return those revoked."""
        ...

    async def revoke_all(self, jid: str, *, reason: str) -> list[str]: ...

    async def account(self, jid: str) -> AccountState | None:
        """The local account, or ``None`` when the store has none for ``jid``."""
        ...

    async def set_account_disabled(self, jid: str, disabled: bool) -> None:
        """Disabling also revokes every grant of the account."""
        ...

    async def grants_created_since(self, cursor: int | None) -> tuple[list[Grant], int]:
        """New grants after ``cursor`` (oldest first) and the next cursor.

        ``None`` means "from now on": no grants, just the current position.
        """
        ...


class StoreServices:
    """:class:`Services` over the shared store (the same one the web app and SASL service use)."""

    #: Page size when fetching new grants for notices.
    batch: Final = 200

    def __init__(self, store: Store, clock: Clock, *,
                 on_revoked: Callable[[str], None] | None = None) -> None:
        self._store = store
        self._clock = clock
        # Lets this process's own revocation set see a revocation at once (add_local).
        self._on_revoked = on_revoked

    async def list_grants(self, jid: str) -> list[Grant]:
        return await self._store.list_grants(jid)

    async def revoke_grants(
        self, jid: str, grant_ids: Collection[str], *, reason: str
    ) -> list[str]:
        owned = {g.grant_id: g.client_id for g in await self._store.list_grants(jid)}
        revoked: list[str] = []
        clients: dict[str, None] = {}
        now = self._clock.now()
        for grant_id in grant_ids:
            if grant_id not in owned:
                continue  # never another user's grant, whatever the caller passed
            if await self._store.revoke_grant(grant_id, reason=reason, now=now):
                revoked.append(grant_id)
                clients[owned[grant_id]] = None
                self._revoked(grant_id)
        for client_id in clients:
            await self._store.forget_consent(jid, client_id)
        return revoked

    async def revoke_all(self, jid: str, *, reason: str) -> list[str]:
        revoked = await self._store.revoke_grants(jid, reason=reason, now=self._clock.now())
        for grant_id in revoked:
            self._revoked(grant_id)
        await self._store.forget_consent(jid)
        return revoked

    async def account(self, jid: str) -> AccountState | None:
        account = await self._store.get_account(jid)
        if account is None:
            return None
        return AccountState(jid=account.jid, disabled=account.disabled)

    async def set_account_disabled(self, jid: str, disabled: bool) -> None:
        before = {g.grant_id for g in await self._store.list_grants(jid)} if disabled else set()
        await self._store.set_account_disabled(jid, disabled, now=self._clock.now())
        for grant_id in before:
            self._revoked(grant_id)
        if disabled:
            await self._store.forget_consent(jid)

    async def grants_created_since(self, cursor: int | None) -> tuple[list[Grant], int]:
        # An index range scan on the store's creation numbers (commit order): one page per
        # call, never a scan over all accounts.  A negative cursor asks for the current end.
        return await self._store.grants_created_since(-1 if cursor is None else cursor,
                                                      limit=self.batch)

    def _revoked(self, grant_id: str) -> None:
        if self._on_revoked is not None:
            self._on_revoked(grant_id)


__all__ = ["REASON_ADMIN", "REASON_USER", "AccountState", "Services", "StoreServices"]
