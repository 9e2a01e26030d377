"""``xmpp-oauth component``: run the XEP-0114 component until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from xmpp_oauth.errors import ConfigError
from xmpp_oauth.settings import Settings

from .component import OAuthComponent
from .notify import GrantNotifier
from .services import StoreServices

log = logging.getLogger(__name__)

CURSOR_FILE = "component-notify.cursor"


def read_secret(settings: Settings) -> str:
    """The component secret (XEP-0114 §3) from ``component.secret_file``."""
    path = settings.component.secret_file
    if not path:
        raise ConfigError("component.secret_file", "required to run the component")
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError("component.secret_file", f"cannot read {path}: {exc.strerror}") from None
    if not secret:
        raise ConfigError("component.secret_file", f"{path} is empty")
    return secret


async def serve(settings: Settings, *, stop: asyncio.Event) -> None:
    """Run the component on the shared runtime until ``stop`` is set."""
    from xmpp_oauth.runtime import open_runtime

    secret = read_secret(settings)
    async with open_runtime(settings) as runtime:
        services = StoreServices(runtime.store, runtime.clock,
                                 on_revoked=runtime.revocations.add_local)
        component = OAuthComponent(settings, services, secret, clock=runtime.clock)
        component.start()
        try:
            if settings.component.notify_new_grants:
                notifier = GrantNotifier(
                    services, component.send_notice, domains=settings.domains,
                    cursor_file=Path(settings.data_dir) / CURSOR_FILE,
                    connected=component.connected_event,
                )
                async with notifier:
                    await stop.wait()
            else:
                await stop.wait()
        finally:
            await component.stop()


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)


def run(args: argparse.Namespace, settings: Settings) -> int:
    read_secret(settings)  # fail fast with exit code 2 before connecting anything
    asyncio.run(_main(settings))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "component", help="run the XEP-0114 component (list and revoke app access over XMPP)"
    )
    parser.set_defaults(func=run)


__all__ = ["read_secret", "register", "run", "serve"]
