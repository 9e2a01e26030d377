"""RFC 6749 §3.3 access token scope: syntax, known scopes (DESIGN §4), defaults, descriptions.

Theory of operation
-------------------
A scope value is a space-delimited list of scope tokens, each
``1*( %x21 / %x23-5B / %x5D-7E )`` (RFC 6749 §3.3).  The server knows the DESIGN §4 scopes
plus whatever the operator lists in ``oauth2_extra_scopes``; each has a human description the
consent page shows.

Policy (RFC 6749 §3.3 leaves it to the server, and says the response must tell the client
when the granted scope differs from the requested one):

* unknown scope tokens are dropped, so a generic OIDC library asking for ``openid email``
  still works; the token response always carries the granted ``scope``;
* if nothing known remains, or the client asks for a scope outside the ``scope`` it
  registered, the request fails with ``invalid_scope``;
* with no ``scope`` parameter at all the client's registered scope is used, or
  ``xmpp:client:normal`` (what an ordinary XMPP client needs, XEP-0493) when it registered
  none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..errors import InvalidScopeError

if TYPE_CHECKING:
    from ..settings import Settings

#: DESIGN §4: the built-in scopes and how the consent page describes them.
BUILTIN_SCOPES: Final[Mapping[str, str]] = {
    "xmpp:client:normal": "Log in to your XMPP account and chat as you",
    "xmpp": "Full access to your XMPP account (log in, chat, change settings)",
    "xmpp:account:read": "See your account's settings and the apps you have authorized",
    "xmpp:account:write": "Change your account's settings",
    "openid": "Confirm your identity (your XMPP address) to the app",
    "profile": "See your user name",
    "offline_access": "Stay connected when you are not using the app (refresh tokens)",
}
#: Granted when a request names no scope and the client registered none.
DEFAULT_SCOPES: Final = ("xmpp:client:normal",)
OFFLINE_ACCESS: Final = "offline_access"
OPENID: Final = "openid"

# RFC 6749 §3.3 scope-token.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True, slots=True)
class ScopeDescription:
    """A scope and its human description (for the consent and account pages)."""

    name: str
    description: str


def known_scopes(settings: Settings) -> dict[str, str]:
    """Every scope this server grants, with descriptions (built-in first, then extras)."""
    out = dict(BUILTIN_SCOPES)
    for name, description in settings.oauth2_extra_scopes.items():
        out.setdefault(name, description)
    return out


def parse_scope(raw: str | None) -> tuple[str, ...]:
    """Split a scope string (RFC 6749 §3.3); order kept, duplicates removed."""
    if raw is None:
        return ()
    out: list[str] = []
    for token in raw.split(" "):
        if not token:
            continue  # tolerate doubled spaces
        if not _SCOPE_TOKEN.fullmatch(token):
            raise InvalidScopeError("malformed scope value")
        if token not in out:
            out.append(token)
    return tuple(out)


def format_scope(scopes: Iterable[str]) -> str:
    """The wire form: tokens joined by single spaces, duplicates removed, order kept."""
    seen: list[str] = []
    for s in scopes:
        if s not in seen:
            seen.append(s)
    return " ".join(seen)


def resolve_scopes(
    requested: str | None, *, registered: Sequence[str], settings: Settings
) -> tuple[str, ...]:
    """The scopes a request is granted, per the policy in the module docstring."""
    known = known_scopes(settings)
    if requested is None:
        base = tuple(s for s in registered if s in known) or DEFAULT_SCOPES
        return base
    asked = parse_scope(requested)
    if registered:
        outside = [s for s in asked if s in known and s not in registered]
        if outside:
            raise InvalidScopeError("scope not registered for this client: " + " ".join(outside))
    granted = tuple(s for s in asked if s in known)
    if not granted:
        raise InvalidScopeError("none of the requested scopes is supported")
    return granted


def narrow_scopes(requested: str | None, *, granted: Sequence[str]) -> tuple[str, ...]:
    """RFC 6749 §6: a refresh may ask for fewer scopes, never more (``invalid_scope``)."""
    if requested is None:
        return tuple(granted)
    asked = parse_scope(requested)
    extra = [s for s in asked if s not in granted]
    if extra:
        raise InvalidScopeError("scope exceeds the original grant: " + " ".join(extra))
    if not asked:
        raise InvalidScopeError("empty scope")
    return asked


def describe_scopes(scopes: Iterable[str], settings: Settings) -> list[ScopeDescription]:
    """Human descriptions for display; unknown names describe themselves."""
    known = known_scopes(settings)
    return [ScopeDescription(s, known.get(s, s)) for s in scopes]


__all__ = [
    "BUILTIN_SCOPES",
    "DEFAULT_SCOPES",
    "OFFLINE_ACCESS",
    "OPENID",
    "ScopeDescription",
    "describe_scopes",
    "format_scope",
    "known_scopes",
    "narrow_scopes",
    "parse_scope",
    "resolve_scopes",
]
