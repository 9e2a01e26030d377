"""``xmpp-oauth serve | init | client``: run the web server, start a deployment, manage clients."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from ..errors import ConfigError, OAuthError
from ..oauth.registration import validate_metadata
from ..settings import Settings
from ..store import open_store
from ..store.base import StoredClient
from ..tokens.secrets import hash_secret, new_secret
from .app import create_app
from .keys import RUNTIME_KEY

log = logging.getLogger(__name__)
#: Seconds in-flight requests get to finish after SIGTERM/SIGINT.
SHUTDOWN_TIMEOUT: Final = 10.0
CONFIG_NAME: Final = "xmpp-oauth.toml"


class AccessLogger(AbstractAccessLogger):
    """Method, path (never the query: it may carry codes or tokens), status, duration."""

    @property
    def enabled(self) -> bool:
        # aiohttp asks once per connection; at WARNING nothing is formatted or timed at all.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.1fms", request.remote, request.method, request.path,
                         response.status, time * 1000)


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.http.tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.http.tls_cert_file, settings.http.tls_key_file)
    return ctx


async def run_server(settings: Settings, *, with_sasl: bool = True) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting and let requests finish.

    With ``with_sasl`` the SASL service (Dovecot auth protocol) runs in the same process on
    the configured listeners, or one UNIX socket per domain under ``data_dir``.
    """
    app = create_app(settings)
    runner = web.AppRunner(app, access_log_class=AccessLogger,
                           access_log=logging.getLogger("xmpp_oauth.access"),
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()  # opens the runtime (store, keys) before any connection
    sasl = None
    try:
        if with_sasl:
            from ..saslservice.server import start_sasl_service

            sasl = await start_sasl_service(app[RUNTIME_KEY])
            for bound in sasl.bound:
                where = str(Path(bound.socket).absolute()) if bound.socket else (  # noqa: ASYNC240
                    f"{bound.host}:{bound.port}")
                print(f"sasl service for {bound.domain} on {where}", flush=True)
        tls = _ssl_context(settings)
        site = web.TCPSite(runner, settings.http.host, settings.http.port, ssl_context=tls)
        try:
            await site.start()
        except OSError as exc:
            # Another server on the port (often a second `serve`): name the setting to change.
            raise ConfigError("http.port", f"cannot listen on {settings.http.host}:"
                                           f"{settings.http.port}: {exc.strerror}") from exc
        port = settings.http.port
        server = site._server  # noqa: SLF001 - the only way to learn an ephemeral port
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            port = sockets[0].getsockname()[1]
        host = settings.http.host
        shown = f"[{host}]" if ":" in host else host
        base = f"{'https' if tls else 'http'}://{shown}:{port}"
        suffix = f" (issuer {settings.issuer})" if settings.issuer != base else ""
        print(f"listening on {base}{suffix}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        if sasl is not None:
            await sasl.close()
        await runner.cleanup()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(run_server(settings, with_sasl=not args.no_sasl))
    return 0


# -- init --------------------------------------------------------------------------------

_STARTER = """\
# xmpp-oauth settings (TOML).  Every key is optional; the values shown are the defaults
# unless marked otherwise.  Environment variables override this file:
# XMPP_OAUTH_<KEY>, or XMPP_OAUTH_<SECTION>__<KEY> for keys inside a [section].

# The XMPP domains whose accounts this server authorizes.
domains = ["localhost"]
site_name = "xmpp-oauth"
# Where the SQLite database, signing keys and generated secrets live (written by `init`).
data_dir = "{data_dir}"

# Token lifetimes in seconds (Prosody mod_http_oauth2 names).
oauth2_access_token_ttl = 3600
oauth2_refresh_token_ttl = 1209600
# Grants and response types clients may use.  Also possible: "password", "implicit",
# response type "token" (both off by default: RFC 9700 advises against them).
allowed_oauth2_grant_types = ["authorization_code", "refresh_token",
                              "urn:ietf:params:oauth:grant-type:device_code"]
allowed_oauth2_response_types = ["code"]
# PKCE (RFC 7636): required, S256 only.
oauth2_require_code_challenge = true
allowed_oauth2_code_challenge_methods = ["S256"]
# Extra scopes with the description the consent page shows.
# [oauth2_extra_scopes]
# "urn:example:chat-history" = "Read your chat history"

[http]
# Loopback only by default.  For a public server either give TLS files, or run behind a
# reverse proxy: set public_url to the https URL users see and list the proxy addresses.
host = "127.0.0.1"
port = 8088
# public_url = "https://auth.example.org"
# tls_cert_file = "/etc/xmpp-oauth/cert.pem"
# tls_key_file = "/etc/xmpp-oauth/key.pem"
# trusted_proxies = ["127.0.0.1"]

[store]
# Default: SQLite under data_dir.  For several processes use PostgreSQL:
# url = "postgresql://xmpp-oauth@localhost/xmpp_oauth"

[keys]
# EdDSA (Ed25519, default), ES256 or RS256; HS256 only for a shared-secret deployment.
algorithm = "EdDSA"

[accounts]
# "local" (accounts in our store: `xmpp-oauth user add`) or "xmpp" (log in upstream).
backend = "local"
"""


def _init(args: argparse.Namespace, settings: Settings) -> int:
    directory = Path(args.directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / CONFIG_NAME
    if config.exists() and not args.force:
        print(f"{config} exists; use --force to overwrite", file=sys.stderr)
        return 1
    data_dir = directory / "xmpp-oauth-data"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    config.write_text(_STARTER.format(data_dir=str(data_dir).replace("\\", "\\\\")))
    os.chmod(config, 0o600)
    fresh = Settings.from_toml(config)
    asyncio.run(_init_runtime(fresh))
    print(f"wrote {config}")
    print(f"start the server with: xmpp-oauth --config {config} serve")
    return 0


async def _init_runtime(settings: Settings) -> None:
    """Open the runtime once: creates the database, the first signing key and secrets."""
    from ..runtime import open_runtime

    async with open_runtime(settings):
        pass


# -- client ------------------------------------------------------------------------------


def _client_add(args: argparse.Namespace, settings: Settings) -> int:
    metadata: dict[str, Any] = {"client_name": args.name}
    if args.client_uri:
        metadata["client_uri"] = args.client_uri
    if args.redirect_uri:
        metadata["redirect_uris"] = args.redirect_uri
    if args.grant_type:
        metadata["grant_types"] = args.grant_type
    if args.scope:
        metadata["scope"] = args.scope
    metadata["token_endpoint_auth_method"] = "none" if args.public else "client_secret_basic"
    try:
        cleaned = validate_metadata(metadata, settings)
    except OAuthError as exc:
        print(f"invalid client: {exc.description}", file=sys.stderr)
        return 1
    client_id = new_secret(16)  # no dots: never mistaken for a stateless JWT client id
    secret = None if args.public else new_secret()

    async def add() -> None:
        async with open_store(settings.store_url) as store:
            await store.add_client(StoredClient(
                client_id=client_id,
                client_secret_hash=hash_secret(secret) if secret else None,
                metadata=cleaned,
                created_at=_now(),
            ))

    asyncio.run(add())
    print(f"client_id: {client_id}")
    if secret:
        print(f"client_secret: {secret}  (shown once; only its hash is stored)")
    return 0


def _now() -> float:
    from ..clock import SystemClock

    return SystemClock().now()


def _client_list(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[StoredClient]:
        async with open_store(settings.store_url) as store:
            return await store.list_clients()

    clients = asyncio.run(run())
    if args.json:
        print(json.dumps([{"client_id": c.client_id, "created_at": c.created_at,
                           **c.metadata} for c in clients], indent=2))
        return 0
    for c in clients:
        kind = "public" if c.client_secret_hash is None else "confidential"
        uris = " ".join(c.metadata.get("redirect_uris", []))
        print(f"{c.client_id}  {c.metadata.get('client_name', '')!r}  {kind}  {uris}")
    return 0


def _client_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with open_store(settings.store_url) as store:
            # Deny-lists the id and revokes every grant it holds (tokens stop within 1 s).
            await store.revoke_client(args.client_id, now=_now())
            if await store.get_client(args.client_id) is not None:
                await store.delete_client(args.client_id)

    asyncio.run(run())
    print(f"revoked {args.client_id}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``serve``, ``init`` and ``client`` to the main parser."""
    serve = subparsers.add_parser("serve", help="run the authorization server")
    serve.add_argument("-c", "--config", default=argparse.SUPPRESS,
                       help="TOML settings file (same as the global --config)")
    serve.add_argument("--no-sasl", action="store_true",
                       help="do not run the SASL service for XMPP servers in this process")
    serve.set_defaults(func=_serve)

    init = subparsers.add_parser("init", help="write a starter config and generate keys")
    init.add_argument("directory", nargs="?", default=".", help="where to put it (default .)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.set_defaults(func=_init)

    client = subparsers.add_parser("client", help="admin-registered clients")
    csub = client.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    add = csub.add_parser("add", help="register a client (prints its id and secret)")
    add.add_argument("--name", required=True)
    add.add_argument("--client-uri")
    add.add_argument("--redirect-uri", action="append", help="repeat for several")
    add.add_argument("--grant-type", action="append", help="repeat; default authorization_code")
    add.add_argument("--scope", help="space-separated scopes the client may ask for")
    add.add_argument("--public", action="store_true", help="no secret (native/browser app)")
    add.set_defaults(func=_client_add)
    lst = csub.add_parser("list", help="list admin-registered clients")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_client_list)
    rev = csub.add_parser("revoke", help="revoke a client (stored or dynamic) and its grants")
    rev.add_argument("client_id")
    rev.set_defaults(func=_client_revoke)


__all__ = ["AccessLogger", "register", "run_server"]
