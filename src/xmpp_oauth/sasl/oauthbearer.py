"""RFC 7628 OAUTHBEARER (§3.1 client response, §3.2 server response, §3.2.2-§3.2.3 errors).

Theory of operation
-------------------
Two small state machines, one per side, in the style of h11/wsproto: they never touch a
socket, a clock or a token verifier.  Bytes go in, events or bytes come out, and the
caller moves them over its own transport (XMPP ``<auth>``/``<challenge>``/``<response>``
elements, Dovecot ``AUTH``/``CONT`` lines, ...), base64-decoded.

The server machine only *parses*.  Token verification is the caller's job: on an
:class:`InitialResponse` it verifies ``token`` (binding ``authzid`` to the token subject,
DESIGN §5.1), then calls :meth:`OAuthBearerServer.accept` with the subject or
:meth:`OAuthBearerServer.reject`, which returns the RFC 7628 §3.2.2 JSON error challenge to
send.  An empty ``token`` is the discovery request of RFC 7628 §4.3 / XEP-0493; it can only
be rejected.

Error rule (one rule for every mechanism in this package): whatever the *peer* gets wrong
(syntax, size, speaking out of turn) raises :class:`~xmpp_oauth.errors.SaslRemoteError`
with condition ``malformed-request`` and moves the machine to ``FAILED``; the caller sends a
SASL failure with ``exc.condition``.  Whatever the *caller* gets wrong (calling ``accept``
before any data, accepting a discovery request, feeding data after the end) raises
:class:`~xmpp_oauth.errors.SaslLocalError`.  Ordinary outcomes are events, never
exceptions: ``Success``, ``Failure``.

Server states (``ServerState``)::

    state            input                          -> next state      output
    AWAIT_RESPONSE   receive_data(client-resp)      -> AWAIT_DECISION  InitialResponse
    AWAIT_RESPONSE   receive_data(anything else)    -> FAILED          raises SaslRemoteError
    AWAIT_DECISION   accept(jid)                    -> SUCCEEDED       Success(identity=jid)
    AWAIT_DECISION   reject(status=..., ...)        -> CHALLENGED      JSON challenge bytes
    AWAIT_DECISION   receive_data(...)              -> FAILED          raises SaslRemoteError
    CHALLENGED       receive_data(b"\\x01")          -> FAILED          Failure(condition)
    CHALLENGED       receive_data(anything else)    -> FAILED          raises SaslRemoteError
    any non-final    fail(condition) / abort()      -> FAILED          Failure
    SUCCEEDED/FAILED anything                       -> (unchanged)     raises SaslLocalError

Client states (``ClientState``)::

    INITIAL          initial_response(token, ...)   -> AWAIT_OUTCOME   client-resp bytes
    AWAIT_OUTCOME    receive_success(b"")           -> SUCCEEDED       Success()
    AWAIT_OUTCOME    receive_challenge(json)        -> CHALLENGED      ErrorChallenge (send .reply)
    AWAIT_OUTCOME/   receive_failure(condition)     -> FAILED          Failure
      CHALLENGED
    CHALLENGED       receive_success / _challenge   -> FAILED          raises SaslRemoteError
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Final

from xmpp_oauth.errors import BearerStatus, SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl.events import Failure, Success
from xmpp_oauth.sasl.gs2 import (
    KVSEP,
    MAX_MESSAGE_SIZE,
    format_bearer,
    format_client_response,
    parse_bearer,
    parse_client_response,
    parse_port,
)

MECHANISM: Final = "OAUTHBEARER"

# RFC 6749 §5.2 / Appendix A.7: error = 1*(%x20-21 / %x23-5B / %x5D-7E)
_ERROR_CHARS: Final = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


class ServerState(Enum):
    AWAIT_RESPONSE = auto()
    AWAIT_DECISION = auto()
    CHALLENGED = auto()
    SUCCEEDED = auto()
    FAILED = auto()


class ClientState(Enum):
    INITIAL = auto()
    AWAIT_OUTCOME = auto()
    CHALLENGED = auto()
    SUCCEEDED = auto()
    FAILED = auto()


@dataclass(frozen=True, slots=True)
class InitialResponse:
    """A well-formed RFC 7628 §3.1 client response, ready for token verification.

    ``token`` is ``""`` for a discovery request (RFC 7628 §4.3, XEP-0493): answer it with
    :meth:`OAuthBearerServer.reject`.  ``host``/``port`` are what the client says it
    connected to; RFC 7628 §3.2 says they MUST be checked against what the server knows
    by other means (the stream's ``to``) when both are available — the caller does that.
    ``kvpairs`` holds every pair in wire order, unknown keys included.
    """

    authzid: str | None
    token: str = field(repr=False)
    host: str | None
    port: int | None
    kvpairs: tuple[tuple[str, str], ...] = field(repr=False)
    cb_flag: str = "n"

    @property
    def is_discovery(self) -> bool:
        return self.token == ""


@dataclass(frozen=True, slots=True)
class ErrorChallenge:
    """The RFC 7628 §3.2.2 JSON error result, as sent by a server in a SASL challenge.

    The client MUST answer it with a single ``%x01`` (RFC 7628 §3.2.3): that is ``reply``.
    """

    status: str
    scope: str | None = None
    openid_configuration: str | None = None

    @property
    def reply(self) -> bytes:
        return KVSEP

    def encode(self) -> bytes:
        """Compact JSON with the RFC 7628 §3.2.2 member names."""
        body: dict[str, str] = {"status": self.status}
        if self.scope is not None:
            body["scope"] = self.scope
        if self.openid_configuration is not None:
            body["openid-configuration"] = self.openid_configuration
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> ErrorChallenge:
        """Parse a server's JSON error; raises SaslRemoteError when it is not one."""
        if len(data) > MAX_MESSAGE_SIZE:
            raise SaslRemoteError("error challenge too large")
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise SaslRemoteError("error challenge is not JSON") from None
        if not isinstance(body, dict):
            raise SaslRemoteError("error challenge is not a JSON object")
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise SaslRemoteError("error challenge without status")  # §3.2.2: REQUIRED
        scope = body.get("scope")
        oidc = body.get("openid-configuration")
        if not isinstance(scope, str | None) or not isinstance(oidc, str | None):
            raise SaslRemoteError("error challenge member is not a string")
        return cls(status, scope, oidc)


def _check_status(status: str) -> None:
    if not status or not set(status) <= _ERROR_CHARS:
        raise SaslLocalError(f"invalid RFC 6749 error code {status!r}")


# --- server -------------------------------------------------------------------------


class OAuthBearerServer:
    """Server side of one OAUTHBEARER exchange.  See the module docstring for the table."""

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.state = ServerState.AWAIT_RESPONSE
        self.response: InitialResponse | None = None
        self.challenge: ErrorChallenge | None = None
        self._max_size = max_size
        self._condition = SaslCondition.NOT_AUTHORIZED

    def _fail_remote(self, problem: str) -> SaslRemoteError:
        self.state = ServerState.FAILED
        return SaslRemoteError(problem)

    def _require(self, *states: ServerState) -> None:
        if self.state not in states:
            names = " or ".join(s.name for s in states)
            raise SaslLocalError(f"not allowed in state {self.state.name} (needs {names})")

    def receive_data(self, data: bytes) -> InitialResponse | Failure:
        """Feed one client message (already base64-decoded)."""
        if self.state is ServerState.AWAIT_RESPONSE:
            try:
                self.response = self._parse(data)
            except SaslRemoteError:
                self.state = ServerState.FAILED
                raise
            self.state = ServerState.AWAIT_DECISION
            return self.response
        if self.state is ServerState.CHALLENGED:
            # RFC 7628 §3.2.3: the client MUST answer the error with a single %x01.
            if data != KVSEP:
                raise self._fail_remote("expected %x01 after the error challenge")
            self.state = ServerState.FAILED
            return Failure(self._condition, "client acknowledged the error challenge")
        if self.state is ServerState.AWAIT_DECISION:
            # RFC 7628 §3: the exchange is lock-step; the client may not speak now.
            raise self._fail_remote("client message before the server answered")
        raise SaslLocalError(f"exchange already finished ({self.state.name})")

    def _parse(self, data: bytes) -> InitialResponse:
        if len(data) > self._max_size:
            raise SaslRemoteError(f"message larger than {self._max_size} bytes")
        if data == KVSEP:
            # RFC 7628 §3.1: a lone kvsep "is only valid" after an error; as the first
            # message the server MAY fail without discovery information.
            raise SaslRemoteError("lone %x01 as initial response")
        resp = parse_client_response(data, max_size=self._max_size)
        auth = resp.get("auth")
        if auth is None:
            raise SaslRemoteError("missing auth key")  # RFC 7628 §3.1: auth is REQUIRED
        token = parse_bearer(auth)
        port = resp.get("port")
        return InitialResponse(
            authzid=resp.gs2.authzid,
            token=token,
            host=resp.get("host"),
            port=None if port is None else parse_port(port),
            kvpairs=resp.kvpairs,
            cb_flag=resp.gs2.cb_flag,
        )

    def accept(self, jid: str) -> Success:
        """The caller verified the token; ``jid`` is its subject (the authenticated identity).

        Refuses (SaslLocalError) to accept a discovery request or an authzid that names
        someone else: DESIGN §5.1, the identity is always the token's subject, and an
        authzid that differs must be answered with ``reject(condition=INVALID_AUTHZID)``.
        """
        self._require(ServerState.AWAIT_DECISION)
        assert self.response is not None
        if not jid:
            raise SaslLocalError("accept() needs the token subject")
        if self.response.is_discovery:
            raise SaslLocalError("cannot accept a request without a token")
        authzid = self.response.authzid
        if authzid is not None and authzid.casefold() != jid.casefold():
            raise SaslLocalError("authzid differs from the token subject; reject instead")
        self.state = ServerState.SUCCEEDED
        return Success(identity=jid)

    def reject(
        self,
        *,
        status: BearerStatus | str = BearerStatus.INVALID_TOKEN,
        scope: str | None = None,
        openid_configuration: str | None = None,
        condition: SaslCondition = SaslCondition.NOT_AUTHORIZED,
    ) -> bytes:
        """Refuse the token: returns the RFC 7628 §3.2.2 JSON error challenge to send.

        ``condition`` is the RFC 6120 §6.5 condition of the ``Failure`` that follows the
        client's ``%x01`` (e.g. ``credentials-expired``, ``invalid-authzid``).
        """
        self._require(ServerState.AWAIT_DECISION)
        _check_status(str(status))
        self.challenge = ErrorChallenge(str(status), scope, openid_configuration)
        self._condition = SaslCondition(condition)
        self.state = ServerState.CHALLENGED
        return self.challenge.encode()

    def fail(self, condition: SaslCondition, reason: str = "") -> Failure:
        """Fail at once, without an error challenge (e.g. ``temporary-auth-failure``)."""
        self._require(
            ServerState.AWAIT_RESPONSE, ServerState.AWAIT_DECISION, ServerState.CHALLENGED
        )
        self.state = ServerState.FAILED
        return Failure(SaslCondition(condition), reason)

    def abort(self) -> Failure:
        """The client aborted (RFC 6120 §6.4.4, RFC 4422 §3.5)."""
        return self.fail(SaslCondition.ABORTED, "client aborted")


# --- client -------------------------------------------------------------------------


class OAuthBearerClient:
    """Client side of one OAUTHBEARER exchange.  See the module docstring for the table."""

    def __init__(self) -> None:
        self.state = ClientState.INITIAL
        self.challenge: ErrorChallenge | None = None

    def _require(self, *states: ClientState) -> None:
        if self.state not in states:
            names = " or ".join(s.name for s in states)
            raise SaslLocalError(f"not allowed in state {self.state.name} (needs {names})")

    def initial_response(
        self,
        token: str,
        authzid: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> bytes:
        """The RFC 7628 §3.1 initial client response; ``token=""`` asks for discovery."""
        self._require(ClientState.INITIAL)
        pairs: list[tuple[str, str]] = []
        if host is not None:
            pairs.append(("host", host))
        if port is not None:
            if not 0 < port < 65536:
                raise SaslLocalError("port out of range")
            pairs.append(("port", str(port)))
        pairs.append(("auth", format_bearer(token)))
        message = format_client_response(pairs, authzid=authzid or None)
        self.state = ClientState.AWAIT_OUTCOME
        return message

    def receive_challenge(self, data: bytes) -> ErrorChallenge:
        """A server challenge: in OAUTHBEARER always the §3.2.2 error.  Send ``.reply`` back."""
        self._check_remote_turn("challenge")
        try:
            self.challenge = ErrorChallenge.decode(data)
        except SaslRemoteError:
            self.state = ClientState.FAILED
            raise
        self.state = ClientState.CHALLENGED
        return self.challenge

    def receive_success(self, data: bytes = b"") -> Success:
        """The server's success outcome; OAUTHBEARER defines no additional data."""
        self._check_remote_turn("success")
        if data:
            self.state = ClientState.FAILED
            raise SaslRemoteError("unexpected additional data with success")
        self.state = ClientState.SUCCEEDED
        return Success()

    def receive_failure(self, condition: SaslCondition | str) -> Failure:
        """The server's failure outcome (after a challenge, or directly)."""
        self._require(ClientState.AWAIT_OUTCOME, ClientState.CHALLENGED)
        self.state = ClientState.FAILED
        try:
            return Failure(SaslCondition(condition))
        except ValueError:
            return Failure(SaslCondition.NOT_AUTHORIZED, f"unknown condition {condition!r}")

    def _check_remote_turn(self, what: str) -> None:
        if self.state is ClientState.CHALLENGED:
            # RFC 7628 §3.2.2: after the error result the server fails the exchange.
            self.state = ClientState.FAILED
            raise SaslRemoteError(f"{what} after the error challenge")
        self._require(ClientState.AWAIT_OUTCOME)


__all__ = [
    "MECHANISM",
    "ClientState",
    "ErrorChallenge",
    "InitialResponse",
    "OAuthBearerClient",
    "OAuthBearerServer",
    "ServerState",
]
