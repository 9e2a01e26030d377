"""RFC 5801 §4 GS2 header and RFC 7628 §3.1 key/value pairs, strictly, bytes in and out.

Theory of operation
-------------------
An OAUTHBEARER initial client response (RFC 7628 §3.1) is::

    client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
    gs2-header  = gs2-cb-flag "," [ "a=" saslname ] ","          (RFC 5801 §4)
    kvpair      = key "=" value kvsep
    key         = 1*ALPHA
    value       = *(VCHAR / SP / HTAB / CR / LF)
    kvsep       = %x01

Parsing is a single pass over at most ``MAX_MESSAGE_SIZE`` bytes and never builds
intermediate strings from unchecked input.  Every way a peer can get the syntax wrong
raises :class:`~xmpp_oauth.errors.SaslRemoteError` (condition ``malformed-request``);
nothing else escapes.  Formatting functions check what the local caller hands them and
raise :class:`~xmpp_oauth.errors.SaslLocalError` instead: building a malformed message
is a bug on our side, not the peer's.

Deliberate strictness (each one is a rule of the ABNF above, or a local restriction
marked as such):

* ``p=<cb-name>`` is refused: OAUTHBEARER defines no channel binding and we offer no
  ``-PLUS`` mechanism, so a client asking for one is out of protocol.
* The non-standard GS2 flag ``F,`` is refused (RFC 5801 §4: only for non-standard GSS-API
  mechanisms; OAUTHBEARER is not one).
* In the authzid only ``=2C`` and ``=3D`` may follow ``=`` (RFC 5801 §4 saslname); it must
  be non-empty, valid UTF-8 and contain no NUL.  Local restriction: no C0 control
  characters or DEL either (no JID may contain them, RFC 7622 §3.3.1 / §3.2.1).
* Duplicate keys are refused: the RFC gives them no meaning and accepting one silently
  would let two parsers disagree about the token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from xmpp_oauth.errors import SaslLocalError, SaslRemoteError

#: Upper bound for one client message.  A JWT access token is well under 2 KiB; this
#: leaves room for extensions while keeping a hostile peer from making us parse megabytes.
MAX_MESSAGE_SIZE: Final = 16 * 1024

#: RFC 7628 §3.1 ``kvsep``; also the whole dummy client response of §3.2.3.
KVSEP: Final = b"\x01"

_KEY_RE: Final = re.compile(rb"[A-Za-z]+")
# value = *(VCHAR / SP / HTAB / CR / LF): VCHAR is %x21-7E (RFC 5234 Appendix B.1).
_VALUE_RE: Final = re.compile(rb"[\x21-\x7e \t\r\n]*")
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_RE: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME: Final = "bearer"


def _malformed(problem: str) -> SaslRemoteError:
    return SaslRemoteError(problem)


@dataclass(frozen=True, slots=True)
class Gs2Header:
    """A parsed RFC 5801 §4 GS2 header.

    ``cb_flag`` is ``"n"`` (client does not support channel binding) or ``"y"`` (client
    does, but believes the server does not).  ``raw`` is the header exactly as sent,
    trailing comma included: SCRAM's ``c=`` attribute is computed over it (RFC 5802 §7).
    """

    cb_flag: str
    authzid: str | None
    raw: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ClientResponse:
    """A syntactically valid RFC 7628 §3.1 ``client-resp`` (not the lone-kvsep form).

    ``kvpairs`` keeps every pair in wire order, known keys and unknown ones alike; it is
    left out of ``repr`` because ``auth`` carries the bearer token.
    """

    gs2: Gs2Header
    kvpairs: tuple[tuple[str, str], ...] = field(repr=False)

    def get(self, key: str) -> str | None:
        """The value of ``key``, or ``None`` when absent (keys are unique, see module doc)."""
        for k, v in self.kvpairs:
            if k == key:
                return v
        return None


# --- saslname (RFC 5801 §4) -------------------------------------------------------------


def escape_saslname(name: str) -> str:
    """RFC 5801 §4: ``,`` becomes ``=2C`` and ``=`` becomes ``=3D`` (``=`` first)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def unescape_saslname(raw: bytes) -> str:
    """Decode an escaped saslname from the wire, refusing every other use of ``=``."""
    if not raw:
        raise _malformed("empty saslname")  # RFC 5801 §4: saslname = 1*(...)
    if b"\x00" in raw:
        raise _malformed("NUL in saslname")  # UTF8-char-safe excludes %x00
    out = bytearray()
    i = 0
    while i < len(raw):
        j = raw.find(b"=", i)
        if j < 0:
            out += raw[i:]
            break
        out += raw[i:j]
        escape = raw[j : j + 3]
        if escape == b"=2C":
            out += b","
        elif escape == b"=3D":
            out += b"="
        else:
            raise _malformed("invalid '=' escape in saslname")
        i = j + 3
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("saslname is not UTF-8") from None
    if _CONTROL_RE.search(text):
        raise _malformed("control character in saslname")  # local restriction, see module doc
    return text


# --- GS2 header ---------------------------------------------------------------------


def parse_gs2_header(data: bytes) -> tuple[Gs2Header, bytes]:
    """Split ``data`` into its GS2 header and the rest (which is returned untouched)."""
    first = data.find(b",")
    if first < 0:
        raise _malformed("no GS2 header")
    flag = data[:first]
    if flag == b"n" or flag == b"y":
        cb_flag = flag.decode("ascii")
    elif flag.startswith(b"p="):
        # RFC 7628 defines no channel binding and we advertise no -PLUS variant.
        raise _malformed("channel binding (p=) is not supported")
    elif flag == b"F":
        raise _malformed("non-standard GS2 flag 'F' is not allowed")
    else:
        raise _malformed("invalid gs2-cb-flag")
    second = data.find(b",", first + 1)
    if second < 0:
        raise _malformed("GS2 header not terminated")
    authzid_part = data[first + 1 : second]
    if not authzid_part:
        authzid = None
    elif authzid_part.startswith(b"a="):
        authzid = unescape_saslname(authzid_part[2:])
    else:
        raise _malformed("invalid gs2-authzid")
    end = second + 1
    return Gs2Header(cb_flag, authzid, data[:end]), data[end:]


