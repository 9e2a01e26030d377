"""The SASL service: Dovecot auth protocol v1 listeners (UNIX socket / loopback TCP) per domain.

Each configured listener (``[[sasl.listeners]]``) serves exactly one XMPP domain: a Prosody
VirtualHost points its ``dovecot_auth_socket`` (or ``dovecot_auth_host``/``_port``) at the
listener of its own domain, and that listener only ever answers ``OK`` with ``user=`` JIDs of
that domain, so a second VirtualHost cannot log in users of the first.  Without configured
listeners, one UNIX socket per served domain is opened at ``<data_dir>/sasl-<domain>.sock``.

Prosody keeps one blocking connection per VirtualHost and stops entirely while it waits for an
answer (``shared/servers/README.md``).  Hence:

* every request is answered from memory (validator, account cache, throttle); the only
  non-trivial work, PLAIN's single PBKDF2 run when the password is not already known, runs in
  a worker thread so that other connections are not held up;
* nothing sleeps: throttled or store-less requests get ``FAIL ... temp`` at once, and any
  unexpected error does too;
* each connection is its own task: a client that never reads only stalls itself (its writes
  wait for buffer space, nobody else's do); lines are bounded; garbage is answered or ignored.

``start_sasl_service(runtime)`` starts it inside another process (``xmpp-oauth serve``);
``xmpp-oauth sasl`` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..clock import Clock, SystemClock
from ..errors import ConfigError, XmppOAuthError
from ..runtime import Runtime
from ..settings import SaslListener, Settings, is_loopback_host
from ..validate import Principal, Validator
from .accounts import AccountCache, FailureThrottle, PlainVerifier
from .exchanges import (
    MECH_FLAGS,
    PASSWORD_MECHANISMS,
    Challenge,
    CheckPassword,
    DomainContext,
    Exchange,
    Ok,
    PlainExchange,
    Refuse,
    Reply,
    TokenCheck,
    new_exchange,
)
from .protocol import (
    AuthRequest,
    BadLine,
    ContRequest,
    Event,
    ServerProtocol,
    UnknownLine,
    VersionLine,
)

log = logging.getLogger(__name__)

READ_SIZE: Final = 65536
#: Exchanges one connection may have open at once (Prosody uses one at a time).
MAX_EXCHANGES: Final = 1024
#: Seconds a closing connection waits for its pending password checks.
CLOSE_GRACE: Final = 5.0


def validator_check(validator: Validator) -> TokenCheck:
    """Adapt :meth:`Validator.validate` to the exchanges' ``token_check`` signature."""

    def check(token: str, authzid: str | None, domain: str, now: float) -> Principal:
        return validator.validate(token, authzid=authzid, domain=domain, now=now)

    return check


def default_listeners(settings: Settings) -> tuple[SaslListener, ...]:
    """The configured listeners, or one UNIX socket per domain under ``data_dir``."""
    if settings.sasl.listeners:
        return settings.sasl.listeners
    return tuple(
        SaslListener(domain=d, socket=str(Path(settings.data_dir) / f"sasl-{d}.sock"))
        for d in settings.domains
    )


@dataclass(frozen=True, slots=True)
class BoundListener:
    """Where a listener actually listens (``port`` resolved when 0 was asked for)."""

    domain: str
    socket: str = ""
    host: str = ""
    port: int = 0


