"""The validator: one call from a bearer token to a :class:`Principal` (RFC 9068 §4, RFC 7628 §3.1).

Every XMPP-side part (SASL service, ejabberd adapters, component) asks this one question.
Validation is offline: a signature check with the key pinned by ``kid``, claim checks, and a
lookup in the in-memory set of revoked grants (kept fresh from the store by
``store.revocation.StoreRevocationSet``), so a login never waits on the database (DESIGN §8).

Checks, in order (the first failure wins)::

    check                                              | error
    ---------------------------------------------------+---------------------------------------
    signature, typ, iss, exp/iat/nbf (TokenService)    | InvalidTokenError(reason)
    sub's domain is served (and is ``domain`` if given) | InvalidTokenError("domain")
    aud contains "xmpp:<domain of sub>" (RFC 9068 §4)  | InvalidTokenError("audience")
    the grant is not revoked (DESIGN §3 "Revocation")  | InvalidTokenError("revoked")
    authzid, if any, names the subject (RFC 7628 §3.1) | AuthzidMismatchError
    any one of ``required_scopes`` granted (DESIGN §4)  | InsufficientScopeError(scope=...)

Disabled accounts need no separate check: disabling an account revokes its grants.
Tokens never reach the log; ``jti`` and ``client_id`` do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .errors import AuthzidMismatchError, InsufficientScopeError, InvalidTokenError
from .tokens.jwt import LOGIN_SCOPES, TokenService

log = logging.getLogger(__name__)

# LOGIN_SCOPES (imported above, defined next to the token claims that depend on it): scopes that
# allow an XMPP login (XEP-0493 ``xmpp:client:normal``; Prosody's ``xmpp``).


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for, and what it allows."""

    jid: str  # bare JID: the token's subject, never the client's claim
    client_id: str
    scopes: frozenset[str]
    grant_id: str
    expires_at: int
    jti: str


class RevocationSet(Protocol):
    """The set of revoked grant ids, held in memory (lookups must be O(1) and sync)."""

    def is_revoked(self, grant_id: str) -> bool: ...


class InMemoryRevocationSet:
    """A plain revocation set (tests, single-process tools)."""

    __slots__ = ("_revoked",)

    def __init__(self, grant_ids: Iterable[str] = ()) -> None:
        self._revoked: set[str] = set(grant_ids)

    def add(self, grant_id: str) -> None:
        self._revoked.add(grant_id)

    def discard(self, grant_id: str) -> None:
        self._revoked.discard(grant_id)

    def __contains__(self, grant_id: object) -> bool:
        return grant_id in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def is_revoked(self, grant_id: str) -> bool:
        return grant_id in self._revoked


def _domain_of(jid: str) -> str:
    """Domain part of a bare JID (``local@domain``); '' when there is none."""
    local, at, domain = jid.rpartition("@")
    if not at or not local or not domain or "/" in domain:
        return ""
    return domain


class Validator:
    """Token in, :class:`Principal` out (or a typed error).  Thread-free and sync."""

    def __init__(
        self, tokens: TokenService, revocations: RevocationSet, *, domains: Iterable[str]
    ) -> None:
        self.tokens = tokens
        self.revocations = revocations
        self.domains = frozenset(d.lower() for d in domains)
        # Precomputed "xmpp:<domain>" audiences: one dict lookup per login.
        self._audiences = {d: f"xmpp:{d}" for d in self.domains}

    def validate(
        self,
        token: str,
        *,
        authzid: str | None = None,
        domain: str | None = None,
        required_scopes: frozenset[str] = LOGIN_SCOPES,
        now: float,
    ) -> Principal:
        """Validate ``token`` for a login (or any use named by ``required_scopes``).

        ``authzid`` is the SASL authorization identity the client asked for (a bare JID);
        ``domain`` the XMPP domain the login happens on.  Any one of ``required_scopes``
        suffices; an empty set requires none.
        """
        claims = self.tokens.verify_access_token(token, audience=None, now=now)
        sub = claims.sub
        sub_domain = _domain_of(sub).lower()
        expected_aud = self._audiences.get(sub_domain)
        if expected_aud is None or (domain is not None and domain.lower() != sub_domain):
            log.info("token %s (client %s) is for another domain", claims.jti, claims.client_id)
            raise InvalidTokenError("domain")
        if expected_aud not in claims.aud:
            log.info("token %s (client %s) lacks audience %s", claims.jti, claims.client_id,
                     expected_aud)
            raise InvalidTokenError("audience")
        if self.revocations.is_revoked(claims.grant_id):
            log.info("token %s (client %s) belongs to revoked grant %s", claims.jti,
                     claims.client_id, claims.grant_id)
            raise InvalidTokenError("revoked")
        # RFC 7628 §3.1 / DESIGN §5.1: the authenticated identity is always the subject; an
        # authzid naming anyone else is refused (JIDs compare case-insensitively here:
        # domains always, localparts after nodeprep/PRECIS case mapping).
        if authzid and authzid.lower() != sub.lower():
            log.info("token %s (client %s): authzid does not match the subject", claims.jti,
                     claims.client_id)
            raise AuthzidMismatchError("authzid does not match the token subject")
        if required_scopes and required_scopes.isdisjoint(claims.scopes):
            scope = " ".join(sorted(required_scopes))
            log.info("token %s (client %s) lacks any of scopes %s", claims.jti,
                     claims.client_id, scope)
            raise InsufficientScopeError("the token does not grant this use", scope=scope)
        return Principal(
            jid=sub,
            client_id=claims.client_id,
            scopes=claims.scopes,
            grant_id=claims.grant_id,
            expires_at=claims.exp,
            jti=claims.jti,
        )


__all__ = ["LOGIN_SCOPES", "InMemoryRevocationSet", "Principal", "RevocationSet", "Validator"]
