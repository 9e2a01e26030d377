"""JWT access tokens (RFC 9068 §2, §4) and OIDC ID tokens (OIDC Core §2, §3.1.3.6-7).

Theory of operation
-------------------
Signing and checking compact JWS is :mod:`.jws`'s (the libraries do the arithmetic); this
module decides *which* claims, and checks them.  Verification, in this order (every failure is
``InvalidTokenError(reason)``)::

    step                                   | on failure
    ---------------------------------------+------------------------------------------------
    1-3 framing, key by ``kid``, the key's own alg, signature (``JwsCodec.verify``)
                                           | malformed / unknown_key / signature
    4 header ``typ`` (RFC 9068 §4 / RFC 8725 §3.11: access and ID tokens never pass for
      one another)                         | type
    5 ``iss`` exact match (RFC 9068 §4)    | issuer
    6 ``exp`` (required), ``iat``, ``nbf`` with leeway (RFC 7519 §4.1.4-6) | expired / not_yet_valid
    7 ``aud`` contains the expected audience (RFC 9068 §4, RFC 7519 §4.1.3) | audience
    8 claim types (sub, client_id, scope, jti, gid ...) | malformed

The payload is parsed by ``json`` once, after the signature checked out; claims are checked by
hand (PyJWT's generic claim validation costs more than the signature on this path, DESIGN
§10).  Verified access tokens are remembered (:mod:`.verified`), so a token presented again
costs a hash and a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jwt.utils import base64url_encode

from ..errors import InvalidTokenError
from .jws import MAX_TOKEN_LENGTH, JwsCodec
from .keys import DEFAULT_LEEWAY, KeyRing, SigningKey
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
#: Claims an ID token's ``extra`` may not override.
_ID_RESERVED: Final = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "azp", "nbf", "jti"}
)


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
        self.jws = JwsCodec(keyring)
        #: Access tokens already verified (see .verified for why a hit is as strict).
        self.verified = VerifiedTokens(verified_cache_size)

    @property
    def keyring(self) -> KeyRing:
        return self.jws.keyring

    @keyring.setter
    def keyring(self, keyring: KeyRing) -> None:
        """Swap in a reloaded key ring (after a rotation elsewhere).

        Processes reload the ring every minute; when it holds the same keys as before (same
        kids, same retirement) what was verified with them stays valid.  Any change — a new,
        retired or removed key — starts over, so a removed key stops verifying its tokens at
        once, cached or not.
        """
        if self.jws.replace_keyring(keyring):
            self.verified.clear()

    def _sign(self, claims: Mapping[str, Any], typ: str, key: SigningKey) -> str:
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self.jws.sign(payload, typ, key)

    # -- issuing ------------------------------------------------------------------------

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
        token = self._sign(body, ACCESS_TOKEN_TYP, self.keyring.active)
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
        key = self.keyring.active
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

    def _decode(self, token: str, typs: frozenset[str], now: float) -> dict[str, Any]:
        """Steps 1-6: signature, type, issuer and times; returns the payload."""
        typ, raw = self.jws.verify(token)
        if typ not in typs:
            raise InvalidTokenError("type")
        try:
            payload = json.loads(raw)
        except ValueError:
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
