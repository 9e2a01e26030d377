"""Stateless dynamic client ids (RFC 7591 §3.2.1) in the manner of Prosody's mod_http_oauth2.

A registered client's ``client_id`` *is* its metadata: a JWT signed (HMAC) with the
registration key.  Its ``client_secret`` is ``HMAC-SHA256(registration key, client_id)``,
base64url.  Nothing is stored per client, yet:

* a client id cannot be forged or altered without the registration key (JWS signature);
* the secret is derivable only by the server, and checked in constant time;
* an id may expire (``exp`` from ``ttl``) and may be deny-listed by the store.

The same key serves both MACs.  That is safe because their inputs never coincide: a JWS
signing input has exactly one ``.``, while a client id (the secret's input) has two.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final

import jwt as pyjwt
from jwt.api_jws import PyJWS
from jwt.utils import base64url_encode

from ..errors import ConfigError, InvalidClientError
from .secrets import constant_time_equal

#: RFC 7518 §3.2 HMAC algorithms and the key length each needs (the hash size).
_HMAC_KEY_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
#: Claims the codec sets itself; metadata may not carry them.
_RESERVED: Final = frozenset({"iat", "exp", "nbf"})
#: Bound on client id length (they travel in URLs and form posts).  The one limit shared by the
#: codec, the client registry (``oauth.clients``) and registration, which refuses to issue a
#: longer id.
MAX_CLIENT_ID_LENGTH: Final = 4096


class ClientIdCodec:
    """Issue and check stateless client ids and their secrets."""

    def __init__(self, registration_key: bytes, *, algorithm: str = "HS256", ttl: int = 0) -> None:
        if algorithm not in _HMAC_KEY_BYTES:
            raise ConfigError("oauth2_registration_algorithm", "must be HS256, HS384 or HS512")
        if len(registration_key) < _HMAC_KEY_BYTES[algorithm]:
            # RFC 7518 §3.2: the key must be at least as long as the hash output.
            raise ConfigError(
                "oauth2_registration_key",
                f"must be at least {_HMAC_KEY_BYTES[algorithm]} bytes for {algorithm}",
            )
        if ttl < 0:
            raise ConfigError("oauth2_registration_ttl", "must be 0 (no expiry) or positive")
        self._key = bytes(registration_key)
        self._alg = algorithm
        self._ttl = ttl
        self._jws = PyJWS(algorithms=[algorithm])

    def issue(self, metadata: Mapping[str, Any], *, now: float) -> tuple[str, str]:
        """Sign ``metadata`` into a client id; returns ``(client_id, client_secret)``."""
        clash = _RESERVED.intersection(metadata)
        if clash:
            raise ValueError(f"client metadata may not contain {sorted(clash)}")
        claims: dict[str, Any] = dict(metadata)
        claims["iat"] = int(now)
        if self._ttl:
            claims["exp"] = int(now) + self._ttl
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8")
        client_id = self._jws.encode(payload, self._key, algorithm=self._alg,
                                     headers={"typ": "JWT"})
        return client_id, self.secret_for(client_id)

    def decode(self, client_id: str, *, now: float) -> dict[str, Any]:
        """The metadata inside a client id we issued (with ``iat``/``exp``)."""
        if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise InvalidClientError("unknown client")
        try:
            raw = self._jws.decode(client_id, self._key, algorithms=[self._alg])
            claims = json.loads(raw)
        except (pyjwt.InvalidTokenError, ValueError):
            raise InvalidClientError("unknown client") from None
        if not isinstance(claims, dict):
            raise InvalidClientError("unknown client")
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int) or iat > now + 60:
            raise InvalidClientError("unknown client")
        exp = claims.get("exp")
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int) or now >= exp):
            raise InvalidClientError("client registration expired")
        return claims

    def secret_for(self, client_id: str) -> str:
        """``HMAC-SHA256(registration key, client_id)``, base64url without padding."""
        mac = hmac.new(self._key, client_id.encode("utf-8"), hashlib.sha256).digest()
        return base64url_encode(mac).decode("ascii")

    def verify_secret(self, client_id: str, secret: str) -> None:
        """Raise ``InvalidClientError`` unless ``secret`` belongs to ``client_id``."""
        if not constant_time_equal(self.secret_for(client_id), secret):
            raise InvalidClientError("client authentication failed")


__all__ = ["MAX_CLIENT_ID_LENGTH", "ClientIdCodec"]
