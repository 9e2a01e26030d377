"""Fixtures for the in-process web tests: the real app over a private SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.runtime import open_runtime
from xmpp_oauth.settings import Settings
from xmpp_oauth.web.app import create_app

from .flows import ALICE, PASSWORD, Flows

AppFactory = Callable[..., Awaitable[tuple[TestClient[Any, Any], Any, Flows]]]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
async def make_app(
    settings_factory: Callable[..., Settings], clock: FrozenClock, aiohttp_client: Any
) -> AsyncIterator[AppFactory]:
    """Build an app with settings overrides; returns (test client, runtime, flows)."""
    opened: list[Any] = []

    async def make(**overrides: Any) -> tuple[TestClient[Any, Any], Any, Flows]:
        s = settings_factory(**overrides)
        cm = open_runtime(s, clock=clock)
        runtime = await cm.__aenter__()
        opened.append(cm)
        if await runtime.store.get_account(ALICE) is None:
            await runtime.accounts.create(ALICE, PASSWORD)
        client = await aiohttp_client(create_app(s, runtime=runtime))
        return client, runtime, Flows(client, runtime, clock)

    yield make
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


@pytest.fixture
async def env(make_app: AppFactory) -> tuple[TestClient[Any, Any], Any, Flows]:
    return await make_app()


@pytest.fixture
def flows(env: tuple[TestClient[Any, Any], Any, Flows]) -> Flows:
    return env[2]
