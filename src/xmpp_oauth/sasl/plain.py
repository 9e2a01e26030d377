"""RFC 4616 PLAIN (§2 message format, §4 security considerations): parse and format only.

Theory of operation
-------------------
PLAIN is a single client message and no state worth a machine::

    message = [authzid] UTF8NUL authcid UTF8NUL passwd      (RFC 4616 §2)

:func:`parse_plain` turns the (base64-decoded) bytes into a :class:`PlainResponse`;
checking the password is the caller's job (``scram.check_plain_password`` against the
stored SCRAM-SHA-256 keys, so the SASL service never runs argon2).  Malformed input raises
:class:`~xmpp_oauth.errors.SaslRemoteError` (``malformed-request``), the rule every
mechanism in this package follows.  No SASLprep here: the password is prepared by the
SCRAM code that compares it, identifiers by the caller's JID handling.

Bounds: RFC 4616 §2 says a server MUST accept authcid and passwd of up to 255 octets; we
accept up to a JID's length (3071 octets, RFC 7622 §3.1) for identities and 8 KiB for the
password, because ejabberd-style deployments send a JWT as the PLAIN password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from xmpp_oauth.errors import SaslLocalError, SaslRemoteError

MECHANISM: Final = "PLAIN"
MAX_IDENTITY_SIZE: Final = 3071
MAX_PASSWORD_SIZE: Final = 8192
MAX_MESSAGE_SIZE: Final = 2 * MAX_IDENTITY_SIZE + MAX_PASSWORD_SIZE + 2


@dataclass(frozen=True, slots=True)
class PlainResponse:
    """The three fields of a PLAIN message; ``authzid`` is ``None`` when empty."""

    authzid: str | None
    authcid: str
    password: str = field(repr=False)


def parse_plain(data: bytes) -> PlainResponse:
    """Parse one RFC 4616 §2 message, strictly."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise SaslRemoteError("PLAIN message too large")
    parts = data.split(b"\x00")
    # Exactly two NULs: none may appear inside a field (SAFE excludes %x00).
    if len(parts) != 3:
        raise SaslRemoteError("PLAIN message needs exactly two NUL separators")
    raw_authzid, raw_authcid, raw_password = parts
    if not raw_authcid:
        raise SaslRemoteError("empty authcid")  # authcid = 1*SAFE
    if not raw_password:
        raise SaslRemoteError("empty password")  # passwd = 1*SAFE
    if len(raw_authzid) > MAX_IDENTITY_SIZE or len(raw_authcid) > MAX_IDENTITY_SIZE:
        raise SaslRemoteError("PLAIN identity too long")
    if len(raw_password) > MAX_PASSWORD_SIZE:
        raise SaslRemoteError("PLAIN password too long")
    try:
        # RFC 4616 §2: all three fields are UTF-8.
        authzid = raw_authzid.decode("utf-8")
        authcid = raw_authcid.decode("utf-8")
        password = raw_password.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslRemoteError("PLAIN field is not UTF-8") from None
    return PlainResponse(authzid or None, authcid, password)


def format_plain(authcid: str, password: str, authzid: str | None = None) -> bytes:
    """Build a PLAIN message (client side)."""
    fields = (authzid or "", authcid, password)
    if not authcid or not password or any("\x00" in f for f in fields):
        raise SaslLocalError("PLAIN fields must be non-empty and free of NUL")
    return b"\x00".join(f.encode("utf-8") for f in fields)


__all__ = ["MECHANISM", "PlainResponse", "format_plain", "parse_plain"]
