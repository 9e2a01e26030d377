"""RFC 6749 §2 clients: lookup, authentication (§2.3) and redirect URI matching (§3.1.2).

Theory of operation
-------------------
Two kinds of client exist (DESIGN §3 "Client id"):

* **dynamic** clients, registered through RFC 7591: the ``client_id`` is a signed JWT that
  carries the metadata, and the secret is ``HMAC(registration key, client_id)``.  Nothing is
  stored, yet a deny-list in the store can revoke one (``Store.revoke_client``);
* **stored** clients, added by an administrator (``xmpp-oauth client add``): metadata and the
  secret's hash live in the store.  Their ids never contain a dot, a JWT always does, so the id
  alone says where to look.

Client authentication at the token, revocation, introspection and device endpoints:

===================== =====================================================================
method                accepted when
===================== =====================================================================
client_secret_basic   ``Authorization: Basic`` with form-urlencoded id and secret (§2.3.1)
client_secret_post    ``client_id`` + ``client_secret`` in the body (§2.3.1)
none                  only ``client_id``, and the client registered ``none`` (public)
===================== =====================================================================

A confidential client may use either secret method, whatever it registered (RFC 7591's
default is ``client_secret_basic`` and many libraries send the other one).  Two methods in one
request are refused (§2.3: "MUST NOT use more than one authentication method").  Secrets are
compared in constant time.  Failures are ``invalid_client`` (401), with a ``Basic`` challenge
when the client tried the Authorization header (§5.2).

Redirect URIs are compared exactly (RFC 9700 §4.1.3), with one exception: a registered ``http``
loopback URI matches the same URI on any port (RFC 8252 §7.3), because native apps listen on an
ephemeral port.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Protocol
from urllib.parse import unquote_plus, urlsplit

from ..errors import InvalidClientError, InvalidRequestError
from ..settings import is_loopback_host
from ..tokens.clients import MAX_CLIENT_ID_LENGTH
from ..tokens.secrets import constant_time_equal, hash_secret
from .requests import Params

#: RFC 8252 §7 / the out-of-band URN that shows the code on a page.
OOB_URI: Final = "urn:ietf:wg:oauth:2.0:oob"
#: How long a looked-up client (and its deny-list status) is reused, in seconds.
CLIENT_CACHE_TTL: Final = 1.0
_CACHE_SIZE: Final = 4096
_BASIC_CHALLENGE: Final = 'Basic realm="xmpp-oauth", charset="UTF-8"'


class AuthMethod(StrEnum):
    """RFC 7591 §2 ``token_endpoint_auth_method`` values we support."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client and its (validated) RFC 7591 metadata."""

    client_id: str
    metadata: Mapping[str, Any]
    stored: bool = False
    secret_hash: str | None = field(default=None, repr=False)
    # Derived once from the metadata: asked on every token request.
    _grant_types: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _auth_method: AuthMethod = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # RFC 7591 §2: the default grant type is authorization_code.
        object.__setattr__(self, "_grant_types",
                           self._list("grant_types", ("authorization_code",)))
        raw = self._str("token_endpoint_auth_method") or AuthMethod.CLIENT_SECRET_BASIC
        try:
            method = AuthMethod(raw)
        except ValueError:
            method = AuthMethod.CLIENT_SECRET_BASIC
        object.__setattr__(self, "_auth_method", method)

    def _str(self, name: str) -> str:
        value = self.metadata.get(name)
        return value if isinstance(value, str) else ""

    def _list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.metadata.get(name)
        if isinstance(value, list | tuple):
            return tuple(v for v in value if isinstance(v, str))
        return default

    @property
    def client_name(self) -> str:
        return self._str("client_name") or self._str("client_uri") or "unnamed client"

    @property
    def client_uri(self) -> str:
        return self._str("client_uri")

    @property
    def logo_uri(self) -> str:
        return self._str("logo_uri")

    @property
    def policy_uri(self) -> str:
        return self._str("policy_uri")

    @property
    def tos_uri(self) -> str:
        return self._str("tos_uri")

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return self._list("redirect_uris")

    @property
    def grant_types(self) -> tuple[str, ...]:
        return self._grant_types

    @property
    def response_types(self) -> tuple[str, ...]:
        return self._list("response_types", ("code",))

    @property
    def auth_method(self) -> AuthMethod:
        return self._auth_method

    @property
    def is_public(self) -> bool:
        return self._auth_method is AuthMethod.NONE

    @property
    def scope(self) -> tuple[str, ...]:
        raw = self._str("scope")
        return tuple(s for s in raw.split(" ") if s)


