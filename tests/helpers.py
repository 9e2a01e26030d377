"""Shared test helpers."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_INTEGRATION = os.environ.get("XMPP_OAUTH_REQUIRE_INTEGRATION") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, or fail when CI demands every integration test."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"required for integration tests but missing: {reason}")
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    sbin = f"/usr/sbin/{name}"
    path = shutil.which(name) or (sbin if os.path.exists(sbin) else None)
    require(path is not None, f"{name} not installed (apt-get install {package})")
    assert path is not None
    return path


def pg_dsn() -> str:
    dsn = os.environ.get("XMPP_OAUTH_TEST_PG_DSN", "")
    require(bool(dsn), "XMPP_OAUTH_TEST_PG_DSN not set (PostgreSQL tests)")
    return dsn
