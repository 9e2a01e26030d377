"""The token codec: signing keys, access/ID tokens, stateless client ids, opaque secrets.

A "recipes" surface over PyJWT, pyca/cryptography and PyNaCl (the Fernet layout): callers
use :class:`TokenService`, :class:`KeyRing` and :class:`ClientIdCodec`; the key material
itself stays inside :mod:`.keys`.  Inside: :mod:`.jws` frames compact JWS with our keys
(Ed25519 arithmetic in :mod:`.sodium`), :mod:`.jwt` issues and checks the claims,
:mod:`.verified` remembers verified access tokens.
"""

from __future__ import annotations

from .clients import ClientIdCodec
from .jwt import ACCESS_TOKEN_TYP, AccessTokenClaims, IssuedToken, TokenService, at_hash
from .keys import (
    ALGORITHMS,
    DEFAULT_LEEWAY,
    KeyRing,
    SigningKey,
    jwk_thumbprint,
    key_retention,
    load_keyring,
    rotate_keys,
)
from .secrets import constant_time_equal, hash_secret, new_secret

__all__ = [
    "ACCESS_TOKEN_TYP",
    "ALGORITHMS",
    "DEFAULT_LEEWAY",
    "AccessTokenClaims",
    "ClientIdCodec",
    "IssuedToken",
    "KeyRing",
    "SigningKey",
    "TokenService",
    "at_hash",
    "constant_time_equal",
    "hash_secret",
    "jwk_thumbprint",
    "key_retention",
    "load_keyring",
    "new_secret",
    "rotate_keys",
]
