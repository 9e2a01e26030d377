"""Open a runtime for tests: ``xmpp_oauth.runtime.open_runtime`` once it exists.

Until the runtime module lands this assembles the same parts by hand (test-only stand-in).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from xmpp_oauth.clock import Clock, SystemClock
from xmpp_oauth.settings import Settings

HAVE_RUNTIME = importlib.util.find_spec("xmpp_oauth.runtime") is not None


@dataclass
class StandInRuntime:
    settings: Settings
    store: Any
    keyring: Any
    tokens: Any
    revocations: Any
    validator: Any
    accounts: Any
    clients: Any
    clock: Clock


@asynccontextmanager
async def open_test_runtime(settings: Settings, *, clock: Clock | None = None,
                            ) -> AsyncIterator[Any]:
    if HAVE_RUNTIME:
        from xmpp_oauth.runtime import open_runtime

        async with open_runtime(settings, clock=clock) as runtime:
            yield runtime
        return
    from xmpp_oauth.accounts.local import LocalAccounts
    from xmpp_oauth.store import open_store
    from xmpp_oauth.store.revocation import StoreRevocationSet
    from xmpp_oauth.tokens.clients import ClientIdCodec
    from xmpp_oauth.tokens.jwt import TokenService
    from xmpp_oauth.tokens.keys import load_keyring
    from xmpp_oauth.validate import Validator

    clock = clock or SystemClock()
    async with open_store(settings.store_url) as store:
        keyring = await load_keyring(store, settings, now=clock.now())
        tokens = TokenService(keyring, issuer=settings.issuer)
        revocations = StoreRevocationSet(store, poll_interval=0.25)
        await revocations.start()
        try:
            yield StandInRuntime(
                settings=settings, store=store, keyring=keyring, tokens=tokens,
                revocations=revocations,
                validator=Validator(tokens, revocations, domains=settings.domains),
                accounts=LocalAccounts(store, clock=clock),
                clients=ClientIdCodec(b"k" * 32, ttl=settings.oauth2_registration_ttl),
                clock=clock,
            )
        finally:
            await revocations.stop()
