"""``open_runtime``: store, keys, registration key, revocation set and housekeeping wired up.

Runs on both backends (the store URL comes from the store fixtures).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.store import factories as f
from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.errors import ConfigError, InvalidTokenError
from xmpp_oauth.runtime import Runtime, load_registration_key, open_runtime, purge_retention
from xmpp_oauth.settings import Settings
from xmpp_oauth.tokens.keys import rotate_keys


def _issue(runtime: Runtime, grant_id: str) -> str:
    now = runtime.clock.now()
    return runtime.tokens.issue_access_token(
        subject="alice@localhost", client_id="client-a", scopes=["xmpp:client:normal"],
        grant_id=grant_id, audience=["xmpp:localhost"], auth_time=now, ttl=3600, now=now,
    ).token


async def test_runtime_end_to_end(store_url: str, settings_factory: Callable[..., Settings],
                                  clock: FrozenClock, tmp_path: Path) -> None:
    settings = settings_factory(store__url=store_url)
    async with open_runtime(settings, clock=clock) as runtime:
        data_dir = Path(settings.data_dir)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        key_file = data_dir / "registration.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert isinstance(runtime.accounts, LocalAccounts)
        kid = runtime.keyring.active.kid

        await runtime.store.create_grant(f.grant("g1", created_at=clock.now()))
        token = _issue(runtime, "g1")
        assert runtime.validator.validate(token, now=clock.now()).grant_id == "g1"
        # Revoked elsewhere (straight in the store): refused once the set has caught up.
        await runtime.store.revoke_grant("g1", reason="user", now=clock.now())
        await runtime.revocations.refresh()
        with pytest.raises(InvalidTokenError) as err:
            runtime.validator.validate(token, now=clock.now())
        assert err.value.reason == "revoked"

        client_id, secret = runtime.clients.issue({"client_name": "App"}, now=clock.now())
        runtime.clients.verify_secret(client_id, secret)

    # A restart keeps the signing key and the registration key (client ids stay valid).
    async with open_runtime(settings, clock=clock) as again:
        assert again.keyring.active.kid == kid
        assert again.clients.decode(client_id, now=clock.now())["client_name"] == "App"
        again.clients.verify_secret(client_id, secret)
        assert again.revocations.is_revoked("g1")  # loaded at start


async def test_keys_rotated_elsewhere_are_picked_up(store_url: str, clock: FrozenClock,
                                                    settings_factory: Callable[..., Settings],
                                                    ) -> None:
    settings = settings_factory(store__url=store_url)
    async with open_runtime(settings, clock=clock, background=False) as runtime:
        old = runtime.keyring.active.kid
        clock.advance(10)
        new = await rotate_keys(runtime.store, settings, now=clock.now())
        await runtime.reload_keys()
        assert runtime.keyring.active.kid == new.kid != old
        assert runtime.tokens.keyring is runtime.keyring
        await runtime.store.create_grant(f.grant("g1"))
        assert runtime.validator.validate(_issue(runtime, "g1"), now=clock.now())


async def test_housekeeping_uses_a_retention_longer_than_tokens(
    store_url: str, clock: FrozenClock, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(store__url=store_url, oauth2_access_token_ttl=7200)
    retention = purge_retention(settings)
    assert retention > 7200
    async with open_runtime(settings, clock=clock, background=False) as runtime:
        await runtime.store.create_grant(f.grant("g1", created_at=clock.now(),
                                                 last_used_at=clock.now()))
        await runtime.store.revoke_grant("g1", reason="user", now=clock.now())
        clock.advance(7200)  # a token issued just before the revocation may still be live
        assert (await runtime.housekeeping())["grants"] == 0
        await runtime.revocations.refresh()
        assert runtime.revocations.is_revoked("g1")
        clock.advance(retention - 7200)
        assert (await runtime.housekeeping())["grants"] == 1


def test_registration_key_sources(settings_factory: Callable[..., Any], tmp_path: Path) -> None:
    assert load_registration_key(settings_factory(oauth2_registration_key="k" * 40)) == b"k" * 40
    key_file = tmp_path / "reg.key"
    key_file.write_bytes(b"from-a-file-" * 4 + b"\n")
    assert load_registration_key(settings_factory(
        oauth2_registration_key_file=str(key_file))) == b"from-a-file-" * 4
    with pytest.raises(ConfigError, match="oauth2_registration_key_file"):
        load_registration_key(settings_factory(
            oauth2_registration_key_file=str(tmp_path / "missing")))
    generated = settings_factory()
    assert not (Path(generated.data_dir) / "registration.key").exists()
    first = load_registration_key(generated)
    assert len(first) >= 64 and load_registration_key(generated) == first


def test_registration_key_created_once_by_racing_starters(
    settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_registration_key(settings)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    leftovers = [p.name for p in Path(settings.data_dir).iterdir()]
    assert leftovers == ["registration.key"]