class ClientIdDecoder(Protocol):
    """The part of ``tokens.clients.ClientIdCodec`` this module uses."""

    def decode(self, client_id: str, *, now: float) -> dict[str, Any]: ...
    def secret_for(self, client_id: str) -> str: ...


class ClientStore(Protocol):
    """The part of the Store this module uses."""

    async def get_client(self, client_id: str) -> Any: ...
    async def is_client_revoked(self, client_id: str) -> bool: ...


class ClientRegistry:
    """Finds clients by id; remembers answers for :data:`CLIENT_CACHE_TTL` seconds.

    The short cache keeps the deny-list lookup off the hot token path; revoking a client also
    revokes all its grants in the store, which every validator learns within a second anyway.
    """

    def __init__(self, store: ClientStore, codec: ClientIdDecoder, *,
                 cache_ttl: float = CLIENT_CACHE_TTL) -> None:
        self._store = store
        self._codec = codec
        self._ttl = cache_ttl
        self._cache: OrderedDict[str, tuple[Client, float]] = OrderedDict()
        # HMAC over a ~1 kB client id costs more than the rest of client authentication:
        # remember each dynamic client's expected secret (bounded with the cache).
        self._secrets: dict[str, str] = {}

    async def get(self, client_id: str, *, now: float) -> Client:
        """The client, or ``invalid_client`` if unknown, expired or revoked."""
        hit = self._cache.get(client_id)
        if hit is not None and 0 <= now - hit[1] < self._ttl:
            return hit[0]
        client = await self._load(client_id, now=now)
        self._cache[client_id] = (client, now)
        self._cache.move_to_end(client_id)
        while len(self._cache) > _CACHE_SIZE:
            old, _ = self._cache.popitem(last=False)
            self._secrets.pop(old, None)
        return client

    def forget(self, client_id: str) -> None:
        """Drop a cached entry (after a local revocation)."""
        self._cache.pop(client_id, None)

    async def _load(self, client_id: str, *, now: float) -> Client:
        if len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise InvalidClientError("unknown client")
        if "." not in client_id:
            stored = await self._store.get_client(client_id)
            if stored is None:
                raise InvalidClientError("unknown client")
            client = Client(client_id, dict(stored.metadata), stored=True,
                            secret_hash=stored.client_secret_hash)
        else:
            client = Client(client_id, self._codec.decode(client_id, now=now))
        if await self._store.is_client_revoked(client_id):
            raise InvalidClientError("client revoked")
        return client

    def verify_secret(self, client: Client, secret: str) -> None:
        """Constant-time secret check; ``invalid_client`` on mismatch."""
        if client.stored:
            if client.secret_hash is None or not constant_time_equal(
                hash_secret(secret), client.secret_hash
            ):
                raise InvalidClientError("client authentication failed")
            return
        expected = self._secrets.get(client.client_id)
        if expected is None:
            expected = self._codec.secret_for(client.client_id)
            if client.client_id in self._cache:
                self._secrets[client.client_id] = expected
        if not constant_time_equal(expected, secret):
            raise InvalidClientError("client authentication failed")


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a request presented to identify its client (RFC 6749 §2.3)."""

    client_id: str
    secret: str | None
    method: AuthMethod


def extract_credentials(authorization: str | None, params: Params) -> ClientCredentials | None:
    """Read client credentials from the header and body; ``None`` when there are none."""
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if authorization is not None and authorization[:6].lower() == "basic ":
        if body_secret is not None:
            # §2.3: one authentication method per request.
            raise InvalidRequestError("more than one client authentication method")
        client_id, secret = _parse_basic(authorization[6:].strip())
        if body_id is not None and body_id != client_id:
            raise InvalidClientError("client_id does not match the credentials",
                                     www_authenticate=_BASIC_CHALLENGE)
        return ClientCredentials(client_id, secret, AuthMethod.CLIENT_SECRET_BASIC)
    if body_id is None:
        if body_secret is not None:
            raise InvalidRequestError("client_secret without client_id")
        return None
    if body_secret is not None:
        return ClientCredentials(body_id, body_secret, AuthMethod.CLIENT_SECRET_POST)
    return ClientCredentials(body_id, None, AuthMethod.NONE)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_basic(encoded: str) -> tuple[str, str]:
    # Cached: a client sends the same header on every request, and decoding a ~1 kB
    # dynamic client id costs more than the rest of client authentication.  Only the
    # parse is remembered; the secret is still checked (constant time) every time.
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError("malformed Basic credentials",
                                 www_authenticate=_BASIC_CHALLENGE) from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise InvalidClientError("malformed Basic credentials", www_authenticate=_BASIC_CHALLENGE)
    # §2.3.1: id and secret are form-urlencoded before Basic encoding.
    return unquote_plus(user), unquote_plus(password)


async def authenticate_client(
    registry: ClientRegistry,
    *,
    authorization: str | None,
    params: Params,
    now: float,
    allow_public: bool = True,
) -> Client:
    """RFC 6749 §2.3 / §3.2.1: identify and authenticate the requesting client."""
    creds = extract_credentials(authorization, params)
    if creds is None:
        raise InvalidClientError("client authentication required")
    challenge = _BASIC_CHALLENGE if creds.method is AuthMethod.CLIENT_SECRET_BASIC else None
    try:
        client = await registry.get(creds.client_id, now=now)
    except InvalidClientError as exc:
        raise InvalidClientError(exc.description, www_authenticate=challenge) from None
    if creds.secret is None:
        if not client.is_public:
            raise InvalidClientError("client authentication required")
        if not allow_public:
            raise InvalidClientError("this endpoint needs an authenticated client")
        return client
    if client.is_public:
        # A public client has no secret to present; a secret here is a confused client.
        raise InvalidClientError("client registered without a secret", www_authenticate=challenge)
    try:
        registry.verify_secret(client, creds.secret)
    except InvalidClientError:
        raise InvalidClientError("client authentication failed",
                                 www_authenticate=challenge) from None
    return client


def is_loopback_redirect(uri: str) -> bool:
    """An ``http`` URI on a loopback host (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and is_loopback_host(parts.hostname or "")


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact match, except the port of an http loopback URI (RFC 8252 §7.3)."""
    if registered == requested:
        return True
    if not (is_loopback_redirect(registered) and is_loopback_redirect(requested)):
        return False
    a, b = urlsplit(registered), urlsplit(requested)
    try:
        _ = b.port  # a malformed port never matches
    except ValueError:
        return False
    return (a.hostname, a.path, a.query, a.fragment, a.username, a.password) == (
        b.hostname, b.path, b.query, b.fragment, b.username, b.password,
    )


def match_redirect_uri(client: Client, requested: str | None) -> str:
    """The redirect URI to use (RFC 6749 §3.1.2.3); ``invalid_request`` if none fits."""
    registered: Sequence[str] = client.redirect_uris
    if requested is None:
        # §3.1.2.3: without the parameter the client must have exactly one registered.
        if len(registered) == 1 and not is_loopback_redirect(registered[0]):
            return registered[0]
        raise InvalidRequestError("missing redirect_uri")
    for uri in registered:
        if redirect_uri_matches(uri, requested):
            return requested
    raise InvalidRequestError("redirect_uri is not registered for this client")


__all__ = [
    "CLIENT_CACHE_TTL",
    "OOB_URI",
    "AuthMethod",
    "Client",
    "ClientCredentials",
    "ClientIdDecoder",
    "ClientRegistry",
    "ClientStore",
    "authenticate_client",
    "extract_credentials",
    "is_loopback_redirect",
    "match_redirect_uri",
    "redirect_uri_matches",
]
