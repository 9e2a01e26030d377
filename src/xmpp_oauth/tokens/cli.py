"""``xmpp-oauth keys list|rotate|export`` and ``xmpp-oauth token issue``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError
from ..settings import Settings
from ..store.base import Grant, Store
from .jwt import TokenService
from .keys import key_retention, load_keyring, rotate_keys
from .secrets import new_secret

DEFAULT_SCOPES = ("xmpp:client:normal",)


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    from ..store import open_store  # lazily: only these commands need a store

    async def main() -> int:
        async with open_store(settings.store_url) as store:
            return await work(store)

    return asyncio.run(main())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: str | None, text: str, *, secret: bool) -> None:
    """Write ``text`` to ``path`` (stdout if None); secret files get mode 0600."""
    if path is None:
        sys.stdout.write(text)
        return
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # also when the file existed with looser permissions
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


# -- keys ------------------------------------------------------------------------------------


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        stored = await store.list_signing_keys()
        retention = key_retention(settings)
        unretired = [k for k in stored if k.retired_at is None]
        active = max(unretired, key=lambda k: (k.created_at, k.kid)) if unretired else None
        rows = []
        for k in sorted(stored, key=lambda k: k.created_at, reverse=True):
            if k is active:
                state = "active"
            elif k.retired_at is None:
                state = "standby"
            else:
                state = f"retired, verifies until {_iso(k.retired_at + retention)}"
            rows.append({"kid": k.kid, "alg": k.alg, "created_at": _iso(k.created_at),
                         "state": state})
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print("no signing keys yet (one is generated on first use)")
        for row in rows if not args.json else ():
            print(f"{row['kid']}  {row['alg']:<5}  created {row['created_at']}  {row['state']}")
        return 0

    return _with_store(settings, work)


def _keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        await load_keyring(store, settings, now=time.time())  # make sure a first key exists
        new = await rotate_keys(store, settings, now=time.time())
        print(f"new active key {new.kid} ({new.alg}); running processes pick it up on reload")
        return 0

    return _with_store(settings, work)


def _keys_export(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        ring = await load_keyring(store, settings, now=time.time())
        key = ring.active
        doc: dict[str, Any]
        if key.is_symmetric:
            if not args.for_ejabberd:
                raise ConfigError("keys.algorithm", "HS256 keys are secret and never published; "
                                  "use --for ejabberd -o FILE to share the key with ejabberd")
            if args.output is None:
                raise ConfigError("keys.algorithm", "an HS256 key is written only to a file (-o)")
            jwk = key.secret_jwk()
        else:
            jwk = key.public_jwk()
        if args.format == "jwk":
            doc = jwk
        elif args.for_ejabberd or key.is_symmetric:
            doc = {"keys": [jwk]}  # ejabberd's jwt_key takes a JWKS with exactly one key
        else:
            doc = ring.jwks()
        _write(args.output, json.dumps(doc, indent=2) + "\n", secret=key.is_symmetric)
        if args.output is not None:
            print(f"wrote key {key.kid} ({key.alg}) to {args.output}", file=sys.stderr)
        return 0

    return _with_store(settings, work)


# -- token -------------------------------------------------------------------------------------


def _token_issue(args: argparse.Namespace, settings: Settings) -> int:
    jid = args.jid.strip().lower()
    local, at, domain = jid.rpartition("@")
    if not at or not local or "/" in jid:
        raise ConfigError("--jid", f"{args.jid!r} is not a bare JID (user@domain)")
    if domain not in settings.domains:
        raise ConfigError("--jid", f"{domain!r} is not a served domain {list(settings.domains)}")
    scopes = tuple(dict.fromkeys(s for arg in (args.scope or DEFAULT_SCOPES) for s in arg.split()))
    ttl = args.ttl or settings.oauth2_access_token_ttl
    if ttl <= 0:
        raise ConfigError("--ttl", "must be positive")

    async def work(store: Store) -> int:
        now = time.time()
        ring = await load_keyring(store, settings, now=now)
        grant = Grant(grant_id=new_secret(16), jid=jid, client_id=args.client_id,
                      client_name=args.client_id, scopes=scopes, created_at=now,
                      last_used_at=now, auth_time=now)
        await store.create_grant(grant)
        service = TokenService(ring, issuer=settings.issuer, jid_claim=settings.oauth2_jid_claim)
        issued = service.issue_access_token(
            subject=jid, client_id=args.client_id, scopes=scopes, grant_id=grant.grant_id,
            audience=[settings.audience_for(domain)], auth_time=now, ttl=ttl, now=now,
        )
        if args.json:
            print(json.dumps({"access_token": issued.token, "token_type": "Bearer",
                              "expires_in": ttl, "scope": " ".join(sorted(scopes)),
                              "grant_id": grant.grant_id, "jti": issued.jti}, indent=2))
        else:
            print(issued.token)
        return 0

    return _with_store(settings, work)


def register(subparsers: Any) -> None:
    """Add the ``keys`` and ``token`` commands."""
    keys = subparsers.add_parser("keys", help="signing keys: list, rotate, export")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    lst = keys_sub.add_parser("list", help="show the signing keys and their state")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_keys_list)

    rot = keys_sub.add_parser("rotate", help="add a new active key; old keys verify until "
                              "their last token expires")
    rot.set_defaults(func=_keys_rotate)

    exp = keys_sub.add_parser("export", help="write the active public key (JWK or JWKS)")
    exp.add_argument("--format", choices=("jwk", "jwks"), default="jwks")
    exp.add_argument("--for", dest="for_ejabberd", choices=("ejabberd",),
                     help="exactly one key, as ejabberd's jwt_key expects (HS256: the secret)")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    exp.set_defaults(func=_keys_export)

    token = subparsers.add_parser("token", help="admin/dev helpers for access tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    issue = token_sub.add_parser("issue", help="create a grant and print an access token")
    issue.add_argument("--jid", required=True, help="bare JID the token is for")
    issue.add_argument("--scope", action="append",
                       help="scope(s), space-separated or repeated (default xmpp:client:normal)")
    issue.add_argument("--ttl", type=int, default=0, help="lifetime in seconds "
                       "(default oauth2_access_token_ttl)")
    issue.add_argument("--client-id", default="xmpp-oauth-cli", help="client id to record")
    issue.add_argument("--json", action="store_true", help="print a token response as JSON")
    issue.set_defaults(func=_token_issue)


__all__ = ["register"]
