"""The app side of XEP-0493: RFC 8414 metadata, RFC 7591 registration, RFC 7636 PKCE code flow
with an RFC 8252 loopback redirect, token refresh (RFC 6749 §6).

Theory of operation: an app that knows only the user's JID learns the authorization server
from the OAUTHBEARER discovery challenge (``discovery.py``), fetches its metadata, registers
itself as a public native client (no secret; PKCE protects the code), opens the user's browser
on the authorization URL, receives the code on a one-shot HTTP listener on 127.0.0.1, and
exchanges it.  Nothing here trusts the redirect blindly: ``state`` must match (RFC 6749 §10.12)
and the RFC 9207 ``iss`` parameter, when present, must equal the issuer.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web

from ..oauth.pkce import s256_challenge
from .tokenstore import StoredTokens

DEFAULT_SCOPES = ("xmpp:client:normal", "offline_access")


class ClientFlowError(Exception):
    """The authorization server or the user refused, or answered something unusable."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Pkce:
    """RFC 7636 §4.1-4.2 verifier and S256 challenge."""

    verifier: str
    challenge: str

    @classmethod
    def generate(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 chars of the unreserved alphabet
        return cls(verifier, s256_challenge(verifier))


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]


async def fetch_metadata(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Fetch RFC 8414 / OIDC discovery metadata and check the issuer matches the URL."""
    async with session.get(url) as resp:
        if resp.status != 200:
            raise ClientFlowError("metadata_unavailable", f"{url} answered HTTP {resp.status}")
        data = await resp.json()
    if not isinstance(data, dict) or "issuer" not in data:
        raise ClientFlowError("invalid_metadata", "no issuer in the metadata document")
    issuer = str(data["issuer"]).rstrip("/")
    # RFC 8414 §3.3: the issuer in the document must match the one the URL was built from.
    if not url.startswith(issuer + "/.well-known/"):
        raise ClientFlowError("invalid_metadata", f"issuer {issuer} does not match {url}")
    for needed in ("authorization_endpoint", "token_endpoint"):
        if needed not in data:
            raise ClientFlowError("invalid_metadata", f"metadata lacks {needed}")
    return data


async def register_client(
    session: aiohttp.ClientSession,
    metadata: Mapping[str, Any],
    *,
    client_name: str,
    redirect_uris: Sequence[str],
    client_uri: str | None = None,
    scope: Sequence[str] = DEFAULT_SCOPES,
) -> RegisteredClient:
    """RFC 7591 dynamic registration as a public native client."""
    endpoint = metadata.get("registration_endpoint")
    if not endpoint:
        raise ClientFlowError("registration_unsupported", "the server offers no registration")
    body: dict[str, Any] = {
        "client_name": client_name,
        "redirect_uris": list(redirect_uris),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "scope": " ".join(scope),
    }
    if client_uri:
        body["client_uri"] = client_uri
    async with session.post(str(endpoint), json=body) as resp:
        data = await resp.json(content_type=None)
        if resp.status not in (200, 201):
            raise ClientFlowError(str(data.get("error", "registration_failed")),
                                  str(data.get("error_description", "")))
    return RegisteredClient(
        client_id=str(data["client_id"]),
        client_secret=data.get("client_secret"),
        redirect_uris=tuple(data.get("redirect_uris", redirect_uris)),
    )


class LoopbackReceiver:
    """A one-shot HTTP listener on 127.0.0.1 that receives the authorization response."""

    def __init__(self, path: str = "/callback") -> None:
        self.path = path
        self._result: asyncio.Future[dict[str, str]] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        self._result = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Bind first so the port is known before the site starts (RFC 8252 §7.3: any port).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._result is not None
        if not self._result.done():
            self._result.set_result(dict(request.query))
        return web.Response(
            text="<!doctype html><title>Done</title><p>You can close this window.</p>",
            content_type="text/html",
        )

    async def wait(self, timeout: float) -> dict[str, str]:
        assert self._result is not None
        return await asyncio.wait_for(self._result, timeout)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def authorization_url(
    metadata: Mapping[str, Any], client: RegisteredClient, *, redirect_uri: str, pkce: Pkce,
    state: str, scope: Sequence[str], login_hint: str | None = None,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scope),
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    endpoint = str(metadata["authorization_endpoint"])
    sep = "&" if urlsplit(endpoint).query else "?"
    return endpoint + sep + urlencode(params)


async def _token_request(
    session: aiohttp.ClientSession, endpoint: str, form: dict[str, str],
    client: RegisteredClient,
) -> dict[str, Any]:
    auth = None
    if client.client_secret:
        auth = aiohttp.BasicAuth(client.client_id, client.client_secret)
    else:
        form = {**form, "client_id": client.client_id}
    async with session.post(endpoint, data=form, auth=auth) as resp:
        data = await resp.json(content_type=None)
        if resp.status != 200:
            raise ClientFlowError(str(data.get("error", "token_request_failed")),
                                  str(data.get("error_description", "")))
    if not isinstance(data, dict) or "access_token" not in data:
        raise ClientFlowError("invalid_token_response", "no access_token in the response")
    return data


def _stored(jid: str, metadata: Mapping[str, Any], client: RegisteredClient,
            data: Mapping[str, Any], *, now: float, previous_refresh: str | None = None
            ) -> StoredTokens:
    return StoredTokens(
        jid=jid,
        issuer=str(metadata["issuer"]),
        token_endpoint=str(metadata["token_endpoint"]),
        client_id=client.client_id,
        client_secret=client.client_secret,
        access_token=str(data["access_token"]),
        expires_at=now + float(data.get("expires_in", 3600)),
        refresh_token=data.get("refresh_token") or previous_refresh,
        scope=str(data.get("scope", "")),
    )


async def authorize_interactively(
    session: aiohttp.ClientSession,
    metadata: Mapping[str, Any],
    jid: str,
    *,
    open_browser: Callable[[str], object],
    client_name: str = "xmpp-oauth command line",
    client_uri: str | None = None,
    scope: Sequence[str] = DEFAULT_SCOPES,
    timeout: float = 300.0,
) -> StoredTokens:
    """Register, send the user to the browser, receive the code, exchange it."""
    receiver = LoopbackReceiver()
    await receiver.start()
    try:
        client = await register_client(
            session, metadata, client_name=client_name, client_uri=client_uri,
            redirect_uris=[receiver.redirect_uri], scope=scope,
        )
        pkce = Pkce.generate()
        state = secrets.token_urlsafe(24)
        open_browser(authorization_url(metadata, client, redirect_uri=receiver.redirect_uri,
                                       pkce=pkce, state=state, scope=scope, login_hint=jid))
        params = await receiver.wait(timeout)
    finally:
        await receiver.close()
    if not hmac.compare_digest(params.get("state", ""), state):
        raise ClientFlowError("invalid_state", "the redirect carried a different state")
    if "iss" in params and params["iss"].rstrip("/") != str(metadata["issuer"]).rstrip("/"):
        raise ClientFlowError("invalid_issuer", "RFC 9207 iss does not match the issuer")
    if "error" in params:
        raise ClientFlowError(params["error"], params.get("error_description", ""))
    if "code" not in params:
        raise ClientFlowError("invalid_response", "the redirect carried no code")
    data = await _token_request(session, str(metadata["token_endpoint"]), {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": receiver.redirect_uri,
        "code_verifier": pkce.verifier,
    }, client)
    return _stored(jid, metadata, client, data, now=time.time())


async def refresh_tokens(session: aiohttp.ClientSession, tokens: StoredTokens) -> StoredTokens:
    """RFC 6749 §6 refresh; the server rotates the refresh token, so keep the new one."""
    if not tokens.refresh_token:
        raise ClientFlowError("no_refresh_token", "log in again")
    client = RegisteredClient(tokens.client_id, tokens.client_secret, ())
    data = await _token_request(session, tokens.token_endpoint, {
        "grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
    }, client)
    metadata = {"issuer": tokens.issuer, "token_endpoint": tokens.token_endpoint}
    return _stored(tokens.jid, metadata, client, data, now=time.time(),
                   previous_refresh=tokens.refresh_token)


__all__ = [
    "ClientFlowError",
    "LoopbackReceiver",
    "Pkce",
    "RegisteredClient",
    "authorization_url",
    "authorize_interactively",
    "fetch_metadata",
    "refresh_tokens",
    "register_client",
]
