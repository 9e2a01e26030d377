"""RFC 6120 §6.4.5-§6.4.6 SASL outcomes shared by every mechanism (sans-IO events).

The mechanism-specific events live with their state machines (``InitialResponse`` and
``ErrorChallenge`` in :mod:`.oauthbearer`, ``PlainResponse`` in :mod:`.plain`,
``ScramLookup`` in :mod:`.scram`).  Events are plain frozen values: the caller pattern-matches
on them and puts them on its own wire (an XMPP ``<success/>``, a Dovecot ``OK`` line, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xmpp_oauth.errors import SaslCondition


@dataclass(frozen=True, slots=True)
class Success:
    """The exchange succeeded.

    ``identity`` is the authenticated identity on the server side (the token subject for
    OAUTHBEARER, the SCRAM username); it is ``""`` on the client side, which learns none.
    ``data`` is the "additional data with success" of RFC 6120 §6.4.6 (SCRAM's
    server-final-message); OAUTHBEARER has none.
    """

    identity: str = ""
    data: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Failure:
    """The exchange failed with an RFC 6120 §6.5 ``condition``.

    ``reason`` is for logs only and never goes to the peer.
    """

    condition: SaslCondition
    reason: str = ""


__all__ = ["Failure", "Success"]
