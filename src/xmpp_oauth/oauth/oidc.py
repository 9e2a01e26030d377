"""OpenID Connect Core 1.0: ID token claims (§2, §3.1.3.6), UserInfo (§5.3), ``max_age`` (§3.1.2.1).

Theory of operation
-------------------
The subject of every ID token is the user's bare JID (``sub`` is stable and unique per
issuer, §2).  Claims released depend on the granted scopes (§5.4):

=========== ===============================================================
scope       claims (ID token and UserInfo)
=========== ===============================================================
openid      ``sub``; the ID token also carries ``auth_time``, ``amr``,
            ``nonce`` (echoed, §3.1.2.1) and ``at_hash`` (§3.1.3.6)
profile     ``preferred_username`` (the JID's localpart), ``name``
xmpp scopes ``jid`` (the bare JID, as ejabberd's JWT auth reads it)
=========== ===============================================================

ID tokens are signed by the same key ring as access tokens, never with a client secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..settings import Settings
    from ..tokens.jwt import TokenService


def profile_claims(jid: str, scopes: Iterable[str]) -> dict[str, Any]:
    """§5.4 claims beyond ``sub`` that the granted scopes release."""
    granted = set(scopes)
    claims: dict[str, Any] = {}
    if "profile" in granted:
        local = jid.partition("@")[0] if "@" in jid else jid
        claims["preferred_username"] = local
        claims["name"] = local
    if granted & {"xmpp", "xmpp:client:normal", "xmpp:account:read"}:
        claims["jid"] = jid
    return claims


def issue_id_token(
    tokens: TokenService,
    settings: Settings,
    *,
    jid: str,
    client_id: str,
    scopes: Sequence[str],
    nonce: str | None,
    access_token: str | None,
    auth_time: float,
    amr: Sequence[str],
    now: float,
) -> str:
    """§3.1.3.6 ID token for a token response (``at_hash`` binds it to the access token)."""
    return tokens.issue_id_token(
        subject=jid,
        client_id=client_id,
        nonce=nonce or None,
        access_token=access_token,
        auth_time=auth_time,
        amr=amr,
        ttl=settings.oauth2_id_token_ttl,
        now=now,
        extra=profile_claims(jid, scopes) or None,
    )


def userinfo(jid: str, scopes: Iterable[str]) -> dict[str, Any]:
    """§5.3.2 UserInfo response body."""
    return {"sub": jid, **profile_claims(jid, scopes)}


def max_age_exceeded(auth_time: float, max_age: int | None, now: float) -> bool:
    """§3.1.2.1: with ``max_age``, a login older than that many seconds must be repeated."""
    return max_age is not None and now - auth_time > max_age


__all__ = ["issue_id_token", "max_age_exceeded", "profile_claims", "userinfo"]
