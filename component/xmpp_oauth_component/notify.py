"""New-grant notices: tell a user by chat message when an app gets access to the account.

The notifier polls the shared store for grants created after a cursor, so it needs no link
to the web processes and survives restarts: the cursor is kept in a file, and a first start
begins at "now" (old grants are never announced).  Polling pauses while the component is
disconnected; grants created meanwhile are announced after the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from xmpp_oauth.store.base import Grant

from .commands import app_name, when
from .services import Services

log = logging.getLogger(__name__)


def notice_text(grant: Grant, *, component_jid: str, account_url: str) -> str:
    scopes = ", ".join(grant.scopes) or "none"
    return (
        f"New app access: \"{app_name(grant)}\" can now use your account {grant.jid} "
        f"(scopes: {scopes}; granted {when(grant.created_at)}).\n"
        "If you did not allow this, revoke it with the ad-hoc command \"Revoke app access\" "
        f"on {component_jid}, or at {account_url}"
    )


class GrantNotifier:
    """Announces each new grant once to its user."""

    def __init__(self, services: Services, send: Callable[[Grant], None], *,
                 domains: Iterable[str], cursor_file: Path | None, interval: float = 1.0,
                 connected: asyncio.Event | None = None) -> None:
        self.services = services
        self.send = send
        self.domains = frozenset(domains)
        self.cursor_file = cursor_file
        self.interval = interval
        self.connected = connected
        self.cursor: int | None = self._load()

    def _load(self) -> int | None:
        if self.cursor_file is None:
            return None
        try:
            return int(self.cursor_file.read_text().strip())
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("ignoring unreadable notice cursor %s", self.cursor_file)
            return None

    def _save(self) -> None:
        if self.cursor_file is None or self.cursor is None:
            return
        self.cursor_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cursor_file.with_suffix(".tmp")
        tmp.write_text(f"{self.cursor}\n")
        os.replace(tmp, self.cursor_file)

    async def poll_once(self) -> int:
        """Fetch and announce one batch; returns how many grants were fetched."""
        if self.cursor is None:
            _, self.cursor = await self.services.grants_created_since(None)
            self._save()
            return 0
        grants, cursor = await self.services.grants_created_since(self.cursor)
        for grant in grants:
            if grant.revoked_at is None and grant.jid.rpartition("@")[2] in self.domains:
                self.send(grant)
        self.cursor = cursor
        if grants:
            self._save()
        return len(grants)

    async def run(self) -> None:
        while True:
            if self.connected is not None:
                await self.connected.wait()
            try:
                if await self.poll_once():
                    continue  # there may be more right away
            except NotImplementedError as exc:
                log.warning("new-grant notices are off: %s", exc)
                return
            except Exception:
                log.exception("new-grant notice poll failed")
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> GrantNotifier:
        self._task: asyncio.Task[None] = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


__all__ = ["GrantNotifier", "notice_text"]
