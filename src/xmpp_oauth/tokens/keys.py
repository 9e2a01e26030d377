"""Signing keys: generation, storage form, JWK/JWKS export (RFC 7517), ``kid`` (RFC 7638).

Theory of operation
-------------------
Every process shares one set of signing keys, kept in the store (``StoredKey`` rows holding
PKCS#8 PEM, or the raw secret for HS256).  A process parses them *once* into a
:class:`KeyRing` of :class:`SigningKey` objects: parsing a PEM costs up to 120 times a
signature verification, so nothing on the token path ever touches PEM.

Key life cycle::

    state     | signs new tokens | verifies tokens | published in JWKS | leaves when
    ----------+------------------+-----------------+-------------------+-------------------------
    active    | yes (newest one) | yes             | yes (not HS256)   | rotate_keys() retires it
    retired   | no               | yes             | yes (not HS256)   | retired_at + retention
    dropped   | no               | no              | no                | (deleted from the store)

``retention`` is the longest lifetime of anything signed with a key (access and ID token
TTLs, or ``keys.retire_after`` if larger) plus the verification leeway, so a rotation never
invalidates a token that is still within its lifetime (DESIGN §3 "Keys").

The ``kid`` is the RFC 7638 JWK thumbprint of the public key, so it is stable, derivable by
anyone holding the JWKS, and needs no counter.  HS256 keys get the thumbprint of their ``oct``
JWK: a SHA-256 hash of the secret, which identifies the key without revealing it.  HS256 keys
are never published (a JWKS entry would hand out the signing secret); they exist only for
deployments that must share one secret with an XMPP server (ejabberd ``jwt_key``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode

from ..store.base import StoredKey

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store.base import Store

log = logging.getLogger(__name__)

#: Algorithms we sign with (RFC 7518 §3.1 names; EdDSA per RFC 8037 §3.1 is Ed25519 here).
ALGORITHMS: Final = ("EdDSA", "ES256", "RS256", "HS256")
DEFAULT_ALGORITHM: Final = "EdDSA"
#: Seconds of clock skew tolerated when checking exp/nbf/iat (also added to key retention).
DEFAULT_LEEWAY: Final = 30
RSA_KEY_BITS: Final = 2048  # RFC 7518 §3.3: 2048 bits or larger
HMAC_SECRET_BYTES: Final = 32  # RFC 7518 §3.2: a key at least as long as the hash output

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# RFC 7638 §3.2 (+ RFC 8037 §2 for OKP): the members that go into a thumbprint, per key type.
_THUMBPRINT_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3 SHA-256 thumbprint of a JWK, base64url without padding."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError(f"unsupported JWK key type {kty!r}")
    # §3.1: only the required members, sorted, no whitespace, UTF-8.
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True,
                           ensure_ascii=False)
    return base64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest()).decode("ascii")


def _public_members(alg: str, public: PublicKey | bytes) -> dict[str, Any]:
    """The key-type members of the public JWK (no kid/alg/use yet)."""
    if alg == "EdDSA":
        assert isinstance(public, ed25519.Ed25519PublicKey)
        return dict(OKPAlgorithm.to_jwk(public, as_dict=True))
    if alg == "ES256":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        return dict(ECAlgorithm.to_jwk(public, as_dict=True))
    if alg == "RS256":
        assert isinstance(public, rsa.RSAPublicKey)
        out = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
        # RFC 7517 §4.3: "use" and "key_ops" SHOULD NOT both appear; we publish "use".
        out.pop("key_ops", None)
        return out
    if alg == "HS256":
        assert isinstance(public, bytes)
        return dict(HMACAlgorithm.to_jwk(public, as_dict=True))
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def _check_key_type(alg: str, private: PrivateKey | bytes) -> None:
    expected: type | tuple[type, ...] = {
        "EdDSA": ed25519.Ed25519PrivateKey,
        "ES256": ec.EllipticCurvePrivateKey,
        "RS256": rsa.RSAPrivateKey,
        "HS256": bytes,
    }[alg]
    if not isinstance(private, expected):
        raise ValueError(f"stored key material does not match algorithm {alg}")
    if isinstance(private, ec.EllipticCurvePrivateKey) and not isinstance(
        private.curve, ec.SECP256R1
    ):
        raise ValueError("ES256 needs a P-256 key (RFC 7518 §3.4)")
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size < RSA_KEY_BITS:
        raise ValueError(f"RS256 needs at least {RSA_KEY_BITS}-bit RSA keys (RFC 7518 §3.3)")
    if isinstance(private, bytes) and len(private) < HMAC_SECRET_BYTES:
        raise ValueError(f"HS256 needs a secret of at least {HMAC_SECRET_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One parsed signing key.  Build with :meth:`generate` or :meth:`from_stored`.

    ``private_key``/``public_key`` are ready-to-use ``cryptography`` key objects (for HS256
    both are the shared secret bytes); they are excluded from ``repr`` and comparisons.
    """

    kid: str
    alg: str
    created_at: float
    retired_at: float | None
    private_key: PrivateKey | bytes = field(repr=False, compare=False)
    public_key: PublicKey | bytes = field(repr=False, compare=False)

    @classmethod
    def generate(cls, alg: str = DEFAULT_ALGORITHM, *, now: float) -> SigningKey:
        """A fresh key for ``alg`` (EdDSA = Ed25519, ES256 = P-256, RS256, HS256)."""
        private: PrivateKey | bytes
        if alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        elif alg == "HS256":
            private = secrets.token_bytes(HMAC_SECRET_BYTES)
        else:
            raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {ALGORITHMS}")
        return cls._from_material(alg, private, created_at=now, retired_at=None)

    @classmethod
    def from_stored(cls, stored: StoredKey) -> SigningKey:
        """Parse a stored key (once); the stored ``kid`` must match the key material."""
        if stored.alg not in ALGORITHMS:
            raise ValueError(f"stored key {stored.kid} has unsupported algorithm {stored.alg!r}")
        private: PrivateKey | bytes
        if stored.alg == "HS256":
            private = bytes(stored.private_pem)
        else:
            loaded = serialization.load_pem_private_key(stored.private_pem, password=None)
            if not isinstance(loaded, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
                              | rsa.RSAPrivateKey):
                raise ValueError(f"stored key {stored.kid} is not a supported key type")
            private = loaded
        key = cls._from_material(
            stored.alg, private, created_at=stored.created_at, retired_at=stored.retired_at
        )
        if key.kid != stored.kid:
            # A kid that does not match its key would make tokens unverifiable elsewhere.
            raise ValueError(f"stored key {stored.kid} does not match its thumbprint")
        return key

    @classmethod
    def _from_material(
        cls, alg: str, private: PrivateKey | bytes, *, created_at: float, retired_at: float | None
    ) -> SigningKey:
        _check_key_type(alg, private)
        public: PublicKey | bytes = private if isinstance(private, bytes) else private.public_key()
        kid = jwk_thumbprint(_public_members(alg, public))
        return cls(kid=kid, alg=alg, created_at=created_at, retired_at=retired_at,
                   private_key=private, public_key=public)

    def to_stored(self) -> StoredKey:
        """The storage form: PKCS#8 PEM (unencrypted; the store's permissions protect it)."""
        if isinstance(self.private_key, bytes):
            material = self.private_key
        else:
            material = self.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return StoredKey(kid=self.kid, alg=self.alg, private_pem=material,
                         created_at=self.created_at, retired_at=self.retired_at)

    @property
    def is_symmetric(self) -> bool:
        return self.alg == "HS256"

    def retired(self, now: float) -> SigningKey:
        """This key, marked retired at ``now``."""
        return replace(self, retired_at=now)

    def public_jwk(self) -> dict[str, Any]:
        """RFC 7517 §4 public JWK with ``kid``, ``alg`` and ``use: sig``.

        HS256 keys have no public half: publishing them would publish the signing secret.
        """
        if self.is_symmetric:
            raise ValueError("HS256 keys are shared secrets and are never published")
        return {**_public_members(self.alg, self.public_key),
                "kid": self.kid, "alg": self.alg, "use": "sig"}

    def secret_jwk(self) -> dict[str, Any]:
        """The ``oct`` JWK of an HS256 key (for ``keys export --for ejabberd`` only)."""
        if not self.is_symmetric:
            raise ValueError("only HS256 keys have a secret JWK; export the public JWK")
        return {**_public_members(self.alg, self.public_key),
                "kid": self.kid, "alg": self.alg, "use": "sig"}


