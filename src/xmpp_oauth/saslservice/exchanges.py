"""One SASL exchange per Dovecot request: RFC 7628 OAUTHBEARER, RFC 4616 PLAIN, RFC 5802/7677 SCRAM.

Theory of operation
-------------------
Sans-IO glue between the Dovecot request lines (:mod:`.protocol`) and the sans-IO mechanisms
of :mod:`xmpp_oauth.sasl`.  An exchange is created per ``AUTH`` and fed each client message
with :meth:`step` (``None`` when the client sent no initial response); every step returns one
*reply* at once, computed from memory:

    reply            Dovecot line                 meaning for the XMPP server
    Ok(user, data)   OK <id> user=<jid> [resp=]   <success/>, session bound to ``user``
    Challenge(data)  CONT <id> <b64>              <challenge/>
    Refuse(...)      FAIL <id> reason= [temp]     <failure/> (temp: temporary-auth-failure,
                     [authz]                      authz: invalid-authzid, else not-authorized)
    CheckPassword    (nothing yet)                PLAIN needs one PBKDF2 run: the caller runs
                                                  :meth:`PlainExchange.check` in a worker
                                                  thread, then :meth:`password_checked`

Rules enforced here:

* OAUTHBEARER: the identity is the token's subject, never the client's claim; an authzid
  naming anyone else fails with ``invalid-authzid`` (RFC 7628 §3.1, DESIGN §5.1).  Every
  refusal first sends the RFC 7628 §3.2.2 JSON error (with ``openid-configuration``, which is
  also the XEP-0493 discovery answer to an empty token) and fails after the client's ``%x01``
  (RFC 7628 §3.2.3).  The token must be for this listener's domain.
* PLAIN/SCRAM: only accounts of this listener's domain; an authzid must be empty or name the
  same account (RFC 4616 §2, RFC 5802 §5.1); failures are counted per account and, over the
  limit, refused at once with ``temp`` (no sleeping: the XMPP server waits on us).
* Anything unexpected becomes ``FAIL temp`` in the caller, never a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from ..accounts.local import normalize_jid
from ..clock import Clock
from ..errors import (
    AuthzidMismatchError,
    BearerStatus,
    InsufficientScopeError,
    InvalidTokenError,
    SaslCondition,
    SaslRemoteError,
    StoreError,
    sasl_condition,
)
from ..sasl.events import Failure, Success
from ..sasl.oauthbearer import OAuthBearerServer
from ..sasl.plain import parse_plain
from ..sasl.scram import SCRAM_MECHANISMS, ScramLookup, ScramServer, ScramServerState
from ..validate import Principal
from .accounts import AccountCache, AccountUnavailableError, FailureThrottle, PlainVerifier

log = logging.getLogger(__name__)

PASSWORD_MECHANISMS: Final = frozenset({"PLAIN", *SCRAM_MECHANISMS})
ALL_MECHANISMS: Final = ("OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")
#: Dovecot MECH flags (informational; Prosody reads only the names).
MECH_FLAGS: Final = {
    "PLAIN": ("plaintext",),
    "SCRAM-SHA-1": ("mutual-auth",),
    "SCRAM-SHA-256": ("mutual-auth",),
    "OAUTHBEARER": (),
}

#: ``token_check(token, authzid, domain, now) -> Principal`` (normally ``Validator.validate``).
TokenCheck = Callable[[str, "str | None", str, float], Principal]


@dataclass(frozen=True, slots=True)
class Ok:
    user: str
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str
    temp: bool = False
    authz: bool = False


@dataclass(frozen=True, slots=True)
class CheckPassword:
    jid: str
    record: str | None = field(repr=False)
    password: str = field(repr=False)


Reply = Ok | Challenge | Refuse | CheckPassword


@dataclass
class DomainContext:
    """What the exchanges of one listener (one XMPP domain) need."""

    domain: str
    token_check: TokenCheck
    openid_configuration: str
    clock: Clock
    accounts: AccountCache | None = None  # None: no local accounts, no password mechanisms
    throttle: FailureThrottle = field(default_factory=lambda: FailureThrottle(10))
    plain: PlainVerifier = field(default_factory=PlainVerifier)


class Exchange(Protocol):
    def step(self, data: bytes | None) -> Reply: ...


def _refuse_failure(failure: Failure) -> Refuse:
    return Refuse(
        failure.reason or str(failure.condition),
        temp=failure.condition is SaslCondition.TEMPORARY_AUTH_FAILURE,
        authz=failure.condition is SaslCondition.INVALID_AUTHZID,
    )


def account_jid(username: str, domain: str) -> str | None:
    """The bare JID a PLAIN/SCRAM username names on ``domain`` (``alice`` or
    ``alice@domain``), normalised like stored accounts; None if it is not one of ours."""
    local, at, host = username.rpartition("@")
    if not at:
        local, host = username, domain
    if host.lower() != domain:
        return None
    try:
        return normalize_jid(f"{local}@{domain}", (domain,))
    except ValueError:
        return None


# -- OAUTHBEARER -------------------------------------------------------------------------------


class OAuthBearerExchange:
    """RFC 7628 with the token checked by ``ctx.token_check``."""

    def __init__(self, ctx: DomainContext) -> None:
        self.ctx = ctx
        self.server = OAuthBearerServer()
        self.refusal = "invalid token"  # the FAIL text once the client acknowledged

    def _reject(self, status: BearerStatus, refusal: str, *, scope: str | None = None,
                condition: SaslCondition = SaslCondition.NOT_AUTHORIZED) -> Challenge:
        self.refusal = refusal
        # RFC 7628 §3.2.2: the error result carries the discovery URL (XEP-0493).
        return Challenge(self.server.reject(
            status=status, scope=scope, openid_configuration=self.ctx.openid_configuration,
            condition=condition,
        ))

    def step(self, data: bytes | None) -> Reply:
        if data is None:
            return Challenge(b"")  # RFC 4422 §3.3: an empty challenge asks for the response
        try:
            event = self.server.receive_data(data)
        except SaslRemoteError as exc:
            return Refuse(f"malformed request: {exc}")
        if isinstance(event, Failure):  # the client's %x01 after our error challenge
            return Refuse(self.refusal,
                          temp=event.condition is SaslCondition.TEMPORARY_AUTH_FAILURE,
                          authz=event.condition is SaslCondition.INVALID_AUTHZID)
        if event.is_discovery:
            return self._reject(BearerStatus.INVALID_TOKEN, "a token is required")
        try:
            principal = self.ctx.token_check(
                event.token, event.authzid, self.ctx.domain, self.ctx.clock.now()
            )
        except AuthzidMismatchError:
            return self._reject(BearerStatus.INVALID_TOKEN, "the token is for another account",
                                condition=SaslCondition.INVALID_AUTHZID)
        except InsufficientScopeError as exc:
            return self._reject(BearerStatus.INSUFFICIENT_SCOPE,
                                "the token does not allow XMPP logins", scope=exc.scope or None)
        except InvalidTokenError as exc:
            return self._reject(BearerStatus.INVALID_TOKEN, "invalid token",
                                condition=sasl_condition(exc))
        except StoreError as exc:
            return Refuse(f"store trouble: {exc.problem}", temp=True)
        if principal.jid.rpartition("@")[2].lower() != self.ctx.domain:
            # The validator was told the domain; this is a second lock on the same door.
            return self._reject(BearerStatus.INVALID_TOKEN, "invalid token")
        return Ok(self.server.accept(principal.jid).identity)


# -- password mechanisms -----------------------------------------------------------------------


def _lookup(ctx: DomainContext, jid: str | None, mechanism: str) -> str | None | Refuse:
    """The stored record for ``jid`` (None: no usable account) or a Refuse to send."""
    if jid is None:
        return None
    if ctx.throttle.blocked(jid, now=ctx.clock.now()):
        log.info("SASL %s for %s refused: too many recent failures", mechanism, jid)
        return Refuse("too many failures, try later", temp=True)
    if ctx.accounts is None:
        return None
    try:
        account = ctx.accounts.get(jid)
    except AccountUnavailableError as exc:
        return Refuse(str(exc), temp=True)
    if account is None or account.disabled:
        return None
    return account.record_for(mechanism) or None


class ScramExchange:
    """RFC 5802 / RFC 7677 against the account's stored keys (no password needed)."""

    def __init__(self, mechanism: str, ctx: DomainContext) -> None:
        self.ctx = ctx
        self.mechanism = mechanism
        self.server = ScramServer(mechanism, domain=ctx.domain)
        self.jid: str | None = None

    def step(self, data: bytes | None) -> Reply:
        if data is None:
            return Challenge(b"")
        first = self.server.state is ScramServerState.AWAIT_CLIENT_FIRST
        try:
            event = self.server.receive_data(data)
            if first and isinstance(event, ScramLookup):
                self.jid = account_jid(event.username, self.ctx.domain)
                record = _lookup(self.ctx, self.jid, self.mechanism)
                if isinstance(record, Refuse):
                    return record
                return Challenge(self.server.respond(record))
        except SaslRemoteError as exc:
            return Refuse(f"malformed request: {exc}")
        if isinstance(event, Success) and self.jid is not None:
            self.ctx.throttle.clear(self.jid)
            return Ok(self.jid, event.data)
        if isinstance(event, Failure):
            if self.jid is not None and event.condition is SaslCondition.NOT_AUTHORIZED:
                self.ctx.throttle.record(self.jid, now=self.ctx.clock.now())
            return _refuse_failure(event)
        return Refuse("unexpected SCRAM state")


