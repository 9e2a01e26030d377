"""ejabberd external authentication (``auth_method: external``): framing, decisions, driver.

Theory of operation
-------------------
ejabberd starts the program (as its own user) and talks over stdin/stdout in frames::

    request  = length:uint16 big-endian, then that many bytes "command:arg:arg..."
    reply    = 00 02, then 00 01 (yes) or 00 00 (no)

Commands (ejabberd's ``extauth`` module): ``auth:User:Server:Password``,
``isuser:User:Server``, ``setpass``, ``tryregister``, ``removeuser``, ``removeuser3``.  The
password is everything after the third colon, so it may contain colons.

Decisions (:class:`ExtauthHandler`):

* ``auth``: the server must be one of our domains.  A password shaped like a JWT is validated
  as an access token with the login user as the required authzid (so a token of alice never
  logs in bob); anything else, or a token that fails, is checked as the local password of
  ``User@Server`` against its stored SCRAM-SHA-256 key (no argon2: ejabberd waits on us).
  Password failures are counted per account and refused from memory over the limit.
* ``isuser``: a local account with that JID exists and is enabled.
* everything else, and anything malformed: no.

:class:`FrameDecoder` is the sans-IO framing core (bytes in, frames out; incomplete frames
wait for more).  :func:`run_extauth` is the thin asyncio driver over stdin/stdout: it answers
each frame in order and exits cleanly on EOF (ejabberd closing the pipe).  Nothing but
replies may ever reach stdout; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import sys
from collections.abc import Callable
from typing import BinaryIO, Final

from ..accounts.local import normalize_jid
from ..clock import Clock
from ..errors import StoreError, XmppOAuthError
from ..store.base import Store
from .accounts import FailureThrottle, PlainVerifier
from .exchanges import TokenCheck

log = logging.getLogger(__name__)

YES: Final = b"\x00\x02\x00\x01"
NO: Final = b"\x00\x02\x00\x00"
MAX_FRAME: Final = 0xFFFF


def encode_reply(ok: bool) -> bytes:
    return YES if ok else NO


def encode_request(text: str) -> bytes:
    """A request frame (used by tests and the benchmark: ejabberd's side)."""
    data = text.encode("utf-8")
    if len(data) > MAX_FRAME:
        raise ValueError("request too long for a 16-bit length")
    return struct.pack(">H", len(data)) + data


class FrameDecoder:
    """Sans-IO: feed bytes, get complete request frames (their payload bytes)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= 2:
            (length,) = struct.unpack_from(">H", self._buffer)
            if len(self._buffer) < 2 + length:
                break
            frames.append(bytes(self._buffer[2 : 2 + length]))
            del self._buffer[: 2 + length]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered (non-zero at EOF: a truncated frame)."""
        return len(self._buffer)


def _looks_like_jwt(password: str) -> bool:
    return password.count(".") == 2 and password.startswith("ey") and " " not in password


class ExtauthHandler:
    """Answers one request frame at a time (async only for the store lookups)."""

    def __init__(self, *, store: Store, token_check: TokenCheck, domains: tuple[str, ...],
                 clock: Clock, local_passwords: bool = True,
                 max_failures_per_minute: int = 10) -> None:
        self.store = store
        self.token_check = token_check
        self.domains = frozenset(d.lower() for d in domains)
        self.clock = clock
        self.local_passwords = local_passwords
        self.throttle = FailureThrottle(max_failures_per_minute)
        self.plain = PlainVerifier()

    def _jid(self, user: str, server: str) -> str | None:
        server = server.lower()
        if server not in self.domains or not user:
            return None
        try:
            return normalize_jid(f"{user}@{server}", (server,))
        except ValueError:
            return None

    async def handle(self, frame: bytes) -> bool:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            return False
        command, _, rest = text.partition(":")
        try:
            if command == "auth":
                user, server, password = _split3(rest)
                if password is None:
                    return False
                return await self.auth(user, server, password)
            if command == "isuser":
                user, _, server = rest.partition(":")
                return await self.isuser(user, server)
        except StoreError as exc:
            log.warning("extauth %s: store trouble: %s", command, exc)
            return False
        return False  # setpass, tryregister, removeuser, ...: not ours to change

    async def auth(self, user: str, server: str, password: str) -> bool:
        jid = self._jid(user, server)
        if jid is None or not password:
            return False
        if _looks_like_jwt(password):
            try:
                principal = self.token_check(password, jid, server.lower(), self.clock.now())
            except XmppOAuthError as exc:
                log.info("extauth: token refused for %s (%s)", jid, type(exc).__name__)
            else:
                if principal.jid.lower() == jid:
                    return True
        if not self.local_passwords:
            return False
        now = self.clock.now()
        if self.throttle.blocked(jid, now=now):
            log.info("extauth: %s refused, too many recent failures", jid)
            return False
        account = await self.store.get_account(jid)
        record = account.scram_sha256 if account and not account.disabled else None
        if record and self.plain.cached(jid, record, password):
            return True
        ok = await asyncio.to_thread(self.plain.check, record or None, password)
        if ok and record:
            self.plain.remember(jid, record, password)
            self.throttle.clear(jid)
            return True
        self.throttle.record(jid, now=now)
        return False

    async def isuser(self, user: str, server: str) -> bool:
        jid = self._jid(user, server)
        if jid is None:
            return False
        account = await self.store.get_account(jid)
        return account is not None and not account.disabled


def _split3(rest: str) -> tuple[str, str, str | None]:
    user, sep1, tail = rest.partition(":")
    server, sep2, password = tail.partition(":")
    if not sep1 or not sep2:
        return user, server, None
    return user, server, password


async def serve_frames(handler: ExtauthHandler, reader: asyncio.StreamReader,
                       write: Callable[[bytes], None]) -> int:
    """Answer frames from ``reader`` until EOF; returns the number answered."""
    decoder = FrameDecoder()
    answered = 0
    while True:
        data = await reader.read(65536)
        if not data:
            if decoder.pending:
                log.warning("extauth: input ended inside a frame (%d bytes dropped)",
                            decoder.pending)
            return answered
        for frame in decoder.feed(data):
            try:
                ok = await handler.handle(frame)
            except Exception:
                log.exception("extauth request failed")
                ok = False
            write(encode_reply(ok))
            answered += 1


async def run_extauth(handler: ExtauthHandler, stdin: BinaryIO | None = None,
                      stdout: BinaryIO | None = None) -> int:
    """Serve ejabberd over stdin/stdout until EOF."""
    stdin = stdin or sys.stdin.buffer
    out_fd = (stdout or sys.stdout.buffer).fileno()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), stdin
    )

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:  # four bytes: a blocking write is fine and keeps replies in order
            view = view[os.write(out_fd, view):]

    try:
        return await serve_frames(handler, reader, write)
    finally:
        transport.close()


__all__ = [
    "NO",
    "YES",
    "ExtauthHandler",
    "FrameDecoder",
    "encode_reply",
    "encode_request",
    "run_extauth",
    "serve_frames",
]
