"""The validator's revoked-grant set, kept fresh from the store (DESIGN §3, §8).

Validation never waits on the database: :meth:`StoreRevocationSet.is_revoked` is a set lookup.
A background task keeps the set current:

* every ``poll_interval`` it asks the store for revocations after its cursor
  (``revoked_grants_since``: an index range scan that finds nothing when nothing changed);
* where the store can announce revocations (PostgreSQL ``LISTEN/NOTIFY``) it refreshes as soon
  as one arrives and polls only as a slower safety net, falling back to the fast poll while
  the listening connection is down;
* every ``full_reload_interval`` it reloads everything, which forgets grants housekeeping has
  dropped (their tokens expired), so the set does not only grow.

A poll interval of at most 1 s gives the product's promise: a grant revoked in one process is
refused by every other within a second.  A failing store is logged and retried; the set keeps
what it knew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from ..errors import StoreError
from .base import Store

log = logging.getLogger(__name__)

#: With a live NOTIFY connection, poll this many times less often (never slower than 5 s).
SAFETY_POLL_FACTOR: Final = 8
SAFETY_POLL_MAX: Final = 5.0
#: After a failed LISTEN connection, try again this much later (in the background).
RELISTEN_DELAY: Final = 30.0


class RevocationSubscription(Protocol):
    @property
    def alive(self) -> bool: ...

    async def close(self) -> None: ...


@runtime_checkable
class RevocationNotifier(Protocol):
    """A store that can push "something was revoked" (PostgreSQL)."""

    async def listen_revocations(
        self, callback: Callable[[], None]
    ) -> RevocationSubscription: ...


class StoreRevocationSet:
    """Implements ``validate.RevocationSet`` over a :class:`~xmpp_oauth.store.base.Store`."""

    def __init__(self, store: Store, *, poll_interval: float,
                 full_reload_interval: float = 600.0) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._store = store
        self._poll_interval = poll_interval
        self._full_reload_interval = full_reload_interval
        self._revoked: set[str] = set()
        self._cursor = 0
        self._last_full = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: RevocationSubscription | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._next_listen = 0.0
        self._closing: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- the hot path -------------------------------------------------------------------------
    def is_revoked(self, grant_id: str) -> bool:
        return grant_id in self._revoked

    def __contains__(self, grant_id: object) -> bool:
        return grant_id in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def add_local(self, grant_id: str) -> None:
        """Immediate effect in this process after a local revoke (the poll confirms it)."""
        self._revoked.add(grant_id)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Load every known revocation (raises StoreError), then keep refreshing."""
        self._stopping = False
        await self.reload()
        await self._subscribe()
        self._task = asyncio.create_task(self._run(), name="revocation-poll")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._task, self._listen_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listen_task = None
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    # -- refreshing ---------------------------------------------------------------------------
    async def reload(self) -> None:
        """Replace the set with everything the store still knows."""
        ids, cursor = await self._store.revoked_grants_since(0)
        # Anything revoked after that snapshot carries a higher sequence: nothing is lost.
        self._revoked = set(ids)
        self._cursor = cursor
        self._last_full = time.monotonic()

    async def refresh(self) -> int:
        """Fetch revocations newer than the cursor; returns how many arrived."""
        ids, cursor = await self._store.revoked_grants_since(self._cursor)
        self._revoked.update(ids)
        self._cursor = cursor
        return len(ids)

    async def _subscribe(self) -> None:
        if not isinstance(self._store, RevocationNotifier):
            return
        try:
            self._subscription = await self._store.listen_revocations(self._wake.set)
        except StoreError as exc:
            log.warning("revocation notifications unavailable, polling instead: %s", exc)
            self._subscription = None
            self._next_listen = time.monotonic() + RELISTEN_DELAY
        else:
            # Anything committed while we were not listening is picked up by this poll.
            self._wake.set()

    def _maybe_resubscribe(self) -> None:
        if self._subscription is not None and not self._subscription.alive:
            old, self._subscription = self._subscription, None
            closing = asyncio.create_task(old.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            self._next_listen = time.monotonic() + RELISTEN_DELAY / 10
        if (self._subscription is None and self._listen_task is None
                and isinstance(self._store, RevocationNotifier)
                and time.monotonic() >= self._next_listen):
            self._listen_task = asyncio.create_task(self._subscribe())
            self._listen_task.add_done_callback(self._listen_done)

    def _listen_done(self, task: asyncio.Task[None]) -> None:
        self._listen_task = None

    def _interval(self) -> float:
        if self._subscription is not None and self._subscription.alive:
            return min(self._poll_interval * SAFETY_POLL_FACTOR, SAFETY_POLL_MAX)
        return self._poll_interval

    async def _run(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives just as the event fires, and stop() would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval()):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if time.monotonic() - self._last_full >= self._full_reload_interval:
                    await self.reload()
                else:
                    await self.refresh()
            except StoreError as exc:
                log.warning("revocation refresh failed (keeping %d known): %s",
                            len(self._revoked), exc)
            self._maybe_resubscribe()


__all__ = ["RevocationNotifier", "RevocationSubscription", "StoreRevocationSet"]