class KeyRing:
    """The keys a process signs and verifies with.  ``active`` is the newest unretired key."""

    __slots__ = ("_by_kid", "active", "keys")

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        unretired = [k for k in keys if k.retired_at is None]
        if not unretired:
            raise ValueError("a key ring needs at least one unretired key")
        # Newest first; ties broken by kid so every process picks the same active key.
        self.keys: tuple[SigningKey, ...] = tuple(
            sorted(keys, key=lambda k: (k.retired_at is None, k.created_at, k.kid), reverse=True)
        )
        self.active: SigningKey = max(unretired, key=lambda k: (k.created_at, k.kid))
        self._by_kid: dict[str, SigningKey] = {k.kid: k for k in self.keys}

    def get(self, kid: str) -> SigningKey | None:
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self.keys)

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 §5 JWK Set of every published (asymmetric) key, active first."""
        ordered = [self.active, *(k for k in self.keys if k is not self.active)]
        return {"keys": [k.public_jwk() for k in ordered if not k.is_symmetric]}


def key_retention(settings: Settings) -> int:
    """Seconds a retired key keeps verifying: the longest token lifetime plus leeway."""
    longest = max(settings.keys.retire_after, settings.oauth2_access_token_ttl,
                  settings.oauth2_id_token_ttl)
    return longest + DEFAULT_LEEWAY


def select_live_keys(
    stored: Sequence[StoredKey], *, retention: float, now: float
) -> tuple[list[StoredKey], list[StoredKey]]:
    """Split stored keys into (still useful, expired); pure, so testable without a store."""
    live: list[StoredKey] = []
    dead: list[StoredKey] = []
    for key in stored:
        if key.retired_at is not None and key.retired_at + retention < now:
            dead.append(key)
        else:
            live.append(key)
    return live, dead


async def load_keyring(store: Store, settings: Settings, *, now: float) -> KeyRing:
    """Load every live key from the store; create the first key if there is none.

    Keys retired longer than :func:`key_retention` ago are deleted from the store.
    """
    live, dead = select_live_keys(
        await store.list_signing_keys(), retention=key_retention(settings), now=now
    )
    for stored in dead:
        log.info("deleting signing key %s (retired at %s)", stored.kid, stored.retired_at)
        await store.delete_signing_key(stored.kid)
    keys = [SigningKey.from_stored(s) for s in live]
    if not any(k.retired_at is None for k in keys):
        first = SigningKey.generate(settings.keys.algorithm, now=now)
        await store.add_signing_key(first.to_stored())
        log.info("generated signing key %s (%s)", first.kid, first.alg)
        keys.append(first)
    return KeyRing(keys)


async def rotate_keys(store: Store, settings: Settings, *, now: float) -> SigningKey:
    """Add a new active key (``settings.keys.algorithm``) and retire the previous ones.

    The new key is stored before the old one is retired, so the store never lacks an
    active key.  Retired keys keep verifying until :func:`key_retention` has passed.
    """
    new = SigningKey.generate(settings.keys.algorithm, now=now)
    await store.add_signing_key(new.to_stored())
    for stored in await store.list_signing_keys():
        if stored.retired_at is None and stored.kid != new.kid:
            await store.retire_signing_key(stored.kid, now=now)
            log.info("retired signing key %s", stored.kid)
    log.info("rotated to signing key %s (%s)", new.kid, new.alg)
    return new


__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_LEEWAY",
    "KeyRing",
    "PrivateKey",
    "PublicKey",
    "SigningKey",
    "jwk_thumbprint",
    "key_retention",
    "load_keyring",
    "rotate_keys",
    "select_live_keys",
]
