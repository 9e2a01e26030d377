"""``xmpp-oauth`` command line: one entry point, subcommands registered by their packages.

Each subcommand module exposes ``register(subparsers)``; a registered parser sets
``func(args, settings) -> int``.  Exit codes: 0 ok, 1 failure, 2 configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import logging.config
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import ConfigError, StoreError
from .settings import Settings

log = logging.getLogger(__name__)

#: Modules that add subcommands (each owns its concept's commands).
SUBCOMMAND_MODULES = (
    "xmpp_oauth.web.cli",  # serve, init, client
    "xmpp_oauth.accounts.cli",  # user
    "xmpp_oauth.tokens.cli",  # keys, token
    "xmpp_oauth.saslservice.cli",  # sasl, extauth
    "xmpp_oauth.client.cli",  # login
    "xmpp_oauth_component.cli",  # component
)


def logging_config(level: str) -> dict[str, Any]:
    """One dictConfig for every process (uvicorn LOGGING_CONFIG style)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default",
                       "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "xmpp_oauth": {"level": level, "handlers": ["stderr"], "propagate": False},
            "xmpp_oauth.access": {"level": level, "handlers": ["stderr"], "propagate": False},
            "xmpp_oauth_component": {"level": level, "handlers": ["stderr"], "propagate": False},
            "slixmpp": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
            "aiohttp.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }


def _check_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.to_mapping(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xmpp-oauth", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"xmpp-oauth {__version__}")
    parser.add_argument("-c", "--config", help="TOML settings file (default: built-in defaults)")
    parser.add_argument("--log-level", help="override log_level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check-config", help="print the effective settings or the error")
    check.add_argument("file", nargs="?", help="settings file (same as --config)")
    check.set_defaults(func=_check_config)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name.startswith(exc.name) or exc.name == name):
                continue  # that part is not installed
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    config = getattr(args, "file", None) if args.command == "check-config" else None
    overrides: dict[str, Any] = {}
    if args.log_level:
        overrides["log_level"] = args.log_level.upper()
    try:
        settings = Settings.load(config or args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logging_config(settings.log_level.upper()))
    try:
        return int(args.func(args, settings))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"store error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["build_parser", "logging_config", "main"]
