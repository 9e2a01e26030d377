"""The shared runtime every service process builds on (web, SASL service, component).

``open_runtime(settings)`` opens the store (migrating it), loads or creates the signing keys,
loads or creates the client-registration key, starts the revocation set's refresh task and
the housekeeping task, and closes everything in reverse order on exit::

    async with open_runtime(settings) as runtime:
        principal = runtime.validator.validate(token, now=runtime.clock.now())

Background work (each failure is logged, never fatal):

* the revoked-grant set follows the store (DESIGN §3);
* every ``min(60 s, store.housekeeping_interval)`` the key ring is reloaded, so keys rotated
  by another process verify here too;
* every ``store.housekeeping_interval`` expired rows are purged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .accounts import AccountBackend, account_backend
from .clock import Clock, SystemClock
from .errors import ConfigError, StoreError
from .settings import Settings
from .store import open_store
from .store.base import Store
from .store.revocation import StoreRevocationSet
from .tokens.clients import ClientIdCodec
from .tokens.jwt import TokenService
from .tokens.keys import KeyRing, key_retention, load_keyring
from .validate import Validator

log = logging.getLogger(__name__)

REGISTRATION_KEY_FILE: Final = "registration.key"
KEY_RELOAD_INTERVAL: Final = 60.0
#: Revoked grants are remembered at least this long (and at least the longest token TTL).
MIN_RETENTION: Final = 3600.0


@dataclass
class Runtime:
    """Everything a service needs, opened once per process."""

    settings: Settings
    store: Store
    keyring: KeyRing
    tokens: TokenService
    revocations: StoreRevocationSet
    validator: Validator
    accounts: AccountBackend
    clients: ClientIdCodec
    clock: Clock
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    async def reload_keys(self) -> None:
        """Pick up keys added or retired by another process (e.g. ``keys rotate``)."""
        self.keyring = await load_keyring(self.store, self.settings, now=self.clock.now())
        self.tokens.keyring = self.keyring

    async def housekeeping(self) -> dict[str, int]:
        """Purge what can no longer be valid; returns counts per kind."""
        counts = await self.store.purge_expired(now=self.clock.now(),
                                                retention=purge_retention(self.settings))
        if any(counts.values()):
            log.info("housekeeping purged %s",
                     ", ".join(f"{n} {kind}" for kind, n in counts.items() if n))
        return counts


def purge_retention(settings: Settings) -> float:
    """How long revoked grants and used codes are kept: longer than any token they issued."""
    return float(max(key_retention(settings), MIN_RETENTION))


def _private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("data_dir", f"cannot create {path}: {exc.strerror}") from exc


def load_registration_key(settings: Settings) -> bytes:
    """The key signing stateless client ids: from the settings, the key file, or generated
    once into ``<data_dir>/registration.key`` (mode 0600, shared by every process)."""
    if settings.oauth2_registration_key:
        return settings.oauth2_registration_key.encode("utf-8")
    if settings.oauth2_registration_key_file:
        try:
            key = Path(settings.oauth2_registration_key_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError("oauth2_registration_key_file",
                              f"cannot read {settings.oauth2_registration_key_file}: "
                              f"{exc.strerror}") from exc
        if not key:
            raise ConfigError("oauth2_registration_key_file", "the file is empty")
        return key
    data_dir = Path(settings.data_dir)
    path = data_dir / REGISTRATION_KEY_FILE
    if not path.exists():
        _private_dir(data_dir)
        _create_exclusively(path, secrets.token_urlsafe(48).encode("ascii") + b"\n")
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError("data_dir", f"cannot read {path}: {exc.strerror}") from exc
    if not key:
        raise ConfigError("data_dir", f"{path} is empty")
    return key


def _create_exclusively(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` unless it exists; never a half-written file, even when
    several processes start at once (write a temp file, then hard-link it into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registration-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
        os.fsync(fd)
        os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    except OSError as exc:
        raise ConfigError("data_dir", f"cannot write {path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


async def _every(interval: float, what: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except StoreError as exc:
            log.warning("%s failed: %s", what, exc)
        except Exception:
            log.exception("%s failed", what)


@asynccontextmanager
async def open_runtime(settings: Settings, *, clock: Clock | None = None,
                       background: bool = True) -> AsyncIterator[Runtime]:
    """Open the runtime; ``background=False`` skips key reloads and housekeeping (tests,
    one-shot commands).  The revocation set always follows the store."""
    clock = clock or SystemClock()
    registration_key = load_registration_key(settings)
    clients = ClientIdCodec(registration_key, algorithm=settings.oauth2_registration_algorithm,
                            ttl=settings.oauth2_registration_ttl)
    async with open_store(settings.store_url) as store:
        keyring = await load_keyring(store, settings, now=clock.now())
        tokens = TokenService(keyring, issuer=settings.issuer,
                              jid_claim=settings.oauth2_jid_claim)
        revocations = StoreRevocationSet(
            store, poll_interval=settings.store.revocation_poll_interval)
        await revocations.start()
        runtime = Runtime(
            settings=settings, store=store, keyring=keyring, tokens=tokens,
            revocations=revocations,
            validator=Validator(tokens, revocations, domains=settings.domains),
            accounts=account_backend(settings, store, clock=clock), clients=clients,
            clock=clock,
        )
        if background:
            interval = max(settings.store.housekeeping_interval, 1.0)
            runtime._tasks.append(asyncio.create_task(
                _every(min(KEY_RELOAD_INTERVAL, interval), "key reload", runtime.reload_keys),
                name="key-reload"))
            runtime._tasks.append(asyncio.create_task(
                _every(interval, "housekeeping", runtime.housekeeping), name="housekeeping"))
        try:
            yield runtime
        finally:
            for task in runtime._tasks:
                task.cancel()
            for task in runtime._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await revocations.stop()


__all__ = ["Runtime", "load_registration_key", "open_runtime", "purge_retention"]
