"""Compact JWS (RFC 7515 §7.1) signed and checked with the keys of one :class:`KeyRing`.

The signature arithmetic is the libraries': PyJWT's algorithm objects (restricted to our four
algorithms, so ``none`` is not even registered), with Ed25519 through libsodium
(:mod:`.sodium`).  This module frames: it decides which key, builds and splits the three
segments, and keeps what can be prepared once.

Signing: the header segment and the prepared private key are built once per key and ``typ``,
so a token costs its payload, one signature and base64url; the output is ``PyJWS.encode``'s,
byte for byte (``tests/unit/tokens/test_jwt_framing.py``).

Checking, in this order (every failure is ``InvalidTokenError(reason)``)::

    step                                            | on failure
    ------------------------------------------------+-----------------------------------
    1 size bound; three base64url segments, one      | malformed
      regular expression (PyJWT 2.15 checks each
      character in Python, as costly as the rest)
    2 header: ``kid`` names one of our keys (read    | malformed / unknown_key
      unverified, only to choose the key); ``crit``   | malformed
      and ``b64`` refused (RFC 7515 §4.1.11, RFC 7797)
      ``alg`` must be the key's own: the *key*        | signature
      decides the algorithm (RFC 8725 §3.1), so
      ``alg: none`` and HS256-with-a-public-key fail
    3 the signature segment is canonical base64url   | malformed
      and verifies with the key's algorithm           | signature

A small map from header segment (identical for every token one key signs) to key, algorithm
and ``typ`` makes step 2 one dict lookup; a header is remembered only after it carried a valid
signature, so forged variants cannot crowd out the real ones.  Nothing is accepted that
``PyJWS.decode`` with the key's algorithm would refuse: the tests compare the two on mutated
tokens.
"""

from __future__ import annotations

import binascii
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any, Final

from jwt.api_jws import PyJWS
from jwt.utils import base64url_encode
from jwt.warnings import InsecureKeyLengthWarning

from ..errors import InvalidTokenError
from .keys import ALGORITHMS, KeyRing, SigningKey
from .sodium import ED25519

#: Far above any token we issue; bounds the work an attacker can make us do.
MAX_TOKEN_LENGTH: Final = 8192
_HEADER_CACHE_SIZE: Final = 64
# An empty signature segment is let through to fail at step 2/3, as ``alg: none`` does.
_COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URLSAFE_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


def b64decode(segment: str) -> bytes:
    """base64url without padding (RFC 7515 §2); the caller has checked the alphabet."""
    padded = (segment + "=" * (-len(segment) % 4)).encode("ascii")
    return binascii.a2b_base64(padded.translate(_URLSAFE_TO_STANDARD))


@dataclass(frozen=True, slots=True)
class _Verifier:
    """What one header segment stands for: our key, its algorithm object and prepared key."""

    key: SigningKey
    algorithm: Any
    prepared: Any
    typ: str  # the header's ``typ``, lower-cased ('' when absent)


@dataclass(frozen=True, slots=True)
class _Signer:
    head: bytes  # the encoded header segment and its dot
    algorithm: Any
    prepared: Any


