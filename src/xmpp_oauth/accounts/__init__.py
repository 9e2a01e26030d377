"""Accounts: how a user proves who they are (login page, SASL PLAIN/SCRAM).

Two backends implement :class:`AccountBackend`:

* ``local`` (:class:`~xmpp_oauth.accounts.local.LocalAccounts`): our store keeps argon2id
  hashes and SCRAM keys;
* ``xmpp`` (:class:`~xmpp_oauth.accounts.xmpp.XmppAccounts`): the upstream XMPP server checks
  the password over a real c2s login.

``account_backend(settings, store)`` picks the configured one.
"""

from __future__ import annotations

from typing import Protocol

from ..clock import Clock, SystemClock
from ..settings import Settings
from ..store.base import Store


class AccountBackend(Protocol):
    async def authenticate(self, jid: str, password: str) -> None:
        """Return on success; raise InvalidCredentialsError / AccountDisabledError /
        StoreError (the backend cannot tell right now)."""
        ...

    async def exists(self, jid: str) -> bool: ...


def account_backend(settings: Settings, store: Store, *,
                    clock: Clock | None = None) -> AccountBackend:
    """The backend ``settings.accounts.backend`` names."""
    if settings.accounts.backend == "xmpp":
        from .xmpp import XmppAccounts

        return XmppAccounts(settings.accounts, domains=settings.domains)
    from .local import LocalAccounts

    return LocalAccounts(store, clock=clock or SystemClock(), domains=settings.domains)


__all__ = ["AccountBackend", "account_backend"]
