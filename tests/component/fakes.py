"""An in-memory Services for stanza-level tests (the real one is tested over a real store)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store.base import Grant
from xmpp_oauth_component.services import AccountState

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def grant(grant_id: str, jid: str, name: str, *scopes: str, created: float = T0,
          used: float = 0.0, client_id: str = "") -> Grant:
    return Grant(grant_id=grant_id, jid=jid, client_id=client_id or f"client-{grant_id}",
                 client_name=name, scopes=scopes or ("xmpp:client:normal",),
                 created_at=created, last_used_at=used)


class FakeServices:
    def __init__(self, clock: FrozenClock | None = None) -> None:
        self.clock = clock or FrozenClock(T0)
        self.grants: list[Grant] = []  # creation order
        self.accounts: dict[str, AccountState] = {}
        self.calls: list[tuple[str, object]] = []
        self.broken = False

    def add(self, *grants: Grant) -> None:
        self.grants.extend(grants)

    def _check(self) -> None:
        if self.broken:
            raise StoreError("fake", "database is down")

    def active(self, jid: str) -> list[Grant]:
        return [g for g in reversed(self.grants) if g.jid == jid and g.revoked_at is None]

    async def list_grants(self, jid: str) -> list[Grant]:
        self._check()
        return self.active(jid)

    async def revoke_grants(self, jid: str, grant_ids: Collection[str], *,
                            reason: str) -> list[str]:
        self._check()
        self.calls.append(("revoke", (jid, tuple(grant_ids), reason)))
        done = []
        for i, g in enumerate(self.grants):
            if g.grant_id in grant_ids and g.jid == jid and g.revoked_at is None:
                self.grants[i] = replace(g, revoked_at=self.clock.now(), revoke_reason=reason)
                done.append(g.grant_id)
        return done

    async def revoke_all(self, jid: str, *, reason: str) -> list[str]:
        return await self.revoke_grants(jid, [g.grant_id for g in self.active(jid)], reason=reason)

    async def account(self, jid: str) -> AccountState | None:
        self._check()
        return self.accounts.get(jid)

    async def set_account_disabled(self, jid: str, disabled: bool) -> None:
        self._check()
        self.calls.append(("disable" if disabled else "enable", jid))
        self.accounts[jid] = AccountState(jid, disabled)
        if disabled:
            await self.revoke_all(jid, reason="account_disabled")

    async def grants_created_since(self, cursor: int | None) -> tuple[list[Grant], int]:
        self._check()
        if cursor is None:
            return [], len(self.grants)
        return list(self.grants[cursor:cursor + 2]), min(len(self.grants), cursor + 2)
