"""A cache of verified access tokens for the SASL path (RFC 9068 §4 checks, RFC 7628 §3.1 binding).

Why: XMPP clients reconnect with the same access token many times during its lifetime, and
Prosody waits on every login.  The expensive part of validation is the JWS signature check
(Ed25519 ≈ 110–135 µs here, DESIGN §10); everything else is a few dictionary lookups.  So a
token whose signature and static claims (issuer, audience, type, domain) were verified once is
remembered, keyed by the SHA-256 of the token, until it expires.

What is *not* cached: every check that can change between two logins runs on every login —

* expiry against the current time (strictly: no leeway on the cached path);
* the revocation set (a grant revoked a moment ago is refused at once);
* the authzid binding, the served domain, the required scopes.

When any of these does not clearly pass, the cached path steps aside and the full
:meth:`Validator.validate` runs, so every refusal (and its error) comes from the validator
itself; the cache can only ever answer "yes" where the validator would.  A new key ring (key
rotation, retirement, removal) empties the cache.  Size is bounded; the oldest entries go
first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Final

from ..validate import LOGIN_SCOPES, Principal, Validator

DEFAULT_MAX_ENTRIES: Final = 50_000


class CachingTokenCheck:
    """``token_check(token, authzid, domain, now) -> Principal`` with a verified-token cache."""

    def __init__(self, validator: Validator, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.validator = validator
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, Principal] = OrderedDict()
        self._keyring: object = validator.tokens.keyring
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def __call__(self, token: str, authzid: str | None, domain: str, now: float) -> Principal:
        keyring = self.validator.tokens.keyring
        if keyring is not self._keyring:  # keys reloaded: re-verify everything
            self._entries.clear()
            self._keyring = keyring
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._entries.get(key)
        if cached is not None and self._still_good(cached, authzid, domain, now):
            self.hits += 1
            return cached
        self.misses += 1
        principal = self.validator.validate(token, authzid=authzid, domain=domain, now=now)
        if principal.scopes.isdisjoint(LOGIN_SCOPES):
            return principal  # only login tokens are worth remembering
        self._entries[key] = principal
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return principal

    def _still_good(self, p: Principal, authzid: str | None, domain: str, now: float) -> bool:
        return (
            now < p.expires_at
            and not self.validator.revocations.is_revoked(p.grant_id)
            and p.jid.rpartition("@")[2].lower() == domain.lower()
            and (not authzid or authzid.lower() == p.jid.lower())
            and not p.scopes.isdisjoint(LOGIN_SCOPES)
        )


__all__ = ["DEFAULT_MAX_ENTRIES", "CachingTokenCheck"]
