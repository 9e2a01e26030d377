"""Dovecot authentication protocol v1, server side (the subset Prosody's mod_auth_dovecot uses).

Theory of operation
-------------------
A sans-IO codec in the h11/wsproto style: :meth:`ServerProtocol.receive_data` takes whatever
bytes arrived and returns the complete client lines as events; the ``handshake``/``ok``/``cont``
/``fail`` methods return the bytes to write.  No sockets, no asyncio, no clock.

The wire format is line based: one command per ``\\n``-terminated line, fields separated by TAB.
Field values use Dovecot's "tab escaping" (``str_tabescape``), with ``\\x01`` as the escape
character::

    \\x01 -> \\x01 "1"      \\t -> \\x01 "t"      \\r -> \\x01 "r"      \\n -> \\x01 "n"

Server handshake (sent as soon as a client connects)::

    VERSION 1 2 / MECH <name> [flags...] ... / SPID <pid> / CUID <n> / COOKIE <hex> / DONE

Client lines and the events they become::

    VERSION <major> <minor>                    -> VersionLine   (major != 1: caller closes)
    CPID <pid>                                 -> CpidLine
    AUTH <id> <mech> [key=value | flag]...     -> AuthRequest   (resp=<base64>: initial response)
    CONT <id> <base64>                         -> ContRequest
    any other command                          -> UnknownLine   (ignored: later protocol versions)
    unparsable, bad base64, over-long line     -> BadLine       (with the id when one was readable)

Replies: ``OK <id> user=<jid> [resp=<b64>]``, ``CONT <id> <b64>``,
``FAIL <id> reason=<text> [temp] [authz]``.  Prosody maps a bare ``temp`` to
``temporary-auth-failure`` and a bare ``authz`` to ``invalid-authzid``; any other FAIL is
``not-authorized``.

Prosody quirks handled here (``sasl_dovecot.lib.lua``):

* an *absent* initial response arrives as ``resp==`` (the literal ``=``), an empty one as
  ``resp=``; ``=`` alone is also accepted as an empty ``CONT`` payload;
* empty TAB fields are dropped by its parser, so an empty challenge is sent as ``=``, which its
  base64 decoder turns into an empty ``<challenge>``.

Every line is bounded (``max_line_length``): an over-long line is discarded up to its newline,
but its command and id are kept so that the caller can still answer ``FAIL <id>`` (a client
waiting for that answer would otherwise wait forever).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

#: Dovecot's auth protocol version this server speaks (Prosody checks only the major).
PROTOCOL_MAJOR: Final = 1
PROTOCOL_MINOR: Final = 2
DEFAULT_MAX_LINE_LENGTH: Final = 65536
#: Request ids are unsigned 32-bit numbers in Dovecot; we accept any decimal of this size.
MAX_ID_DIGITS: Final = 20
#: Bytes kept from an over-long line to recover its command and id.
_PREFIX_KEEP: Final = 64

_ESCAPES: Final = {"\x01": "\x011", "\t": "\x01t", "\r": "\x01r", "\n": "\x01n"}
_UNESCAPES: Final = {"1": "\x01", "t": "\t", "r": "\r", "n": "\n"}


def tab_escape(value: str) -> str:
    """Dovecot ``str_tabescape``: protect TAB, CR, LF and the escape byte itself."""
    if not any(ch in value for ch in _ESCAPES):
        return value
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def tab_unescape(value: str) -> str:
    """Inverse of :func:`tab_escape`; an unknown or dangling escape keeps the next char."""
    if "\x01" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\x01":
            nxt = next(chars, "")
            out.append(_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionLine:
    major: int
    minor: int


@dataclass(frozen=True, slots=True)
class CpidLine:
    pid: str


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """Start of one exchange.  ``initial`` is ``None`` when the client sent no initial response."""

    id: int
    mechanism: str
    params: Mapping[str, str] = field(repr=False)
    flags: frozenset[str] = frozenset()
    initial: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ContRequest:
    """The client's next message in exchange ``id``."""

    id: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class UnknownLine:
    """A well-formed line with a command this server does not know (ignored)."""

    command: str


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be used; ``id`` is set when the caller must still answer."""

    reason: str
    id: int | None = None


Event = VersionLine | CpidLine | AuthRequest | ContRequest | UnknownLine | BadLine


# -- parsing -----------------------------------------------------------------------------------


def _parse_id(text: str) -> int | None:
    if not text or len(text) > MAX_ID_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _b64(value: str) -> bytes | None:
    """Strict base64; ``=`` alone means empty (Prosody's spelling of "nothing")."""
    if value in ("", "="):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_line(line: bytes) -> Event:
    """One client line (without its newline) to an event."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return BadLine("not UTF-8", _salvage_id(line))
    if text.endswith("\r"):
        text = text[:-1]
    fields = text.split("\t")
    command = fields[0]
    if command == "AUTH":
        return _parse_auth(fields)
    if command == "CONT":
        if len(fields) < 2:
            return BadLine("CONT without id")
        req_id = _parse_id(fields[1])
        if req_id is None:
            return BadLine("CONT with a bad id")
        payload = _b64(tab_unescape(fields[2])) if len(fields) > 2 else b""
        if payload is None:
            return BadLine("CONT data is not base64", req_id)
        return ContRequest(req_id, payload)
    if command == "VERSION":
        if len(fields) < 3 or _parse_id(fields[1]) is None or _parse_id(fields[2]) is None:
            return BadLine("bad VERSION line")
        return VersionLine(int(fields[1]), int(fields[2]))
    if command == "CPID":
        if len(fields) < 2 or not fields[1]:
            return BadLine("bad CPID line")
        return CpidLine(tab_unescape(fields[1]))
    if not command or not command.isascii() or not command.replace("-", "").isalnum():
        return BadLine("not a command")
    return UnknownLine(command)


def _parse_auth(fields: Sequence[str]) -> AuthRequest | BadLine:
    if len(fields) < 2:
        return BadLine("AUTH without id")
    req_id = _parse_id(fields[1])
    if req_id is None:
        return BadLine("AUTH with a bad id")
    if len(fields) < 3 or not fields[2]:
        return BadLine("AUTH without mechanism", req_id)
    mechanism = fields[2].upper()
    params: dict[str, str] = {}
    flags: set[str] = set()
    for raw in fields[3:]:
        if not raw:
            continue  # empty fields carry nothing (Prosody's parser drops them too)
        key, eq, value = raw.partition("=")
        if not eq:
            flags.add(tab_unescape(key))
            continue
        if key in params:
            return BadLine(f"duplicate AUTH parameter {key!r}", req_id)
        params[key] = tab_unescape(value)
    initial: bytes | None = None
    if "resp" in params:
        if params["resp"] == "=":
            initial = None  # mod_auth_dovecot: no initial response at all
        else:
            initial = _b64(params["resp"])
            if initial is None:
                return BadLine("initial response is not base64", req_id)
    return AuthRequest(req_id, mechanism, MappingProxyType(params), frozenset(flags), initial)


def _salvage_id(prefix: bytes) -> int | None:
    """The id of an AUTH/CONT line from its first bytes, if it can be read."""
    parts = prefix.split(b"\t", 2)
    if len(parts) >= 3 and parts[0] in (b"AUTH", b"CONT"):
        try:
            return _parse_id(parts[1].decode("ascii"))
        except UnicodeDecodeError:
            return None
    return None


# -- the codec ---------------------------------------------------------------------------------


class ServerProtocol:
    """Server side of one connection: line framing plus reply formatting."""

    def __init__(self, *, max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        if max_line_length < 256:
            raise ValueError("max_line_length must be at least 256")
        self.max_line_length = max_line_length
        self.version: VersionLine | None = None
        self.client_pid: str | None = None
        self._buffer = bytearray()
        self._discarding: bytes | None = None  # prefix of an over-long line being skipped

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received bytes; returns the events of every complete line."""
        events: list[Event] = []
        self._buffer += data
        while True:
            if self._discarding is not None:
                nl = self._buffer.find(b"\n")
                if nl < 0:
                    self._buffer.clear()
                    return events
                del self._buffer[: nl + 1]
                events.append(BadLine("line too long", _salvage_id(self._discarding)))
                self._discarding = None
                continue
            nl = self._buffer.find(b"\n", 0, self.max_line_length + 1)
            if nl < 0:
                if len(self._buffer) > self.max_line_length:
                    self._discarding = bytes(self._buffer[:_PREFIX_KEEP])
                    continue
                return events
            line = bytes(self._buffer[:nl])
            del self._buffer[: nl + 1]
            if not line or line == b"\r":
                continue
            event = parse_line(line)
            if isinstance(event, VersionLine):
                self.version = event
            elif isinstance(event, CpidLine):
                self.client_pid = event.pid
            events.append(event)

    # -- output ---------------------------------------------------------------------------
    @staticmethod
    def handshake(
        mechanisms: Iterable[tuple[str, Iterable[str]]],
        *,
        connection_id: int,
        server_pid: int | None = None,
        cookie: str | None = None,
    ) -> bytes:
        """``VERSION``, one ``MECH`` per (name, flags), ``SPID``, ``CUID``, ``COOKIE``, ``DONE``."""
        lines = [f"VERSION\t{PROTOCOL_MAJOR}\t{PROTOCOL_MINOR}"]
        for name, flags in mechanisms:
            lines.append("\t".join(["MECH", name, *flags]))
        lines.append(f"SPID\t{os.getpid() if server_pid is None else server_pid}")
        lines.append(f"CUID\t{connection_id}")
        lines.append(f"COOKIE\t{cookie or secrets.token_hex(16)}")
        lines.append("DONE")
        return ("\n".join(lines) + "\n").encode("ascii")

    @staticmethod
    def ok(req_id: int, user: str, data: bytes | None = None) -> bytes:
        fields = ["OK", str(req_id), f"user={tab_escape(user)}"]
        if data:
            fields.append("resp=" + base64.b64encode(data).decode("ascii"))
        return ("\t".join(fields) + "\n").encode("utf-8")

    @staticmethod
    def cont(req_id: int, data: bytes) -> bytes:
        # "=" rather than an empty field: mod_auth_dovecot drops empty fields.
        payload = base64.b64encode(data).decode("ascii") if data else "="
        return f"CONT\t{req_id}\t{payload}\n".encode("ascii")

    @staticmethod
    def fail(req_id: int, reason: str, *, temp: bool = False, authz: bool = False,
             user: str | None = None) -> bytes:
        fields = ["FAIL", str(req_id), f"reason={tab_escape(reason)}"]
        if user:
            fields.append(f"user={tab_escape(user)}")
        if temp:
            fields.append("temp")
        if authz:
            fields.append("authz")
        return ("\t".join(fields) + "\n").encode("utf-8")


__all__ = [
    "DEFAULT_MAX_LINE_LENGTH",
    "AuthRequest",
    "BadLine",
    "ContRequest",
    "CpidLine",
    "Event",
    "ServerProtocol",
    "UnknownLine",
    "VersionLine",
    "parse_line",
    "tab_escape",
    "tab_unescape",
]
