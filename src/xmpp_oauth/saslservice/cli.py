"""``xmpp-oauth sasl`` (the Dovecot-protocol SASL service) and ``xmpp-oauth extauth`` (ejabberd)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from ..runtime import open_runtime
from ..settings import Settings
from .extauth import ExtauthHandler, run_extauth
from .server import start_sasl_service, validator_check

log = logging.getLogger(__name__)


async def _run_sasl(settings: Settings) -> int:
    async with open_runtime(settings) as runtime:
        handle = await start_sasl_service(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        log.info("SASL service ready (%s)", ", ".join(
            b.socket or f"{b.host}:{b.port}" for b in handle.bound))
        try:
            await stop.wait()
        finally:
            await handle.close()
    return 0


def _sasl(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run_sasl(settings))


async def _run_extauth(settings: Settings) -> int:
    async with open_runtime(settings) as runtime:
        handler = ExtauthHandler(
            store=runtime.store, token_check=validator_check(runtime.validator),
            domains=settings.domains, clock=runtime.clock,
            local_passwords=settings.accounts.backend == "local",
            max_failures_per_minute=settings.sasl.max_failures_per_minute,
        )
        answered = await run_extauth(handler)
        log.info("extauth: input closed after %d requests", answered)
    return 0


def _extauth(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run_extauth(settings))


def register(subparsers: Any) -> None:
    """Add the ``sasl`` and ``extauth`` commands."""
    sasl = subparsers.add_parser(
        "sasl", help="run the SASL service for Prosody (Dovecot auth protocol)",
        description="Serve the Dovecot authentication protocol on the listeners of "
                    "[[sasl.listeners]] (default: <data_dir>/sasl-<domain>.sock per domain) "
                    "until SIGTERM.")
    sasl.set_defaults(func=_sasl)
    ext = subparsers.add_parser(
        "extauth", help="ejabberd external authentication over stdin/stdout",
        description="For ejabberd's extauth_program: accepts an access token or a local "
                    "password for auth:User:Server:Password, answers isuser, refuses the rest.")
    ext.set_defaults(func=_extauth)
