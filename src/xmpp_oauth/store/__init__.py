"""Persistence: the Store protocol and its SQLite / PostgreSQL implementations.

``open_store(url)`` picks the implementation from the URL scheme, upgrades the schema and
closes the store on exit::

    async with open_store("sqlite:///var/lib/xmpp-oauth/xmpp-oauth.sqlite3") as store:
        ...

``sqlite:///relative/path`` and ``sqlite:////absolute/path`` (three slashes, then the path)
name a file; ``postgresql://user@host:port/db`` (query parameters such as ``search_path``
become session settings) names a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..errors import StoreError
from .base import (
    Account,
    AuthorizationCode,
    Consent,
    DeviceCode,
    DeviceStatus,
    Grant,
    LoginSession,
    RefreshToken,
    Store,
    StoredClient,
    StoredKey,
)

if TYPE_CHECKING:
    from .sql import SqlStore

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


async def connect_store(url: str, *, migrate: bool = True) -> SqlStore:
    """Open the store ``url`` names; the caller closes it.  Prefer :func:`open_store`."""
    if url.startswith(SQLITE_PREFIX):
        from .sqlite import SqliteStore

        path = url[len(SQLITE_PREFIX):]
        if not path or path == ":memory:":
            raise StoreError("sqlite", "a file path is required (sqlite:///path/to/file)")
        return await SqliteStore.open(path, migrate=migrate)
    if url.startswith(POSTGRES_PREFIXES):
        try:
            from .postgres import PostgresStore
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on installed extras
            raise StoreError("postgresql", "asyncpg is not installed "
                             "(pip install 'xmpp-oauth[postgres]')") from exc
        return await PostgresStore.open(url, migrate=migrate)
    raise StoreError("store", "URL must start with sqlite:/// or postgresql://")


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    """Open, migrate, yield and finally close the store ``url`` names."""
    store = await connect_store(url)
    try:
        yield store
    finally:
        await store.close()


__all__ = [
    "Account",
    "AuthorizationCode",
    "Consent",
    "DeviceCode",
    "DeviceStatus",
    "Grant",
    "LoginSession",
    "RefreshToken",
    "Store",
    "StoredClient",
    "StoredKey",
    "connect_store",
    "open_store",
]
