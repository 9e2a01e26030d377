"""Bad stores: corrupt and read-only SQLite files, unreachable or failing PostgreSQL.

Every failure is a StoreError whose message starts with the store it concerns, and nothing is
half written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import pg_dsn
from tests.store import factories as f
from tests.store.factories import T0
from xmpp_oauth.errors import StoreError
from xmpp_oauth.store import connect_store, open_store
from xmpp_oauth.store.base import Account
from xmpp_oauth.store.migrations import latest_version
from xmpp_oauth.store.sql import SqlStore


async def test_garbage_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError) as err:
        await connect_store(f"sqlite:///{path}")
    assert str(err.value).startswith(f"sqlite {path}: ")
    assert "corrupt" in str(err.value)
    assert path.read_bytes().startswith(b"this is not")  # we did not "repair" it


async def test_damaged_header_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sqlite3"
    async with open_store(f"sqlite:///{path}") as store:
        await store.create_account(f.account())
    with path.open("r+b") as fh:
        fh.write(b"\xff" * 100)  # the 100-byte database header
    with pytest.raises(StoreError, match="corrupt") as err:
        await connect_store(f"sqlite:///{path}")
    assert str(err.value).startswith(f"sqlite {path}: ")


async def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as err:
        await connect_store(f"sqlite:///{blocker}/sub/db.sqlite3")
    assert str(err.value).startswith(f"sqlite {blocker}/sub/db.sqlite3: ")


def _make_read_only(path: Path) -> bool:
    """Make ``path`` unwritable even for root (immutable attribute); False if impossible."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return True
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    return subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ro.sqlite3"
    yield path
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


async def test_read_only_file_reads_but_refuses_writes_whole(read_only_db: Path) -> None:
    path = read_only_db
    url = f"sqlite:///{path}"
    async with open_store(url) as store:
        await store.create_account(f.account())
        await store.create_grant(f.grant("g1"))
        await store.add_refresh_token(f.refresh("r1", "g1"))
    if not _make_read_only(path):
        pytest.skip("cannot make a file read-only here (no chattr on this filesystem)")
    store = await connect_store(url)
    try:
        assert await store.get_account("alice@localhost") == f.account()
        with pytest.raises(StoreError) as err:
            await store.update_account_credentials(
                "alice@localhost", password_hash="new", scram_sha1="n", scram_sha256="n",
                now=T0 + 1)
        assert str(err.value) .startswith(f"sqlite {path}: database is read-only")
        with pytest.raises(StoreError, match="read-only"):
            await store.rotate_refresh_token("r1", f.refresh("r2"), now=T0 + 1)
        # Nothing of either transaction happened.
        assert (await store.get_account("alice@localhost")).password_hash == "$argon2id$fake"  # type: ignore[union-attr]
        assert (await store.get_grant("g1")).revoked_at is None  # type: ignore[union-attr]
        assert (await store.get_refresh_token("r1")).consumed_at is None  # type: ignore[union-attr]
        assert await store.get_refresh_token("r2") is None
    finally:
        await store.close()


async def test_read_only_file_needing_migration_fails_to_open(read_only_db: Path) -> None:
    path = read_only_db
    store = await connect_store(f"sqlite:///{path}", migrate=False)
    await store.migrate(target=1)
    await store.close()
    if not _make_read_only(path):
        pytest.skip("cannot make a file read-only here (no chattr on this filesystem)")
    with pytest.raises(StoreError, match="read-only") as err:
        await connect_store(f"sqlite:///{path}")
    assert str(err.value).startswith(f"sqlite {path}: ")
    check = await connect_store(f"sqlite:///{path}", migrate=False)
    try:
        assert await check.schema_version() == 1 < latest_version()
    finally:
        await check.close()


async def test_unreachable_postgresql() -> None:
    with pytest.raises(StoreError) as err:
        await connect_store("postgresql://postgres@127.0.0.1:1/test")
    assert str(err.value).startswith("postgresql 127.0.0.1:1/test: connection refused")


def test_postgresql_label_never_shows_the_password() -> None:
    from xmpp_oauth.store.postgres import store_label

    label = store_label("postgresql://svc:s3cret@db.example:6432/oauth?sslmode=require")
    assert label == "postgresql db.example:6432/oauth"


async def _kill_connections(application_name: str) -> int:
    import asyncpg

    admin = await asyncpg.connect(pg_dsn())
    try:
        return int(await admin.fetchval(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1", application_name))  # only this test's connections
    finally:
        await admin.close()


async def _eventually(store: SqlStore, jid: str) -> Account | None:
    """Read after a connection loss: StoreErrors naming the store until the pool is back."""
    for _ in range(5):
        try:
            return await store.get_account(jid)
        except StoreError as exc:
            assert str(exc).startswith(store.label)
    raise AssertionError("the pool did not recover")


@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgresql_connection_killed_mid_run(store_url: str) -> None:
    tag = parse_qs(urlsplit(store_url).query)["application_name"][0]
    store = await connect_store(store_url)
    try:
        await store.create_account(f.account())
        assert await _kill_connections(tag) >= 1
        assert await _eventually(store, "alice@localhost") == f.account()
        # Killed in the middle of a transaction: the first half must not survive.
        with pytest.raises(StoreError) as err:
            async with store._write() as db:
                await db.execute("UPDATE accounts SET password_hash = ? WHERE jid = ?",
                                 "half-written", "alice@localhost")
                await _kill_connections(tag)
                await db.execute("DELETE FROM login_sessions WHERE jid = ?", "alice@localhost")
        assert str(err.value).startswith(store.label)
        assert await _eventually(store, "alice@localhost") == f.account()
    finally:
        await store.close()
