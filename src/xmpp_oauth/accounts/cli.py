"""``xmpp-oauth user add|passwd|disable|enable|delete|list``: local account administration.

Passwords come from a prompt (asked twice) or, with ``--password-stdin``, from the first line
of standard input; never from the command line, where other users could read them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ..clock import SystemClock
from ..settings import Settings
from .local import LocalAccounts


class _InputError(Exception):
    """Bad input from the operator: message shown, exit status 1."""


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        return password
    if not sys.stdin.isatty():
        raise _InputError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass(f"Password for {args.jid}: ")
    second = getpass.getpass("Repeat the password: ")
    if first != second:
        raise _InputError("the passwords do not match")
    return first


def _run(settings: Settings,
         work: Callable[[LocalAccounts], Awaitable[int]]) -> int:
    if settings.accounts.backend != "local":
        print(f"accounts are kept by the XMPP server (accounts.backend = "
              f"{settings.accounts.backend!r}); manage them there", file=sys.stderr)
        return 2
    from ..store import open_store  # only these commands need the store

    async def main() -> int:
        async with open_store(settings.store_url) as store:
            accounts = LocalAccounts(store, clock=SystemClock(), domains=settings.domains)
            return await work(accounts)

    try:
        return asyncio.run(main())
    except (_InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _require(accounts: LocalAccounts, jid: str) -> str:
    bare = accounts.normalize(jid)
    if await accounts.get(bare) is None:
        raise _InputError(f"no account {bare}")
    return bare


def _add(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        bare = accounts.normalize(args.jid)
        if await accounts.get(bare) is not None:
            raise _InputError(f"account {bare} already exists")
        account = await accounts.create(bare, _read_password(args))
        print(f"created {account.jid}")
        return 0

    return _run(settings, work)


def _passwd(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        bare = await _require(accounts, args.jid)
        await accounts.change_password(bare, _read_password(args))
        print(f"password changed for {bare}; its authorizations and sessions were revoked")
        return 0

    return _run(settings, work)


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        bare = await _require(accounts, args.jid)
        await accounts.disable(bare)
        print(f"disabled {bare}; its authorizations and sessions were revoked")
        return 0

    return _run(settings, work)


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        bare = await _require(accounts, args.jid)
        await accounts.enable(bare)
        print(f"enabled {bare}")
        return 0

    return _run(settings, work)


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        bare = await _require(accounts, args.jid)
        await accounts.delete(bare)
        print(f"deleted {bare}; its authorizations were revoked")
        return 0

    return _run(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(accounts: LocalAccounts) -> int:
        for account in await accounts.list_accounts():
            created = datetime.fromtimestamp(account.created_at, UTC).strftime("%Y-%m-%d")
            state = "disabled" if account.disabled else "enabled"
            print(f"{account.jid}\t{state}\tcreated {created}")
        return 0

    return _run(settings, work)


def register(subparsers: Any) -> None:
    """Add ``user`` and its subcommands to the ``xmpp-oauth`` parser."""
    user = subparsers.add_parser("user", help="manage local accounts")
    sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    for name, func, help_text, wants_password in (
        ("add", _add, "create an account", True),
        ("passwd", _passwd, "change a password (revokes the account's authorizations)", True),
        ("disable", _disable, "disable an account (revokes its authorizations)", False),
        ("enable", _enable, "enable a disabled account", False),
        ("delete", _delete, "delete an account (revokes its authorizations)", False),
    ):
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("jid", help="bare JID, e.g. alice@example.org")
        if wants_password:
            parser.add_argument("--password-stdin", action="store_true",
                                help="read the password from the first line of stdin")
        parser.set_defaults(func=func)
    listing = sub.add_parser("list", help="list accounts")
    listing.set_defaults(func=_list)


__all__ = ["register"]
