"""New-grant notices: cursor handling, restart safety, filtering (no XMPP needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from xmpp_oauth.store.base import Grant
from xmpp_oauth_component.component import Backoff
from xmpp_oauth_component.notify import GrantNotifier, notice_text

from .fakes import FakeServices, grant


def notifier(services: FakeServices, sent: list[Grant], cursor_file: Path | None) -> GrantNotifier:
    return GrantNotifier(services, sent.append, domains=["localhost"], cursor_file=cursor_file)


async def test_first_start_begins_at_now(tmp_path: Path) -> None:
    services = FakeServices()
    services.add(grant("old", "alice@localhost", "Old app"))
    sent: list[Grant] = []
    n = notifier(services, sent, tmp_path / "cursor")
    assert await n.poll_once() == 0
    services.add(grant("new", "alice@localhost", "New app"))
    await n.poll_once()
    assert [g.grant_id for g in sent] == ["new"]
    assert (tmp_path / "cursor").read_text() == "2\n"


async def test_restart_neither_repeats_nor_loses(tmp_path: Path) -> None:
    services = FakeServices()
    sent: list[Grant] = []
    first = notifier(services, sent, tmp_path / "cursor")
    await first.poll_once()
    services.add(grant("a", "alice@localhost", "A"))
    await first.poll_once()
    # Down for a while; grants keep being created.
    services.add(grant("b", "alice@localhost", "B"), grant("c", "bob@localhost", "C"),
                 grant("d", "bob@localhost", "D"))
    second = notifier(services, sent, tmp_path / "cursor")
    while await second.poll_once():
        pass
    assert [g.grant_id for g in sent] == ["a", "b", "c", "d"]


async def test_skips_foreign_and_already_revoked(tmp_path: Path) -> None:
    services = FakeServices()
    sent: list[Grant] = []
    n = notifier(services, sent, None)
    await n.poll_once()
    services.add(grant("x", "mallory@evil.example", "X"), grant("y", "alice@localhost", "Y"))
    await services.revoke_grants("alice@localhost", ["y"], reason="test")
    while await n.poll_once():
        pass
    assert sent == []


async def test_unreadable_cursor_starts_at_now(tmp_path: Path) -> None:
    (tmp_path / "cursor").write_text("garbage")
    services = FakeServices()
    services.add(grant("old", "alice@localhost", "Old"))
    sent: list[Grant] = []
    n = notifier(services, sent, tmp_path / "cursor")
    await n.poll_once()
    assert sent == [] and n.cursor == 1


async def test_run_waits_for_connection_and_stops_without_store_support() -> None:
    class NoCursorServices(FakeServices):
        async def grants_created_since(self, cursor: int | None) -> tuple[list[Grant], int]:
            raise NotImplementedError("no")

    connected = asyncio.Event()
    n = GrantNotifier(NoCursorServices(), lambda g: None, domains=["localhost"],
                      cursor_file=None, connected=connected)
    task = asyncio.create_task(n.run())
    await asyncio.sleep(0)
    assert not task.done()  # still waiting for the component to connect
    connected.set()
    await asyncio.wait_for(task, 1)  # returns: notices off, component keeps running


def test_notice_text_names_app_scopes_and_how_to_revoke() -> None:
    text = notice_text(grant("g", "alice@localhost", "", "openid", client_id="cid"),
                       component_jid="oauth.localhost", account_url="https://a/account")
    assert '"cid"' in text and "openid" in text and "oauth.localhost" in text
    assert "https://a/account" in text


def test_backoff_is_exponential_and_capped() -> None:
    b = Backoff(initial=0.5, factor=2, cap=5)
    assert [b.next() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    b.reset()
    assert b.next() == 0.5
    huge = Backoff(cap=30)
    huge.attempts = 10_000
    assert huge.next() == 30
