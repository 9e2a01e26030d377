"""JWT access tokens (RFC 9068 §2, §4) and OIDC ID tokens (OIDC Core §2, §3.1.3.6-7).

Theory of operation
-------------------
The signature arithmetic is the libraries': PyJWT's algorithm objects (restricted to our
four algorithms, so ``none`` is not even registered), with Ed25519 through libsodium
(:mod:`.sodium`); this module decides *which* key and *which* claims, and does the RFC 7515
§7.1 compact framing itself.  When issuing, the header segment and the prepared key are built
once per key and token type, so a token costs its payload, one signature and base64url (the
output is ``PyJWS.encode``'s, byte for byte).  When verifying, one regular expression checks
the framing and alphabet (PyJWT 2.15 checks each character in Python, which cost as much as
the rest of the path), and nothing is accepted that ``PyJWS.decode`` would refuse: the tests
compare the two on mutated tokens.

Verification, in this order (every failure is ``InvalidTokenError(reason)``)::

    step                                   | on failure
    ---------------------------------------+------------------------------------------------
    1 size bound, three segments           | malformed
    2 header ``kid`` (read unverified, only | malformed (no kid) / unknown_key (not ours)
      to choose the key)                   |
    3 JWS signature with the key's own alg: the *key* decides the algorithm, never
      the header (RFC 8725 §3.1), so ``alg: none`` and HS256-signed-with-a-public-key
      tokens fail here                     | signature (malformed if the framing is bad)
    4 header ``typ`` (RFC 9068 §4 / RFC 8725 §3.11: access and ID tokens never pass for
      one another)                         | type
    5 ``iss`` exact match (RFC 9068 §4)    | issuer
    6 ``exp`` (required), ``iat``, ``nbf`` with leeway (RFC 7519 §4.1.4-6) | expired / not_yet_valid
    7 ``aud`` contains the expected audience (RFC 9068 §4, RFC 7519 §4.1.3) | audience
    8 claim types (sub, client_id, scope, jti, gid ...) | malformed

Each token is decoded once: a small cache maps a header segment (identical for every token
one key signs; remembered only after a valid signature) to its key, algorithm and ``typ``, so
step 2 is usually one dict lookup; the payload is parsed by ``json`` once after the signature
checked out; claims are checked by hand (PyJWT's generic claim validation costs more than the
signature on this path, DESIGN §10).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import re
import secrets
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jwt.api_jws import PyJWS
from jwt.utils import base64url_encode
from jwt.warnings import InsecureKeyLengthWarning

from ..errors import InvalidTokenError
from .keys import ALGORITHMS, DEFAULT_LEEWAY, KeyRing, SigningKey
from .sodium import ED25519
from .verified import DEFAULT_MAX_ENTRIES, VerifiedTokens, token_digest

log = logging.getLogger(__name__)

#: RFC 9068 §2.1 header ``typ`` of access tokens (§4 also accepts the full media type).
ACCESS_TOKEN_TYP: Final = "at+jwt"
_ACCESS_TYPS: Final = frozenset({"at+jwt", "application/at+jwt"})
#: ID tokens carry the plain JWT type (OIDC Core §2 leaves ``typ`` open; we set "JWT").
ID_TOKEN_TYP: Final = "JWT"
_ID_TYPS: Final = frozenset({"jwt", "application/jwt"})
#: Scopes that allow an XMPP login (XEP-0493 ``xmpp:client:normal``; Prosody's ``xmpp``),
#: re-exported by ``xmpp_oauth.validate``, which imports this module.  Only tokens with one
#: of them carry ejabberd's ``jid`` claim.
LOGIN_SCOPES: Final = frozenset({"xmpp:client:normal", "xmpp"})
#: Far above any token we issue; bounds the work an attacker can make us do.
MAX_TOKEN_LENGTH: Final = 8192
_HEADER_CACHE_SIZE: Final = 64
#: Claims an ID token's ``extra`` may not override.
_ID_RESERVED: Final = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "azp", "nbf", "jti"}
)


_COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


_URLSAFE_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


def _b64decode(segment: str) -> bytes:
    """base64url without padding (RFC 7515 §2); the caller has checked the alphabet."""
    padded = (segment + "=" * (-len(segment) % 4)).encode("ascii")
    return binascii.a2b_base64(padded.translate(_URLSAFE_TO_STANDARD))


@dataclass(frozen=True, slots=True)
class _Verifier:
    """What one header segment stands for: our key, PyJWT's algorithm and prepared key."""

    key: SigningKey
    algorithm: Any
    prepared: Any
    typ: str  # the header's ``typ``, lower-cased ('' when absent)


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    """The verified claims of an access token (RFC 9068 §2.2 plus ours)."""

    iss: str
    sub: str  # bare JID
    aud: tuple[str, ...]
    client_id: str
    scopes: frozenset[str]
    jti: str
    iat: int
    exp: int
    nbf: int | None
    auth_time: int
    grant_id: str  # "gid": names the grant, for revocation
    jid: str  # always equal to sub (the token's ``jid`` claim, when present, must be too)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed access token and what it says."""

    token: str
    jti: str
    expires_at: int
    claims: AccessTokenClaims


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6 ``at_hash``: left half of the hash the signing alg uses, b64url.

    EdDSA (Ed25519) hashes with SHA-512 (as RFC 8032 does internally); the *256 algs with
    SHA-256.
    """
    data = access_token.encode("ascii")
    digest = hashlib.sha512(data).digest() if alg == "EdDSA" else hashlib.sha256(data).digest()
    return base64url_encode(digest[: len(digest) // 2]).decode("ascii")


def _int_claim(payload: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidTokenError("malformed")
        return None
    # RFC 7519 §2 NumericDate; bool is an int subclass in Python and is not a date.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError("malformed")
    return int(value)


def _str_claim(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTokenError("malformed")
    return value


def _audiences(payload: Mapping[str, Any]) -> tuple[str, ...]:
    aud = payload.get("aud")
    # RFC 7519 §4.1.3: a single string or an array of strings.
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return tuple(aud)
    raise InvalidTokenError("malformed")


class TokenService:
    """Issues and verifies access and ID tokens with one :class:`KeyRing`.

    ``jid_claim`` (setting ``oauth2_jid_claim``) adds ejabberd's ``jid`` claim to access
    tokens that carry a login scope (:data:`LOGIN_SCOPES`).  ejabberd's ``auth_method: jwt``
    checks only the signature, ``exp`` and that claim, not the scope: without this rule an
    ``openid``-only token would log in to XMPP.
    """

    def __init__(self, keyring: KeyRing, *, issuer: str, leeway: int = DEFAULT_LEEWAY,
                 jid_claim: bool = True,
                 verified_cache_size: int = DEFAULT_MAX_ENTRIES) -> None:
        self.issuer = issuer
        self.leeway = leeway
        self.jid_claim = jid_claim
        self._jws = PyJWS(algorithms=list(ALGORITHMS))
        self._verifiers: dict[str, _Verifier] = {}
        #: Access tokens already verified (see .verified for why a hit is as strict).
        self.verified = VerifiedTokens(verified_cache_size)
        self._signers: dict[tuple[str, str], tuple[bytes, Any, Any]] = {}
        self.keyring = keyring

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    @keyring.setter
    def keyring(self, keyring: KeyRing) -> None:
        """Swap in a reloaded key ring (after a rotation elsewhere).

        Processes reload the ring every minute; when it holds the same keys as before (same
        kids, same retirement) what was verified and prepared with them stays valid.  Any
        change — a new, retired or removed key — starts over, so a removed key stops
        verifying its tokens at once, cached or not.
        """
        previous: KeyRing | None = getattr(self, "_keyring", None)
        self._keyring = keyring
        if previous is not None and previous.keys == keyring.keys:
            return
        self._verifiers = {}
        self._signers = {}
        self.verified.clear()

    def _algorithm(self, alg: str) -> Any:
        """PyJWT's algorithm object for ``alg``; Ed25519 through libsodium (see .sodium)."""
        return ED25519 if alg == "EdDSA" else self._jws.get_algorithm_by_name(alg)

    # -- issuing ------------------------------------------------------------------------

    def _signer(self, key: SigningKey, typ: str) -> tuple[bytes, Any, Any]:
        """The encoded header segment, PyJWT's algorithm and its prepared key, made once.

        The header is what ``PyJWS.encode`` writes (sorted keys, compact); only the
        per-token work (payload, signature, base64url) is left for :meth:`_sign`.
        """
        signer = self._signers.get((key.kid, typ))
        if signer is None:
            header = json.dumps({"alg": key.alg, "kid": key.kid, "typ": typ},
                                separators=(",", ":"), sort_keys=True).encode()
            algorithm = self._algorithm(key.alg)
            prepared = algorithm.prepare_key(key.private_key)
            problem = algorithm.check_key_length(prepared)
            if problem:  # as PyJWS.encode does
                warnings.warn(problem, InsecureKeyLengthWarning, stacklevel=3)
            signer = (base64url_encode(header) + b".", algorithm, prepared)
            self._signers[(key.kid, typ)] = signer
        return signer

    def _sign(self, claims: Mapping[str, Any], typ: str, key: SigningKey) -> str:
        head, algorithm, prepared = self._signer(key, typ)
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        signing_input = head + base64url_encode(payload)
        signature = base64url_encode(algorithm.sign(signing_input, prepared))
        return (signing_input + b"." + signature).decode("ascii")

    def issue_access_token(
        self,
        *,
        subject: str,
        client_id: str,
        scopes: Iterable[str],
        grant_id: str,
        audience: Sequence[str],
        auth_time: float,
        ttl: int,
        now: float,
    ) -> IssuedToken:
        """Sign an RFC 9068 access token for ``subject`` (a bare JID) with the active key."""
        if not audience:
            raise ValueError("an access token needs at least one audience (RFC 9068 §2.2)")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        scope_set = frozenset(scopes)
        iat = int(now)
        claims = AccessTokenClaims(
            iss=self.issuer, sub=subject, aud=tuple(audience), client_id=client_id,
            scopes=scope_set, jti=secrets.token_urlsafe(16), iat=iat, exp=iat + ttl, nbf=None,
            auth_time=int(auth_time), grant_id=grant_id, jid=subject,
        )
        body: dict[str, Any] = {
            "iss": claims.iss,
            "sub": claims.sub,
            # RFC 7519 §4.1.3: a single audience may be a plain string (ejabberd-friendly).
            "aud": claims.aud[0] if len(claims.aud) == 1 else list(claims.aud),
            "client_id": claims.client_id,
            "scope": " ".join(sorted(scope_set)),  # RFC 9068 §2.2.3 / RFC 8693 §4.2
            "jti": claims.jti,
            "iat": claims.iat,
            "exp": claims.exp,
            "auth_time": claims.auth_time,
            "gid": claims.grant_id,
        }
        if self.jid_claim and not scope_set.isdisjoint(LOGIN_SCOPES):
            body["jid"] = claims.jid  # ejabberd's jwt_jid_field: the token logs in as it
        token = self._sign(body, ACCESS_TOKEN_TYP, self._keyring.active)
        return IssuedToken(token=token, jti=claims.jti, expires_at=claims.exp, claims=claims)

    def issue_id_token(
        self,
        *,
        subject: str,
        client_id: str,
        nonce: str | None,
        access_token: str | None,
        auth_time: float,
        amr: Sequence[str],
        ttl: int,
        now: float,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """OIDC Core §2 ID token, signed with the key ring (never with a client secret)."""
        key = self._keyring.active
        iat = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": client_id,
            "azp": client_id,
            "exp": iat + ttl,
            "iat": iat,
            "auth_time": int(auth_time),
        }
        if nonce is not None:
            claims["nonce"] = nonce  # §3.1.2.1: echo the request's nonce unchanged
        if access_token is not None:
            claims["at_hash"] = at_hash(access_token, key.alg)
        if amr:
            claims["amr"] = list(amr)
        if extra:
            clash = _ID_RESERVED.intersection(extra)
            if clash:
                raise ValueError(f"extra claims may not override {sorted(clash)}")
            claims.update(extra)
        return self._sign(claims, ID_TOKEN_TYP, key)

    # -- verifying ----------------------------------------------------------------------

    def _verifier_for(self, head: str) -> _Verifier:
        """Step 2: the key named by the unverified header's ``kid``, and what else it says."""
        verifier = self._verifiers.get(head)
        if verifier is not None:
            return verifier
        try:
            header = json.loads(_b64decode(head))
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
        # RFC 8725 §3.1: the key decides the algorithm; a header naming another one (``none``,
        # HS256 with our public key as the secret ...) is refused before any crypto runs.
        if header.get("alg") != key.alg:
            raise InvalidTokenError("signature")
        # RFC 7515 §4.1.11: we understand no extension, so any ``crit`` is a refusal;
        # RFC 7797 unencoded payloads (``b64``) are not ours either.
        if "crit" in header or "b64" in header:
            raise InvalidTokenError("malformed")
        typ = header.get("typ")
        algorithm = self._algorithm(key.alg)
        return _Verifier(key=key, algorithm=algorithm,
                         prepared=algorithm.prepare_key(key.public_key),
                         typ=typ.lower() if isinstance(typ, str) else "")

    def _decode(self, token: str, typs: frozenset[str], now: float) -> dict[str, Any]:
        """Steps 1-6: signature, type, issuer and times; returns the payload."""
        # Step 1, RFC 7515 §7.1 compact serialization: three base64url segments (an empty
        # signature fails at step 3, as ``alg: none`` does);
        # one C-level match instead of a per-character check in Python.
        if (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH
                or _COMPACT_JWS.fullmatch(token) is None):
            raise InvalidTokenError("malformed")
        head, body, sig = token.split(".")
        verifier = self._verifier_for(head)
        try:
            signature = _b64decode(sig)
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed") from None
        # The signature covers the header and payload segments as written, but not its own
        # encoding: only the canonical one is accepted, so one signature is one token string.
        if base64url_encode(signature).decode("ascii") != sig:
            raise InvalidTokenError("malformed")
        # Step 3 with the key's own alg: PyJWT's algorithm object (its ES256 converts the JOSE
        # r||s form, RFC 7518 §3.4), libsodium for Ed25519.
        if not verifier.algorithm.verify(token[: len(head) + len(body) + 1].encode("ascii"),
                                         verifier.prepared, signature):
            raise InvalidTokenError("signature")
        if head not in self._verifiers and len(self._verifiers) < _HEADER_CACHE_SIZE:
            # Only headers that carried a valid signature are remembered, so forged
            # variants cannot crowd out the real ones.
            self._verifiers[head] = verifier
        if verifier.typ not in typs:
            raise InvalidTokenError("type")
        try:
            payload = json.loads(_b64decode(body))
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed") from None
        if not isinstance(payload, dict):
            raise InvalidTokenError("malformed")
        if payload.get("iss") != self.issuer:
            raise InvalidTokenError("issuer")
        exp = _int_claim(payload, "exp", required=True)
        assert exp is not None
        leeway = self.leeway
        if now >= exp + leeway:  # RFC 7519 §4.1.4: now MUST be before exp
            raise InvalidTokenError("expired")
        iat = _int_claim(payload, "iat", required=True)
        assert iat is not None
        if iat > now + leeway:
            raise InvalidTokenError("not_yet_valid")
        nbf = _int_claim(payload, "nbf", required=False)
        if nbf is not None and nbf > now + leeway:  # RFC 7519 §4.1.5
            raise InvalidTokenError("not_yet_valid")
        return payload

    def verify_access_token(
        self, token: str, *, audience: str | None, now: float
    ) -> AccessTokenClaims:
        """Verify an access token; ``audience=None`` leaves the ``aud`` check to the caller.

        A token verified before (and not expired since) comes from :attr:`verified`.
        """
        digest = token_digest(token) if isinstance(token, str) else b""
        claims = self.verified.get(digest, now=now, leeway=self.leeway)
        if claims is None:
            claims = self._verify_access_token(token, now)
            self.verified.put(digest, claims)
        if audience is not None and audience not in claims.aud:
            raise InvalidTokenError("audience")
        return claims

    def _verify_access_token(self, token: str, now: float) -> AccessTokenClaims:
        payload = self._decode(token, _ACCESS_TYPS, now)
        aud = _audiences(payload)
        scope = payload.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidTokenError("malformed")
        sub = _str_claim(payload, "sub")
        jid = payload.get("jid", sub)
        if jid != sub:
            # Two identities in one token: never guess which one is meant.
            raise InvalidTokenError("malformed")
        iat = payload["iat"]
        auth_time = _int_claim(payload, "auth_time", required=False)
        return AccessTokenClaims(
            iss=self.issuer,
            sub=sub,
            aud=aud,
            client_id=_str_claim(payload, "client_id"),
            scopes=frozenset(scope.split()),
            jti=_str_claim(payload, "jti"),
            iat=int(iat),
            exp=int(payload["exp"]),
            nbf=_int_claim(payload, "nbf", required=False),
            auth_time=int(iat) if auth_time is None else auth_time,
            grant_id=_str_claim(payload, "gid"),
            jid=sub,
        )

    def verify_id_token(self, token: str, *, client_id: str, now: float) -> dict[str, Any]:
        """OIDC Core §3.1.3.7 checks of an ID token we issued; returns its claims."""
        payload = self._decode(token, _ID_TYPS, now)
        aud = _audiences(payload)
        if client_id not in aud:  # item 3
            raise InvalidTokenError("audience")
        azp = payload.get("azp")
        if (len(aud) > 1 or azp is not None) and azp != client_id:  # items 4-5
            raise InvalidTokenError("audience")
        _str_claim(payload, "sub")
        return payload


__all__ = [
    "ACCESS_TOKEN_TYP",
    "ID_TOKEN_TYP",
    "LOGIN_SCOPES",
    "MAX_TOKEN_LENGTH",
    "AccessTokenClaims",
    "IssuedToken",
    "TokenService",
    "at_hash",
]
