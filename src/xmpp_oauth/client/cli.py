"""``xmpp-oauth login JID``: the whole XEP-0493 flow for a person at a terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import webbrowser
from typing import Any

import aiohttp

from ..settings import Settings
from .oauth import ClientFlowError, authorize_interactively, fetch_metadata, refresh_tokens
from .tokenstore import TokenFile, default_token_path
from .xmpp import XmppEndpoint, XmppLoginError, discover_metadata_url, login_with_token


def register(sub: Any) -> None:
    p = sub.add_parser("login", help="log in to an XMPP account with OAuth (XEP-0493)")
    p.add_argument("jid", help="your bare JID, e.g. alice@example.org")
    p.add_argument("--server", help="XMPP server host[:port] (default: DNS SRV of the domain)")
    p.add_argument("--ca-file", help="CA certificate file for the XMPP server's TLS")
    p.add_argument("--metadata-url", help="skip discovery: the openid-configuration URL")
    p.add_argument("--token-file", help=f"where tokens are kept (default {default_token_path()})")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening it")
    p.add_argument("--client-uri", help="client_uri to register (some servers require one)")
    p.set_defaults(func=run_login)


def _endpoint(args: argparse.Namespace) -> XmppEndpoint:
    if not args.server:
        return XmppEndpoint(ca_file=args.ca_file)
    host, _, port = args.server.rpartition(":") if ":" in args.server else (args.server, "", "")
    return XmppEndpoint(host=host, port=int(port or 5222), ca_file=args.ca_file)


def _open(url: str, use_browser: bool) -> None:
    print(f"Open this address to grant access:\n  {url}", file=sys.stderr)
    if use_browser:
        webbrowser.open(url)


async def _login(args: argparse.Namespace) -> int:
    jid = args.jid.lower()
    endpoint = _endpoint(args)
    store = TokenFile(args.token_file or default_token_path())
    tokens = store.load(jid)
    async with aiohttp.ClientSession(raise_for_status=False) as session:
        if tokens is not None and tokens.expired(now=time.time()):
            try:
                tokens = await refresh_tokens(session, tokens)
                store.save(tokens)
            except ClientFlowError as exc:
                print(f"refresh failed ({exc}); asking again", file=sys.stderr)
                tokens = None
        if tokens is None:
            url = args.metadata_url or await discover_metadata_url(jid, endpoint)
            metadata = await fetch_metadata(session, url)
            tokens = await authorize_interactively(
                session, metadata, jid, client_uri=args.client_uri,
                open_browser=lambda u: _open(u, not args.no_browser),
            )
            store.save(tokens)
    xmpp = await login_with_token(jid, tokens.access_token, endpoint)
    print(f"logged in as {xmpp.boundjid.bare} with OAUTHBEARER")
    xmpp.disconnect()
    return 0


def run_login(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_login(args))
    except (ClientFlowError, XmppLoginError, aiohttp.ClientError, TimeoutError) as exc:
        print(f"login failed: {exc}", file=sys.stderr)
        return 1
