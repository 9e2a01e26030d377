"""Ed25519 (JOSE ``EdDSA``, RFC 8037) signing and verification through libsodium (PyNaCl).

Why not PyJWT's ``OKPAlgorithm`` (which calls OpenSSL through ``cryptography``)?  Every XMPP
login with a token the SASL service has not seen yet costs one signature check, and Prosody
waits for the answer.  On these machines libsodium checks an Ed25519 signature in about half
the time OpenSSL 3 takes (≈ 67 µs against ≈ 105-135 µs, ``benchmarks/verify.py`` prints both)
and signs in about two thirds of it.  The keys stay ``cryptography`` objects everywhere else
(storage, JWKS, thumbprints); this module only holds libsodium's view of the same 32 bytes.

The adapter has the three methods of a PyJWT ``Algorithm`` that :mod:`.jwt` uses
(``prepare_key``, ``sign``, ``verify``), so the JWS framing code does not care which library
does the arithmetic.  Both libraries implement RFC 8032 and produce identical (deterministic)
signatures; ``tests/unit/tokens/test_jwt_framing.py`` checks our tokens byte for byte against
``PyJWS.encode`` and that verification never accepts what ``PyJWS.decode`` refuses.
"""

from __future__ import annotations

from typing import Final

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

SodiumKey = nacl.signing.SigningKey | nacl.signing.VerifyKey


class SodiumEd25519:
    """PyJWT-``Algorithm``-shaped Ed25519 over libsodium."""

    @staticmethod
    def prepare_key(key: object) -> SodiumKey:
        """libsodium's key for a ``cryptography`` Ed25519 private or public key."""
        if isinstance(key, ed25519.Ed25519PrivateKey):
            seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            return nacl.signing.SigningKey(seed)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return nacl.signing.VerifyKey(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
        raise TypeError(f"not an Ed25519 key: {type(key).__name__}")

    @staticmethod
    def check_key_length(key: SodiumKey) -> None:
        """Ed25519 keys have one size; nothing to warn about (PyJWT's hook, kept for shape)."""
        return None

    @staticmethod
    def sign(msg: bytes, key: SodiumKey) -> bytes:
        if not isinstance(key, nacl.signing.SigningKey):
            raise TypeError("signing needs a private key")
        return key.sign(msg).signature

    @staticmethod
    def verify(msg: bytes, key: SodiumKey, sig: bytes) -> bool:
        if not isinstance(key, nacl.signing.VerifyKey):
            raise TypeError("verifying needs a public key")
        if len(sig) != 64:  # RFC 8032 §5.1.7: a signature is exactly 64 octets
            return False
        try:
            key.verify(msg, sig)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


ED25519: Final = SodiumEd25519()

__all__ = ["ED25519", "SodiumEd25519", "SodiumKey"]
