"""Persistence: the Store protocol and its SQLite / PostgreSQL implementations."""

from __future__ import annotations

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
]
