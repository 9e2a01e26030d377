"""The services the protocol logic works with (built once per process from the runtime).

Not an RFC module: this is the bundle every endpoint function takes, plus the two small
in-memory caches that keep the token path off the database where that is safe:

* :class:`GrantCache` remembers the immutable part of a grant (whose it is, which client,
  when the user authenticated).  Whether a grant is *revoked* is never cached here: that is
  the in-memory revocation set's job, refreshed from the store (DESIGN §3 "Revocation").
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from ..store.base import Grant
from .clients import ClientRegistry

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store.base import Store
    from ..tokens.clients import ClientIdCodec
    from ..tokens.jwt import TokenService
    from ..validate import Validator

log = logging.getLogger(__name__)

_GRANT_CACHE_SIZE: Final = 8192


class Revocations(Protocol):
    """The revocation set as this package uses it (``store.revocation.StoreRevocationSet``)."""

    def is_revoked(self, grant_id: str) -> bool: ...
    def add_local(self, grant_id: str) -> None: ...
    async def refresh(self) -> int: ...


class Accounts(Protocol):
    """The part of ``accounts.AccountBackend`` the password grant uses."""

    async def authenticate(self, jid: str, password: str) -> None: ...


class GrantCache:
    """Bounded LRU of grant records by id (immutable fields only are relied upon)."""

    def __init__(self, size: int = _GRANT_CACHE_SIZE) -> None:
        self._size = size
        self._grants: OrderedDict[str, Grant] = OrderedDict()

    async def get(self, store: Store, grant_id: str) -> Grant | None:
        grant = self._grants.get(grant_id)
        if grant is not None:
            self._grants.move_to_end(grant_id)
            return grant
        grant = await store.get_grant(grant_id)
        if grant is not None:
            self.put(grant)
        return grant

    def put(self, grant: Grant) -> None:
        self._grants[grant.grant_id] = grant
        self._grants.move_to_end(grant.grant_id)
        while len(self._grants) > self._size:
            self._grants.popitem(last=False)


@dataclass(slots=True)
class OAuthContext:
    """Everything an endpoint needs.  One per process; shared by all requests."""

    settings: Settings
    store: Store
    tokens: TokenService
    clients: ClientRegistry
    codec: ClientIdCodec
    revocations: Revocations
    accounts: Accounts
    validator: Validator
    grants: GrantCache = field(default_factory=GrantCache)

    async def revoke_grant(self, grant_id: str, *, reason: str, now: float) -> None:
        """Revoke in the store and take effect in this process at once."""
        await self.store.revoke_grant(grant_id, reason=reason, now=now)
        self.revocations.add_local(grant_id)
        log.info("grant %s revoked (%s)", grant_id, reason)


__all__ = ["Accounts", "GrantCache", "OAuthContext", "Revocations"]