class SaslService:
    """All listeners of one process.  ``await start()``, later ``await close()``."""

    def __init__(
        self,
        *,
        listeners: Sequence[SaslListener],
        token_check: TokenCheck,
        openid_configuration: str,
        accounts: AccountCache | None = None,
        mechanisms: Sequence[str] = ("OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"),
        max_failures_per_minute: int = 10,
        max_line_length: int = 65536,
        clock: Clock | None = None,
    ) -> None:
        for i, lst in enumerate(listeners):
            if lst.port and not is_loopback_host(lst.host):
                # The protocol has no authentication of its own: anyone reaching it could
                # test passwords and tokens.  Loopback or a UNIX socket only.
                raise ConfigError(f"sasl.listeners[{i}].host", "must be a loopback address")
        self.listeners = tuple(listeners)
        self.accounts = accounts
        offered = [m for m in mechanisms if accounts is not None or m not in PASSWORD_MECHANISMS]
        self.mechanisms = tuple(dict.fromkeys(offered))
        self.max_line_length = max_line_length
        throttle = FailureThrottle(max_failures_per_minute)
        plain = PlainVerifier()
        clock = clock or SystemClock()
        self._contexts = {
            lst.domain: DomainContext(
                domain=lst.domain, token_check=token_check,
                openid_configuration=openid_configuration, clock=clock,
                accounts=accounts, throttle=throttle, plain=plain,
            )
            for lst in listeners
        }
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._cuid = itertools.count(1)
        self.bound: list[BoundListener] = []

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.accounts is not None:
            await self.accounts.start()
        try:
            for lst in self.listeners:
                await self._listen(lst)
        except BaseException:
            await self.close()
            raise

    async def _listen(self, lst: SaslListener) -> None:
        ctx = self._contexts[lst.domain]

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._connections.add(task)
            try:
                await self._serve(ctx, reader, writer)
            finally:
                self._connections.discard(task)

        if lst.socket:
            sock = _bind_unix(lst.socket, lst.socket_mode)
            server = await asyncio.start_unix_server(handle, sock=sock)
            self.bound.append(BoundListener(lst.domain, socket=lst.socket))
            log.info("SASL service for %s listening on %s", lst.domain, lst.socket)
            self._servers.append(server)
        if lst.port:
            server = await asyncio.start_server(handle, lst.host, lst.port)
            port = server.sockets[0].getsockname()[1]
            self.bound.append(BoundListener(lst.domain, host=lst.host, port=port))
            log.info("SASL service for %s listening on %s:%d", lst.domain, lst.host, port)
            self._servers.append(server)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        for lst in self.listeners:
            if lst.socket:
                with contextlib.suppress(OSError):
                    if stat.S_ISSOCK(os.lstat(lst.socket).st_mode):
                        os.unlink(lst.socket)
        if self.accounts is not None:
            await self.accounts.stop()

    # -- one connection -----------------------------------------------------------------------
    async def _serve(self, ctx: DomainContext, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        proto = ServerProtocol(max_line_length=self.max_line_length)
        exchanges: dict[int, Exchange] = {}
        checks: set[asyncio.Task[None]] = set()
        writer.write(proto.handshake(
            ((m, MECH_FLAGS.get(m, ())) for m in self.mechanisms), connection_id=next(self._cuid)
        ))
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break  # EOF (or half-close): finish what is pending, then close
                out = bytearray()
                for event in proto.receive_data(data):
                    if isinstance(event, VersionLine) and event.major != 1:
                        log.warning("SASL client speaks protocol %d.x; closing", event.major)
                        return
                    out += self._handle(ctx, event, exchanges, checks, writer)
                if out:
                    writer.write(out)
                    await writer.drain()  # a client that never reads stalls only itself
            if checks:
                await asyncio.wait(checks, timeout=CLOSE_GRACE)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in checks:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _handle(self, ctx: DomainContext, event: Event, exchanges: dict[int, Exchange],
                checks: set[asyncio.Task[None]], writer: asyncio.StreamWriter) -> bytes:
        if isinstance(event, AuthRequest):
            exchanges.pop(event.id, None)  # an id reused restarts its exchange
            if len(exchanges) >= MAX_EXCHANGES:
                return ServerProtocol.fail(event.id, "too many open requests", temp=True)
            if event.mechanism not in self.mechanisms:
                return ServerProtocol.fail(event.id, "unsupported mechanism")
            exchange = new_exchange(event.mechanism, ctx)
            if exchange is None:
                return ServerProtocol.fail(event.id, "unsupported mechanism")
            exchanges[event.id] = exchange
            return self._step(ctx, event.id, exchange, event.initial, exchanges, checks, writer)
        if isinstance(event, ContRequest):
            exchange = exchanges.get(event.id)
            if exchange is None:
                return ServerProtocol.fail(event.id, "unknown request id")
            return self._step(ctx, event.id, exchange, event.data, exchanges, checks, writer)
        if isinstance(event, BadLine):
            log.info("bad line from SASL client (%s)", event.reason)
            if event.id is not None:
                exchanges.pop(event.id, None)
                return ServerProtocol.fail(event.id, event.reason)
        elif isinstance(event, UnknownLine):
            log.debug("ignoring unknown SASL command %s", event.command)
        return b""

    def _step(self, ctx: DomainContext, req_id: int, exchange: Exchange, data: bytes | None,
              exchanges: dict[int, Exchange], checks: set[asyncio.Task[None]],
              writer: asyncio.StreamWriter) -> bytes:
        try:
            reply = exchange.step(data)
        except XmppOAuthError as exc:
            log.warning("SASL request %d failed: %s", req_id, exc)
            reply = Refuse("internal error", temp=True)
        except Exception:
            log.exception("SASL request %d failed", req_id)
            reply = Refuse("internal error", temp=True)
        if isinstance(reply, CheckPassword):
            assert isinstance(exchange, PlainExchange)
            task = asyncio.create_task(self._check_password(ctx, req_id, exchange, exchanges,
                                                            writer))
            checks.add(task)
            task.add_done_callback(checks.discard)
            return b""
        return self._reply_bytes(ctx, req_id, reply, exchanges)

    async def _check_password(self, ctx: DomainContext, req_id: int, exchange: PlainExchange,
                              exchanges: dict[int, Exchange],
                              writer: asyncio.StreamWriter) -> None:
        try:
            ok = await asyncio.to_thread(exchange.check)
            reply = exchange.password_checked(ok)
        except Exception:
            log.exception("SASL PLAIN check %d failed", req_id)
            reply = Refuse("internal error", temp=True)
        if exchanges.get(req_id) is not exchange:
            return  # restarted or cancelled meanwhile
        if not writer.is_closing():
            writer.write(self._reply_bytes(ctx, req_id, reply, exchanges))

    def _reply_bytes(self, ctx: DomainContext, req_id: int, reply: Reply,
                     exchanges: dict[int, Exchange]) -> bytes:
        if isinstance(reply, Challenge):
            return ServerProtocol.cont(req_id, reply.data)
        exchanges.pop(req_id, None)
        if isinstance(reply, Ok):
            log.debug("SASL %d: OK %s", req_id, reply.user)
            return ServerProtocol.ok(req_id, reply.user, reply.data)
        assert isinstance(reply, Refuse)
        log.debug("SASL %d on %s: FAIL (%s)", req_id, ctx.domain, reply.reason)
        return ServerProtocol.fail(req_id, reply.reason, temp=reply.temp, authz=reply.authz)


def _bind_unix(path: str, mode: int) -> socket.socket:
    """A bound UNIX socket with ``mode`` set before anyone can connect (listen comes later)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.lstat(target).st_mode):
            raise ConfigError("sasl.listeners.socket", f"{path} exists and is not a socket")
        target.unlink()  # stale socket of a previous run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
    except OSError as exc:
        sock.close()
        raise ConfigError("sasl.listeners.socket", f"cannot bind {path}: {exc.strerror}") from exc
    return sock


class SaslServiceHandle:
    """What :func:`start_sasl_service` returns: the running service, ``await close()``."""

    def __init__(self, service: SaslService) -> None:
        self.service = service

    @property
    def bound(self) -> list[BoundListener]:
        return self.service.bound

    async def close(self) -> None:
        await self.service.close()


def build_sasl_service(runtime: Runtime, *, listeners: Sequence[SaslListener] | None = None,
                       token_check: TokenCheck | None = None) -> SaslService:
    """A :class:`SaslService` wired to a :class:`~xmpp_oauth.runtime.Runtime` (not started)."""
    settings = runtime.settings
    password_mechs = PASSWORD_MECHANISMS.intersection(settings.sasl.mechanisms)
    accounts = None
    if settings.accounts.backend == "local" and password_mechs:
        accounts = AccountCache(runtime.store)
    return SaslService(
        listeners=default_listeners(settings) if listeners is None else listeners,
        token_check=token_check or validator_check(runtime.validator),
        openid_configuration=settings.openid_configuration_url,
        accounts=accounts,
        mechanisms=settings.sasl.mechanisms,
        max_failures_per_minute=settings.sasl.max_failures_per_minute,
        max_line_length=settings.sasl.max_line_length,
        clock=runtime.clock,
    )


async def start_sasl_service(runtime: Runtime, *,
                             listeners: Sequence[SaslListener] | None = None) -> SaslServiceHandle:
    """Start the SASL service on ``runtime`` (e.g. inside ``serve``); ``await handle.close()``."""
    service = build_sasl_service(runtime, listeners=listeners)
    await service.start()
    return SaslServiceHandle(service)


__all__ = [
    "BoundListener",
    "SaslService",
    "SaslServiceHandle",
    "build_sasl_service",
    "default_listeners",
    "start_sasl_service",
    "validator_check",
]
