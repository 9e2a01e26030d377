"""The one cache of verified access tokens, under :class:`~.jwt.TokenService` (RFC 9068 §4).

Why: clients present the same access token many times during its life (an XMPP client
reconnecting, a resource server introspecting, a web API calling userinfo), and verifying its
signature is the only expensive step of validation (Ed25519 ≈ 60 µs with libsodium here,
DESIGN §10; everything else is dictionary lookups).  So the outcome of the static checks —
signature with the pinned key, ``typ``, ``iss``, claim types — is remembered per token.

Rules that keep a hit exactly as strict as a miss:

* the key is the SHA-256 of the exact token string: a token that differs in one character
  (a forged signature on copied claims, say) is a miss and is verified in full;
* the entry answers only while the verifier's own time rules hold (``exp``, ``iat``, ``nbf``
  with the leeway); otherwise it falls through to full verification, which refuses it;
* a new key ring (rotation, retirement, a removed key) empties the cache, so a token signed by
  a key that is gone is refused at once;
* everything that can change between two uses is checked by the callers on every call, hit or
  miss: the audience, the revocation set, the authzid binding, the served domain, the scopes
  (``validate.Validator``), the asking client (``oauth.introspection``).

Bounded: the oldest entries go first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .jwt import AccessTokenClaims

#: Enough for every live token of a large deployment (≈ 200 B each).
DEFAULT_MAX_ENTRIES: Final = 50_000


def token_digest(token: str) -> bytes:
    """The cache key of ``token`` (lone surrogates hash too; such a token never verifies)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class VerifiedTokens:
    """Bounded LRU map from a token's digest to its verified claims."""

    __slots__ = ("_entries", "hits", "max_entries", "misses")

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be 0 (no cache) or positive")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, AccessTokenClaims] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, *, now: float, leeway: int) -> AccessTokenClaims | None:
        """The claims stored for ``digest`` if they are still within their lifetime."""
        claims = self._entries.get(digest)
        # RFC 7519 §4.1.4-6, the verifier's own rules: a clock stepped back makes a token
        # "not yet valid" again, so those are checked too, not only the expiry.
        if (claims is None or now >= claims.exp + leeway or claims.iat > now + leeway
                or (claims.nbf is not None and claims.nbf > now + leeway)):
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(digest)
        return claims

    def put(self, digest: bytes, claims: AccessTokenClaims) -> None:
        if not self.max_entries:
            return
        self._entries[digest] = claims
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["DEFAULT_MAX_ENTRIES", "VerifiedTokens", "token_digest"]
