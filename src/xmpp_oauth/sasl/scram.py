"""RFC 5802 SCRAM-SHA-1 and RFC 7677 SCRAM-SHA-256, server side, over the ``scramp`` library.

Theory of operation
-------------------
All SCRAM arithmetic (Hi, HMAC, proofs, signatures, nonce and attribute checks) is done by
``scramp``; this module only drives it one message at a time, sans-IO, and adds what XMPP
needs around it:

* The stored keys are looked up *between* two calls, so the caller may await its store:
  :meth:`ScramServer.receive_data` returns a :class:`ScramLookup` event naming the user,
  and :meth:`ScramServer.respond` takes the record (or ``None``) and returns the
  server-first-message.
* An unknown user gets a deterministic fake salt and a normal-looking server-first-message,
  then ``not-authorized`` at the end: no ``e=unknown-user``, so SCRAM does not reveal which
  accounts exist (RFC 5802 §9 leaves this to the server).
* Channel binding is not offered: ``n`` and ``y`` are accepted, ``p=`` is refused as
  malformed (RFC 5802 §6: ``p`` is only for the ``-PLUS`` variants, which we never advertise).
* An authzid (RFC 5802 §5.1 ``a=``) must be empty, equal the username or equal
  ``username@domain``; anything else fails with ``invalid-authzid``.  ``scramp`` itself
  refuses any authzid, so the header is handed to it without one and the original header
  is put back for the ``c=`` check (RFC 5802 §7: ``c`` covers the whole gs2-header).

Server states (``ScramServerState``)::

    AWAIT_CLIENT_FIRST  receive_data(client-first)  -> AWAIT_RECORD        ScramLookup
    AWAIT_CLIENT_FIRST  receive_data(bad authzid)   -> FAILED       Failure(invalid-authzid)
    AWAIT_RECORD        respond(record | None)      -> AWAIT_CLIENT_FINAL  server-first bytes
    AWAIT_CLIENT_FINAL  receive_data(client-final)  -> SUCCEEDED    Success(data=server-final)
    AWAIT_CLIENT_FINAL  receive_data(wrong proof)   -> FAILED       Failure(not-authorized)
    any non-final       malformed/out-of-turn data  -> FAILED       raises SaslRemoteError

Stored records are strings ``"b64salt,b64stored_key,b64server_key,iterations"``
(:func:`make_scram_record`, :func:`parse_scram_record`).  :func:`check_plain_password`
verifies a PLAIN password against such a record (one PBKDF2 run, ~2 ms for 4096 rounds).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, Final

from scramp import ScramException, ScramMechanism
from scramp.utils import ServerError, saslprep

from xmpp_oauth.errors import SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl.events import Failure, Success
from xmpp_oauth.sasl.gs2 import Gs2Header, parse_gs2_header, unescape_saslname

#: Mechanisms this module serves, strongest last.  No -PLUS variants: no channel binding.
SCRAM_MECHANISMS: Final = ("SCRAM-SHA-1", "SCRAM-SHA-256")
DEFAULT_ITERATIONS: Final = 4096
MAX_MESSAGE_SIZE: Final = 8 * 1024

_DIGEST_SIZE: Final = {"SCRAM-SHA-1": 20, "SCRAM-SHA-256": 32}
# Fake salts for unknown users are stable for the life of the process.
_FAKE_SALT_KEY: Final = secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class ScramRecord:
    """Stored SCRAM keys of one account for one mechanism (RFC 5802 §3 StoredKey/ServerKey)."""

    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int

    def to_str(self) -> str:
        b64 = base64.b64encode
        parts = (b64(self.salt), b64(self.stored_key), b64(self.server_key))
        return ",".join(p.decode("ascii") for p in parts) + f",{self.iterations}"


def parse_scram_record(record: str) -> ScramRecord:
    """Parse ``"b64salt,b64stored,b64server,iterations"``; raises ValueError when broken."""
    parts = record.split(",")
    if len(parts) != 4 or not parts[3].isascii() or not parts[3].isdigit():
        raise ValueError("SCRAM record must be 'salt,stored_key,server_key,iterations'")
    try:
        salt, stored, server = (base64.b64decode(p, validate=True) for p in parts[:3])
    except binascii.Error:
        raise ValueError("SCRAM record has invalid base64") from None
    if not salt or len(stored) != len(server) or len(stored) not in _DIGEST_SIZE.values():
        raise ValueError("SCRAM record has inconsistent key sizes")
    return ScramRecord(salt, stored, server, int(parts[3]))


def _check_mechanism(mechanism: str) -> None:
    if mechanism not in _DIGEST_SIZE:
        raise SaslLocalError(f"unsupported SCRAM mechanism {mechanism!r}")


def make_scram_record(
    password: str, mechanism: str = "SCRAM-SHA-256", iterations: int = DEFAULT_ITERATIONS
) -> str:
    """Fresh salt + StoredKey + ServerKey for ``password``, serialised (scramp does the math).

    Raises ValueError when the password is refused by SASLprep (RFC 4013) or the iteration
    count is below scramp's floor of 4096.
    """
    _check_mechanism(mechanism)
    try:
        salt, stored, server, i = ScramMechanism(mechanism).make_auth_info(
            password, iteration_count=iterations
        )
    except ScramException as exc:
        raise ValueError(f"cannot make a SCRAM record: {exc}") from None
    return ScramRecord(bytes(salt), bytes(stored), bytes(server), int(i)).to_str()


def check_plain_password(
    record: str | ScramRecord, password: str, *, mechanism: str = "SCRAM-SHA-256"
) -> bool:
    """Whether ``password`` produces the record's StoredKey (constant-time comparison).

    Recomputes SaltedPassword with the record's salt and iteration count, exactly as a
    SCRAM client would (RFC 5802 §3), so PLAIN can be checked against SCRAM keys.
    A password SASLprep refuses is simply wrong.  A broken record raises ValueError.
    """
    _check_mechanism(mechanism)
    rec = parse_scram_record(record) if isinstance(record, str) else record
    if len(rec.stored_key) != _DIGEST_SIZE[mechanism]:
        raise ValueError(f"record is not a {mechanism} record")
    try:
        saslprep(password)
    except ScramException:
        return False
    try:
        _salt, stored, _server, _i = ScramMechanism(mechanism).make_auth_info(
            password, iteration_count=rec.iterations, salt=rec.salt
        )
    except ScramException as exc:
        raise ValueError(f"unusable SCRAM record: {exc}") from None
    return hmac.compare_digest(bytes(stored), rec.stored_key)


class ScramServerState(Enum):
    AWAIT_CLIENT_FIRST = auto()
    AWAIT_RECORD = auto()
    AWAIT_CLIENT_FINAL = auto()
    SUCCEEDED = auto()
    FAILED = auto()


@dataclass(frozen=True, slots=True)
class ScramLookup:
    """The server needs the stored record of ``username`` (SASLprepped, unescaped)."""

    username: str
    authzid: str | None


class _OriginalGs2Header:
    """Stands in for scramp's header object so ``c=`` is checked against what was sent."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def make_cbind_input(self, channel_binding: object) -> bytes:
        return self._raw