class PlainExchange:
    """RFC 4616 checked against the stored SCRAM-SHA-256 key (never argon2 here)."""

    def __init__(self, ctx: DomainContext) -> None:
        self.ctx = ctx
        self.pending: CheckPassword | None = None

    def step(self, data: bytes | None) -> Reply:
        if data is None:
            return Challenge(b"")
        if self.pending is not None:
            return Refuse("PLAIN takes a single message")
        try:
            msg = parse_plain(data)
        except SaslRemoteError as exc:
            return Refuse(f"malformed request: {exc}")
        jid = account_jid(msg.authcid, self.ctx.domain)
        if msg.authzid is not None and (
            jid is None or msg.authzid.lower() not in {jid, msg.authcid.lower()}
        ):
            # RFC 4616 §2: acting as another identity is not offered.
            return Refuse("authzid is not the authenticated account", authz=True)
        record = _lookup(self.ctx, jid, "SCRAM-SHA-256")
        if isinstance(record, Refuse):
            return record
        if jid is not None and record is not None and self.ctx.plain.cached(
            jid, record, msg.password
        ):
            self.ctx.throttle.clear(jid)
            return Ok(jid)
        self.pending = CheckPassword(jid or "", record, msg.password)
        return self.pending

    def check(self) -> bool:
        """The slow part (one PBKDF2): thread-safe, run it in a worker thread."""
        assert self.pending is not None
        return self.ctx.plain.check(self.pending.record, self.pending.password)

    def password_checked(self, ok: bool) -> Reply:
        pending, self.pending = self.pending, None
        assert pending is not None
        if ok and pending.jid and pending.record is not None:
            self.ctx.plain.remember(pending.jid, pending.record, pending.password)
            self.ctx.throttle.clear(pending.jid)
            return Ok(pending.jid)
        if pending.jid:
            self.ctx.throttle.record(pending.jid, now=self.ctx.clock.now())
        return Refuse("invalid username or password")


def new_exchange(mechanism: str, ctx: DomainContext) -> Exchange | None:
    """An exchange for ``mechanism``, or None when it is not offered here."""
    if mechanism == "OAUTHBEARER":
        return OAuthBearerExchange(ctx)
    if ctx.accounts is None:
        return None
    if mechanism == "PLAIN":
        return PlainExchange(ctx)
    if mechanism in SCRAM_MECHANISMS:
        return ScramExchange(mechanism, ctx)
    return None


__all__ = [
    "ALL_MECHANISMS",
    "MECH_FLAGS",
    "PASSWORD_MECHANISMS",
    "Challenge",
    "CheckPassword",
    "DomainContext",
    "Exchange",
    "OAuthBearerExchange",
    "Ok",
    "PlainExchange",
    "Refuse",
    "Reply",
    "ScramExchange",
    "TokenCheck",
    "account_jid",
    "new_exchange",
]