def format_gs2_header(authzid: str | None = None, *, cb_flag: str = "n") -> bytes:
    """Build a GS2 header; ``cb_flag`` is ``"n"`` or ``"y"`` (no channel binding here)."""
    if cb_flag not in ("n", "y"):
        raise SaslLocalError(f"unsupported gs2-cb-flag {cb_flag!r}")
    if authzid is None:
        return f"{cb_flag},,".encode("ascii")
    if not authzid or "\x00" in authzid or _CONTROL_RE.search(authzid):
        raise SaslLocalError("authzid must be non-empty and free of control characters")
    return f"{cb_flag},a={escape_saslname(authzid)},".encode()


# --- RFC 7628 §3.1 client response ----------------------------------------------------


def parse_client_response(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> ClientResponse:
    """Parse ``gs2-header kvsep *kvpair kvsep`` (RFC 7628 §3.1), strictly.

    Unknown keys are kept but carry no meaning (RFC 7628 §3.1: they MUST be ignored).
    """
    if len(data) > max_size:
        raise _malformed(f"message larger than {max_size} bytes")
    gs2, rest = parse_gs2_header(data)
    # The header is followed by one kvsep, then the pairs, then the closing kvsep.
    if not rest.startswith(KVSEP):
        raise _malformed("GS2 header not followed by kvsep")
    items = rest[1:].split(KVSEP)
    # "k=v\x01k=v\x01\x01" splits into [..., "", ""]; zero pairs gives ["", ""].
    if len(items) < 2 or items[-1] != b"" or items[-2] != b"":
        raise _malformed("missing final kvsep")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items[:-2]:
        key, eq, value = item.partition(b"=")
        if not eq:
            raise _malformed("kvpair without '='")
        if not _KEY_RE.fullmatch(key):
            raise _malformed("invalid key")  # key = 1*(ALPHA)
        if not _VALUE_RE.fullmatch(value):
            raise _malformed("invalid character in value")
        k = key.decode("ascii")
        if k in seen:
            raise _malformed(f"duplicate key {k!r}")
        seen.add(k)
        pairs.append((k, value.decode("ascii")))
    return ClientResponse(gs2, tuple(pairs))


def format_client_response(
    kvpairs: Iterable[tuple[str, str]],
    *,
    authzid: str | None = None,
    cb_flag: str = "n",
) -> bytes:
    """Build ``gs2-header kvsep *kvpair kvsep``, checking keys and values like the parser."""
    out = bytearray(format_gs2_header(authzid, cb_flag=cb_flag))
    out += KVSEP
    seen: set[str] = set()
    for key, value in kvpairs:
        k = key.encode("ascii", "replace")
        v = value.encode("ascii", "replace")
        if not _KEY_RE.fullmatch(k) or key in seen:
            raise SaslLocalError(f"invalid or duplicate key {key!r}")
        if not value.isascii() or not _VALUE_RE.fullmatch(v):
            raise SaslLocalError(f"invalid value for key {key!r}")
        seen.add(key)
        out += k + b"=" + v + KVSEP
    out += KVSEP
    return bytes(out)


# --- RFC 6750 §2.1 credentials inside ``auth`` --------------------------------------------


def parse_bearer(auth: str) -> str:
    """Extract the token from an ``auth`` value: ``Bearer`` SP b64token.

    The scheme is case-insensitive (RFC 7628 §4; RFC 7235 §2.1); exactly one space
    separates it from the token.  An empty value, ``Bearer`` or ``Bearer `` returns ``""``:
    the token-less discovery request of RFC 7628 §4.3 and XEP-0493.
    """
    if auth == "":
        return ""  # RFC 7628 §4.3 sends "auth=" to ask for the error challenge
    scheme, sp, token = auth.partition(" ")
    if scheme.lower() != _SCHEME:
        raise _malformed("auth scheme is not Bearer")
    if not sp or token == "":
        return ""
    if not _B64TOKEN_RE.fullmatch(token):
        raise _malformed("bearer token is not a b64token")
    return token


def format_bearer(token: str) -> str:
    """The ``auth`` value for ``token``; ``""`` asks for discovery (RFC 7628 §4.3)."""
    if token == "":
        return ""
    if not _B64TOKEN_RE.fullmatch(token):
        raise SaslLocalError("bearer token is not a b64token (RFC 6750 §2.1)")
    return f"Bearer {token}"


def parse_port(value: str) -> int:
    """RFC 7628 §3.1: "a decimal positive integer string without leading zeros"."""
    if not value.isascii() or not value.isdigit() or value.startswith("0") or len(value) > 5:
        raise _malformed("invalid port")
    port = int(value)
    if port > 65535:
        raise _malformed("invalid port")
    return port


__all__ = [
    "KVSEP",
    "MAX_MESSAGE_SIZE",
    "ClientResponse",
    "Gs2Header",
    "escape_saslname",
    "format_bearer",
    "format_client_response",
    "format_gs2_header",
    "parse_bearer",
    "parse_client_response",
    "parse_gs2_header",
    "parse_port",
    "unescape_saslname",
]