class ScramServer:
    """Server side of one SCRAM exchange.  See the module docstring for the table."""

    def __init__(
        self,
        mechanism: str = "SCRAM-SHA-256",
        *,
        domain: str | None = None,
        nonce: str | None = None,
    ) -> None:
        _check_mechanism(mechanism)
        self.mechanism = mechanism
        self.state = ScramServerState.AWAIT_CLIENT_FIRST
        self.username: str | None = None
        self._domain = domain
        self._nonce = nonce
        self._gs2: Gs2Header | None = None
        self._client_first = ""
        self._fake = False
        self._scramp: Any = None

    def _remote(self, problem: str) -> SaslRemoteError:
        self.state = ScramServerState.FAILED
        return SaslRemoteError(problem)

    def receive_data(self, data: bytes) -> ScramLookup | Success | Failure:
        """Feed the client-first-message, later the client-final-message."""
        if self.state is ScramServerState.AWAIT_CLIENT_FIRST:
            return self._client_first_message(data)
        if self.state is ScramServerState.AWAIT_CLIENT_FINAL:
            return self._client_final_message(data)
        if self.state is ScramServerState.AWAIT_RECORD:
            raise self._remote("client message before the server-first-message")
        raise SaslLocalError(f"exchange already finished ({self.state.name})")

    def _client_first_message(self, data: bytes) -> ScramLookup | Failure:
        if len(data) > MAX_MESSAGE_SIZE:
            raise self._remote("client-first-message too large")
        try:
            gs2, rest = parse_gs2_header(data)
            bare = rest.decode("utf-8")
        except SaslRemoteError:
            self.state = ScramServerState.FAILED
            raise
        except UnicodeDecodeError:
            raise self._remote("client-first-message is not UTF-8") from None
        # RFC 5802 §7: client-first-message-bare = [reserved-mext ","] username "," nonce ...
        # "m=" is refused (scramp refuses it too), so the username comes first.
        parts = bare.split(",")
        if len(parts) < 2 or not parts[0].startswith("n=") or not parts[1].startswith("r="):
            raise self._remote("client-first-message-bare must start with n=...,r=...")
        if len(parts[1]) == 2:
            raise self._remote("empty client nonce")
        try:
            username = saslprep(unescape_saslname(parts[0][2:].encode("utf-8")))
        except SaslRemoteError:
            self.state = ScramServerState.FAILED
            raise
        except ScramException:
            raise self._remote("username refused by SASLprep") from None
        if not username:
            raise self._remote("empty username")
        self.username, self._gs2 = username, gs2
        self._client_first = f"{gs2.cb_flag},,{bare}"
        if gs2.authzid is not None:
            allowed = {username.casefold()}
            if self._domain:
                allowed.add(f"{username}@{self._domain}".casefold())
            if gs2.authzid.casefold() not in allowed:
                self.state = ScramServerState.FAILED
                return Failure(SaslCondition.INVALID_AUTHZID, "authzid is not the username")
        self.state = ScramServerState.AWAIT_RECORD
        return ScramLookup(username, gs2.authzid)

    def respond(self, record: ScramRecord | str | None) -> bytes:
        """The server-first-message, given the user's record (``None`` for no such user).

        Raises SaslRemoteError if scramp finds fault with the client-first-message beyond
        what :meth:`receive_data` checked (e.g. a bad extension attribute).
        """
        if self.state is not ScramServerState.AWAIT_RECORD:
            raise SaslLocalError(f"respond() not allowed in state {self.state.name}")
        assert self.username is not None and self._gs2 is not None
        size = _DIGEST_SIZE[self.mechanism]
        if record is None:
            self._fake = True
            digest = hmac.new(
                _FAKE_SALT_KEY, f"{self.mechanism}\0{self.username}".encode(), hashlib.sha256
            ).digest()
            rec = ScramRecord(
                digest[:16],
                secrets.token_bytes(size),
                secrets.token_bytes(size),
                DEFAULT_ITERATIONS,
            )
        else:
            try:
                rec = parse_scram_record(record) if isinstance(record, str) else record
            except ValueError as exc:
                raise SaslLocalError(str(exc)) from None
            if len(rec.stored_key) != size:
                raise SaslLocalError(f"record is not a {self.mechanism} record")
        auth_info = (rec.salt, rec.stored_key, rec.server_key, rec.iterations)
        server = ScramMechanism(self.mechanism).make_server(
            lambda _username: auth_info, s_nonce=self._nonce
        )
        try:
            server.set_client_first(self._client_first)
            if self._gs2.authzid is not None:
                server.gs2_header = _OriginalGs2Header(self._gs2.raw)
            server_first = str(server.get_server_first())
        except ScramException as exc:
            raise self._remote(f"client-first-message refused: {exc}") from None
        self._scramp = server
        self.state = ScramServerState.AWAIT_CLIENT_FINAL
        return server_first.encode("utf-8")

    def _client_final_message(self, data: bytes) -> Success | Failure:
        if len(data) > MAX_MESSAGE_SIZE:
            raise self._remote("client-final-message too large")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._remote("client-final-message is not UTF-8") from None
        server = self._scramp
        try:
            server.set_client_final(text)
            server_final = str(server.get_server_final())
        except ScramException as exc:
            if exc.server_error is ServerError.INVALID_PROOF:
                self.state = ScramServerState.FAILED
                return Failure(SaslCondition.NOT_AUTHORIZED, "invalid client proof")
            raise self._remote(f"client-final-message refused: {exc}") from None
        if self._fake:  # unreachable in practice: the fake StoredKey is random
            self.state = ScramServerState.FAILED
            return Failure(SaslCondition.NOT_AUTHORIZED, "no such user")
        assert self.username is not None
        self.state = ScramServerState.SUCCEEDED
        return Success(identity=self.username, data=server_final.encode("utf-8"))

    def abort(self) -> Failure:
        """The client aborted (RFC 6120 §6.4.4)."""
        if self.state in (ScramServerState.SUCCEEDED, ScramServerState.FAILED):
            raise SaslLocalError(f"exchange already finished ({self.state.name})")
        self.state = ScramServerState.FAILED
        return Failure(SaslCondition.ABORTED, "client aborted")


__all__ = [
    "DEFAULT_ITERATIONS",
    "SCRAM_MECHANISMS",
    "ScramLookup",
    "ScramRecord",
    "ScramServer",
    "ScramServerState",
    "check_plain_password",
    "make_scram_record",
    "parse_scram_record",
]