class JwsCodec:
    """Signs and checks compact JWS with one key ring (swap it with :attr:`keyring`)."""

    def __init__(self, keyring: KeyRing) -> None:
        self._pyjws = PyJWS(algorithms=list(ALGORITHMS))
        self._verifiers: dict[str, _Verifier] = {}
        self._signers: dict[tuple[str, str], _Signer] = {}
        self._keyring = keyring

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    def replace_keyring(self, keyring: KeyRing) -> bool:
        """Use ``keyring`` from now on; True when its keys differ from the current ones.

        Kids are RFC 7638 thumbprints, so the same kids with the same retirement are the same
        keys, and what was prepared for them stays valid.
        """
        changed = keyring.keys != self._keyring.keys
        self._keyring = keyring
        if changed:
            self._verifiers = {}
            self._signers = {}
        return changed

    def _algorithm(self, alg: str) -> Any:
        """PyJWT's algorithm object for ``alg``; Ed25519 through libsodium (see .sodium)."""
        return ED25519 if alg == "EdDSA" else self._pyjws.get_algorithm_by_name(alg)

    # -- signing ------------------------------------------------------------------------

    def _signer(self, key: SigningKey, typ: str) -> _Signer:
        signer = self._signers.get((key.kid, typ))
        if signer is None:
            # What PyJWS.encode writes: sorted keys, compact.
            header = json.dumps({"alg": key.alg, "kid": key.kid, "typ": typ},
                                separators=(",", ":"), sort_keys=True).encode()
            algorithm = self._algorithm(key.alg)
            prepared = algorithm.prepare_key(key.private_key)
            problem = algorithm.check_key_length(prepared)
            if problem:  # as PyJWS.encode does
                warnings.warn(problem, InsecureKeyLengthWarning, stacklevel=4)
            signer = _Signer(base64url_encode(header) + b".", algorithm, prepared)
            self._signers[(key.kid, typ)] = signer
        return signer

    def sign(self, payload: bytes, typ: str, key: SigningKey) -> str:
        """``payload`` as a compact JWS signed by ``key`` with header ``typ``."""
        signer = self._signer(key, typ)
        signing_input = signer.head + base64url_encode(payload)
        signature = base64url_encode(signer.algorithm.sign(signing_input, signer.prepared))
        return (signing_input + b"." + signature).decode("ascii")

    # -- checking -----------------------------------------------------------------------

    def _verifier_for(self, head: str) -> _Verifier:
        """Step 2: the key named by the unverified header's ``kid``, and what else it says."""
        verifier = self._verifiers.get(head)
        if verifier is not None:
            return verifier
        try:
            header = json.loads(b64decode(head))
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed") from None
        if not isinstance(header, dict):
            raise InvalidTokenError("malformed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidTokenError("malformed")
        key = self._keyring.get(kid)
        if key is None:
            raise InvalidTokenError("unknown_key")
        if header.get("alg") != key.alg:  # RFC 8725 §3.1, before any crypto runs
            raise InvalidTokenError("signature")
        if "crit" in header or "b64" in header:  # RFC 7515 §4.1.11: no extension is ours
            raise InvalidTokenError("malformed")
        typ = header.get("typ")
        algorithm = self._algorithm(key.alg)
        return _Verifier(key=key, algorithm=algorithm,
                         prepared=algorithm.prepare_key(key.public_key),
                         typ=typ.lower() if isinstance(typ, str) else "")

    def verify(self, token: str) -> tuple[str, bytes]:
        """Steps 1-3; returns the header's lower-cased ``typ`` and the payload bytes."""
        if (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH
                or _COMPACT_JWS.fullmatch(token) is None):
            raise InvalidTokenError("malformed")
        head, body, sig = token.split(".")
        verifier = self._verifier_for(head)
        try:
            signature = b64decode(sig)
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed") from None
        # The signature covers the header and payload segments as written, but not its own
        # encoding: only the canonical one is accepted, so one signature is one token string.
        if base64url_encode(signature).decode("ascii") != sig:
            raise InvalidTokenError("malformed")
        # PyJWT's ES256 converts the JOSE r||s form (RFC 7518 §3.4); libsodium for Ed25519.
        if not verifier.algorithm.verify(token[: len(head) + len(body) + 1].encode("ascii"),
                                         verifier.prepared, signature):
            raise InvalidTokenError("signature")
        if head not in self._verifiers and len(self._verifiers) < _HEADER_CACHE_SIZE:
            self._verifiers[head] = verifier
        try:
            payload = b64decode(body)
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed") from None
        return verifier.typ, payload

    def remembered_keys(self) -> list[SigningKey]:
        """The keys of the header segments remembered so far (for tests and diagnostics)."""
        return [v.key for v in self._verifiers.values()]


__all__ = ["MAX_TOKEN_LENGTH", "JwsCodec", "b64decode"]
