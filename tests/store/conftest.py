"""Store fixtures: every test here runs against SQLite and PostgreSQL.

PostgreSQL comes from ``XMPP_OAUTH_TEST_PG_DSN``; each test gets a fresh private schema
(dropped afterwards), selected through the DSN's ``search_path`` parameter, so concurrent test
runs and other suites sharing the database never see each other's rows.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.helpers import pg_dsn
from xmpp_oauth.store import connect_store
from xmpp_oauth.store.sql import SqlStore

BACKENDS = ["sqlite", "postgres"]


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN, with the session in ``schema`` and tagged with it (``application_name``)."""
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}search_path={schema}&application_name={schema}"


async def _pg_admin(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def make_pg_schema(dsn: str) -> str:
    schema = f"xo_test_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(dsn, f"CREATE SCHEMA {schema}"))
    return schema


def drop_pg_schema(dsn: str, schema: str) -> None:
    asyncio.run(_pg_admin(dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL naming an empty store of the requested backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    dsn = pg_dsn()
    schema = make_pg_schema(dsn)
    try:
        yield with_search_path(dsn, schema)
    finally:
        drop_pg_schema(dsn, schema)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = await connect_store(store_url)
    try:
        yield s
    finally:
        await s.close()
