"""Schema migrations: a version-1 database upgrades in place and keeps its data."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store import connect_store
from xmpp_oauth.store import migrations as m
from xmpp_oauth.store.base import Grant
from xmpp_oauth.store.sql import SqlStore
from xmpp_oauth.store.sqlcore import _GRANT_COLS, _grant_args

#: The released version-1 schema.  Editing a released migration breaks every database that
#: ran it: write a new numbered file instead (and never update this digest).
V1_SHA256 = "09258d7d9209ff213ba0335599ddcfbb80ef7a52b8682665bd5806b371dd742f"


def test_released_v1_is_unchanged() -> None:
    text = (resources.files(m) / "0001_initial.sql").read_bytes()
    assert hashlib.sha256(text).hexdigest() == V1_SHA256


def test_migrations_are_numbered_and_rendered_per_dialect() -> None:
    sqlite, pg = m.load("sqlite"), m.load("postgresql")
    assert [x.version for x in sqlite] == list(range(1, m.latest_version() + 1))
    assert m.latest_version() >= 2
    assert any("BYTEA" in s for s in pg[0].statements)
    assert not any("{" in s for x in sqlite + pg for s in x.statements)


async def _index_exists(store: SqlStore, name: str) -> bool:
    probe = ("SELECT 1 AS hit FROM sqlite_master WHERE type = 'index' AND name = ?"
             if store.dialect == "sqlite" else
             "SELECT 1 AS hit FROM pg_indexes WHERE schemaname = current_schema()"
             " AND indexname = ?")
    async with store._read() as db:
        return await db.fetchone(probe, name) is not None


async def _v1_grant(store: SqlStore, grant: Grant) -> None:
    """A grant as version 1 stored it (today's create_grant also numbers it: version 3)."""
    async with store._write() as db:
        await db.execute(f"INSERT INTO grants ({_GRANT_COLS})"  # noqa: S608
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", *_grant_args(grant))


async def test_v1_database_upgrades_and_keeps_its_data(store_url: str) -> None:
    old = await connect_store(store_url, migrate=False)
    try:
        assert await old.schema_version() == 0
        assert await old.migrate(target=1) == 1
        await old.create_account(f.account())
        # Inserted newest first: version 3 numbers existing grants by created_at.
        await _v1_grant(old, f.grant("g2", created_at=T0 + 1))
        await _v1_grant(old, f.grant("g1"))
        await old.add_refresh_token(f.refresh("r1", "g1"))
        await old.revoke_grant("g2", reason="user", now=T0 + 2)
        await old.add_signing_key(f.key("k1"))
        assert not await _index_exists(old, "grants_active_by_jid")
    finally:
        await old.close()

    new = await connect_store(store_url)  # upgrades on open
    try:
        assert await new.schema_version() == m.latest_version()
        assert await _index_exists(new, "grants_active_by_jid")
        assert await new.get_account("alice@localhost") == f.account()
        assert [g.grant_id for g in await new.list_grants("alice@localhost")] == ["g1"]
        assert (await new.revoked_grants_since(0))[0] == ["g2"]
        assert await new.rotate_refresh_token("r1", f.refresh("r2"), now=T0 + 3) is not None
        assert [k.kid for k in await new.list_signing_keys()] == ["k1"]
        # Version 2's column is in use.
        await new.revoke_client("client-a", now=T0 + 4, reason="abuse")
        assert (await new.get_grant("g1")).revoke_reason == "abuse"  # type: ignore[union-attr]
        # Version 3: existing grants got creation numbers, oldest first; new ones follow.
        assert await _index_exists(new, "grants_by_seq")
        created, cursor = await new.grants_created_since(0)
        assert [g.grant_id for g in created] == ["g1", "g2"] and cursor == 2
        assert await new.grants_created_since(-1) == ([], 2)
        await new.create_grant(f.grant("g3", created_at=T0 + 5))
        created, cursor = await new.grants_created_since(2)
        assert [g.grant_id for g in created] == ["g3"] and cursor == 3
        # Opening again is a no-op.
        assert await new.migrate() == m.latest_version()
    finally:
        await new.close()


async def test_a_newer_schema_is_refused(store: SqlStore, store_url: str) -> None:
    async with store._write() as db:
        await db.execute("INSERT INTO schema_version (version, name, applied_at)"
                         " VALUES (?, ?, ?)", 999, "from_the_future", T0)
    with pytest.raises(StoreError, match="newer than this program"):
        await connect_store(store_url)
