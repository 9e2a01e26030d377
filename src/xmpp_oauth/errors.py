"""One exception hierarchy for the whole product, and its wire mappings.

Every failure a client can cause is one of these classes.  Each class knows how it
looks on each wire it can reach:

* OAuth HTTP endpoints: ``error`` code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
  RFC 7591 §3.2.2, OIDC Core §3.1.2.6) and HTTP status;
* SASL OAUTHBEARER: the RFC 7628 §3.2.2 ``status`` of the JSON error challenge;
* XMPP SASL: the RFC 6120 §6.5 failure condition.

``WIRE_TABLE`` is the single mapping table; ``tests/unit/test_errors.py`` proves it total.

Hierarchy::

    XmppOAuthError                  base; never raised directly
    ├─ ConfigError                  bad settings; message names the key
    ├─ StoreError                   persistence failure (503 / temporary-auth-failure)
    ├─ InvalidTokenError(reason)    opaque token failure; ``reason`` is for logs only
    ├─ AuthzidMismatchError         SASL authzid names someone other than the token subject
    ├─ AccountDisabledError         the account exists but may not log in
    ├─ InvalidCredentialsError      wrong username/password (never says which)
    ├─ OAuthError                   one subclass per RFC error code
    └─ SaslError(condition)         sans-IO SASL layer
        ├─ SaslLocalError           the caller misused the state machine (a bug)
        └─ SaslRemoteError          the peer sent something malformed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final


class ErrorCode(StrEnum):
    """OAuth / OIDC ``error`` values."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
    INVALID_SCOPE = "invalid_scope"
    ACCESS_DENIED = "access_denied"
    SERVER_ERROR = "server_error"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    INVALID_TOKEN = "invalid_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"
    INVALID_REDIRECT_URI = "invalid_redirect_uri"
    INVALID_CLIENT_METADATA = "invalid_client_metadata"
    LOGIN_REQUIRED = "login_required"
    CONSENT_REQUIRED = "consent_required"
    INTERACTION_REQUIRED = "interaction_required"
    ACCOUNT_SELECTION_REQUIRED = "account_selection_required"
    # RFC 8628 §3.5
    AUTHORIZATION_PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    EXPIRED_TOKEN = "expired_token"
    # RFC 8707 §2
    INVALID_TARGET = "invalid_target"


class SaslCondition(StrEnum):
    """RFC 6120 §6.5 SASL failure conditions."""

    ABORTED = "aborted"
    ACCOUNT_DISABLED = "account-disabled"
    CREDENTIALS_EXPIRED = "credentials-expired"
    ENCRYPTION_REQUIRED = "encryption-required"
    INCORRECT_ENCODING = "incorrect-encoding"
    INVALID_AUTHZID = "invalid-authzid"
    INVALID_MECHANISM = "invalid-mechanism"
    MALFORMED_REQUEST = "malformed-request"
    MECHANISM_TOO_WEAK = "mechanism-too-weak"
    NOT_AUTHORIZED = "not-authorized"
    TEMPORARY_AUTH_FAILURE = "temporary-auth-failure"


class BearerStatus(StrEnum):
    """RFC 7628 §3.2.2 ``status`` values (the RFC 6750 §3.1 error codes)."""

    INVALID_TOKEN = "invalid_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    INVALID_REQUEST = "invalid_request"


class XmppOAuthError(Exception):
    """Base of every error this product raises on purpose."""

    def __new__(cls, *args: object, **kwargs: object) -> XmppOAuthError:
        # Only concrete subclasses carry a meaning on some wire (h11's ProtocolError trick).
        if cls is XmppOAuthError or cls is OAuthError or cls is SaslError:
            raise TypeError(f"{cls.__name__} is abstract; raise a subclass")
        return super().__new__(cls)


class ConfigError(XmppOAuthError):
    """Invalid settings.  The message starts with the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class StoreError(XmppOAuthError):
    """The store could not do its job (unreachable, corrupt, read-only, ...)."""

    def __init__(self, store: str, problem: str) -> None:
        super().__init__(f"{store}: {problem}")
        self.store = store
        self.problem = problem


class InvalidTokenError(XmppOAuthError):
    """A token failed verification.

    Deliberately opaque towards peers (like Fernet's ``InvalidToken``): ``reason`` is one of
    ``expired``, ``not_yet_valid``, ``signature``, ``audience``, ``issuer``, ``revoked``,
    ``malformed``, ``unknown_key``, ``type`` and goes to logs only.
    """

    REASONS: ClassVar[frozenset[str]] = frozenset(
        {
            "expired",
            "not_yet_valid",
            "signature",
            "audience",
            "issuer",
            "revoked",
            "malformed",
            "unknown_key",
            "type",
            "domain",
        }
    )

    def __init__(self, reason: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown token failure reason {reason!r}")
        super().__init__(f"invalid token ({reason})")
        self.reason = reason


class AuthzidMismatchError(XmppOAuthError):
    """RFC 7628 §3.1 / DESIGN §5.1: the requested authzid is not the token's subject."""


class AccountDisabledError(XmppOAuthError):
    """The account exists but is disabled."""


class InvalidCredentialsError(XmppOAuthError):
    """Username or password wrong; which one is never said (no account enumeration)."""


class OAuthError(XmppOAuthError):
    """An OAuth protocol error.  Subclasses fix ``error`` and ``status``.

    ``redirect_uri`` is set only once the redirect URI was validated (RFC 6749 §4.1.2.1):
    then the error may travel back to the client by redirect, otherwise it is shown as a page.
    """

    error: ClassVar[ErrorCode]
    status: ClassVar[int] = 400

    def __init__(
        self,
        description: str = "",
        *,
        state: str | None = None,
        redirect_uri: str | None = None,
        response_mode: str = "query",
        www_authenticate: str | None = None,
    ) -> None:
        super().__init__(description or self.error.value)
        self.description = description
        self.state = state
        self.redirect_uri = redirect_uri
        self.response_mode = response_mode
        self.www_authenticate = www_authenticate

    def body(self) -> dict[str, str]:
        """RFC 6749 §5.2 JSON error body."""
        out = {"error": self.error.value}
        if self.description:
            out["error_description"] = self.description
        return out



class InvalidRequestError(OAuthError):
    """RFC 6749 §5.2 invalid_request."""

    error = ErrorCode.INVALID_REQUEST


class InvalidClientError(OAuthError):
    """RFC 6749 §5.2 invalid_client: 401 with a ``WWW-Authenticate`` challenge."""

    error = ErrorCode.INVALID_CLIENT
    status = 401


class InvalidGrantError(OAuthError):
    """RFC 6749 §5.2 invalid_grant."""

    error = ErrorCode.INVALID_GRANT


class UnauthorizedClientError(OAuthError):
    """RFC 6749 §5.2 unauthorized_client."""

    error = ErrorCode.UNAUTHORIZED_CLIENT


class UnsupportedGrantTypeError(OAuthError):
    """RFC 6749 §5.2 unsupported_grant_type."""

    error = ErrorCode.UNSUPPORTED_GRANT_TYPE


class UnsupportedResponseTypeError(OAuthError):
    """RFC 6749 §4.1.2.1 unsupported_response_type."""

    error = ErrorCode.UNSUPPORTED_RESPONSE_TYPE


class InvalidScopeError(OAuthError):
    """RFC 6749 §5.2 invalid_scope."""

    error = ErrorCode.INVALID_SCOPE


class AccessDeniedError(OAuthError):
    """RFC 6749 §4.1.2.1 / RFC 8628 §3.5 access_denied."""

    error = ErrorCode.ACCESS_DENIED
    status = 403


class InvalidBearerTokenError(OAuthError):
    """RFC 6750 §3.1 invalid_token at a resource endpoint (userinfo)."""

    error = ErrorCode.INVALID_TOKEN
    status = 401


class InsufficientScopeError(OAuthError):
    """RFC 6750 §3.1 insufficient_scope."""

    error = ErrorCode.INSUFFICIENT_SCOPE
    status = 403

    def __init__(self, description: str = "", *, scope: str = "", **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.scope = scope


class UnsupportedTokenTypeError(OAuthError):
    """RFC 7009 §2.2.1 unsupported_token_type."""

    error = ErrorCode.UNSUPPORTED_TOKEN_TYPE


class InvalidTargetError(OAuthError):
    """RFC 8707 §2 invalid_target: a resource indicator this server does not serve."""

    error = ErrorCode.INVALID_TARGET


class InvalidRedirectUriError(OAuthError):
    """RFC 7591 §3.2.2 invalid_redirect_uri."""

    error = ErrorCode.INVALID_REDIRECT_URI


class InvalidClientMetadataError(OAuthError):
    """RFC 7591 §3.2.2 invalid_client_metadata."""

    error = ErrorCode.INVALID_CLIENT_METADATA


class LoginRequiredError(OAuthError):
    """OIDC Core §3.1.2.6 login_required (prompt=none without a session)."""

    error = ErrorCode.LOGIN_REQUIRED


class ConsentRequiredError(OAuthError):
    """OIDC Core §3.1.2.6 consent_required."""

    error = ErrorCode.CONSENT_REQUIRED


class InteractionRequiredError(OAuthError):
    """OIDC Core §3.1.2.6 interaction_required."""

    error = ErrorCode.INTERACTION_REQUIRED


class AccountSelectionRequiredError(OAuthError):
    """OIDC Core §3.1.2.6 account_selection_required."""

    error = ErrorCode.ACCOUNT_SELECTION_REQUIRED


class AuthorizationPendingError(OAuthError):
    """RFC 8628 §3.5 authorization_pending."""

    error = ErrorCode.AUTHORIZATION_PENDING


class SlowDownError(OAuthError):
    """RFC 8628 §3.5 slow_down."""

    error = ErrorCode.SLOW_DOWN


class ExpiredTokenError(OAuthError):
    """RFC 8628 §3.5 expired_token (the device code expired)."""

    error = ErrorCode.EXPIRED_TOKEN


class ServerError(OAuthError):
    """RFC 6749 §4.1.2.1 server_error; details go to the log only."""

    error = ErrorCode.SERVER_ERROR
    status = 500


class TemporarilyUnavailableError(OAuthError):
    """RFC 6749 §4.1.2.1 temporarily_unavailable."""

    error = ErrorCode.TEMPORARILY_UNAVAILABLE
    status = 503


class SaslError(XmppOAuthError):
    """Base of the sans-IO SASL errors; carries the RFC 6120 condition."""

    def __init__(self, message: str, condition: SaslCondition = SaslCondition.MALFORMED_REQUEST):
        super().__init__(message)
        self.condition = condition


class SaslLocalError(SaslError):
    """The local caller misused a SASL state machine (a bug in our code)."""


class SaslRemoteError(SaslError):
    """The peer sent a malformed or oversized message."""


@dataclass(frozen=True, slots=True)
class WireMapping:
    """How one error class appears on each wire; ``None`` where it cannot appear."""

    oauth_error: ErrorCode | None
    http_status: int | None
    bearer_status: BearerStatus | None
    sasl_condition: SaslCondition


_INVALID_TOKEN_WIRE: Final = WireMapping(
    ErrorCode.INVALID_TOKEN, 401, BearerStatus.INVALID_TOKEN, SaslCondition.NOT_AUTHORIZED
)

#: The single mapping table (DESIGN §7.3).  Exhaustive over the concrete classes above.
WIRE_TABLE: Final[dict[type[XmppOAuthError], WireMapping]] = {
    ConfigError: WireMapping(
        ErrorCode.SERVER_ERROR, 500, None, SaslCondition.TEMPORARY_AUTH_FAILURE
    ),
    StoreError: WireMapping(
        ErrorCode.TEMPORARILY_UNAVAILABLE, 503, None, SaslCondition.TEMPORARY_AUTH_FAILURE
    ),
    InvalidTokenError: _INVALID_TOKEN_WIRE,
    AuthzidMismatchError: WireMapping(
        None, None, BearerStatus.INVALID_TOKEN, SaslCondition.INVALID_AUTHZID
    ),
    AccountDisabledError: WireMapping(
        ErrorCode.INVALID_GRANT, 400, None, SaslCondition.ACCOUNT_DISABLED
    ),
    InvalidCredentialsError: WireMapping(
        ErrorCode.INVALID_GRANT, 400, None, SaslCondition.NOT_AUTHORIZED
    ),
    SaslLocalError: WireMapping(None, None, None, SaslCondition.TEMPORARY_AUTH_FAILURE),
    SaslRemoteError: WireMapping(None, None, None, SaslCondition.MALFORMED_REQUEST),
    InsufficientScopeError: WireMapping(
        ErrorCode.INSUFFICIENT_SCOPE,
        403,
        BearerStatus.INSUFFICIENT_SCOPE,
        SaslCondition.NOT_AUTHORIZED,
    ),
    InvalidBearerTokenError: _INVALID_TOKEN_WIRE,
}


def _register_oauth_classes() -> None:
    for cls in _concrete_oauth_classes():
        if cls not in WIRE_TABLE:
            bearer = BearerStatus.INVALID_REQUEST if cls is InvalidRequestError else None
            sasl = (
                SaslCondition.TEMPORARY_AUTH_FAILURE
                if cls.status >= 500
                else SaslCondition.NOT_AUTHORIZED
            )
            WIRE_TABLE[cls] = WireMapping(cls.error, cls.status, bearer, sasl)


def _concrete_oauth_classes() -> list[type[OAuthError]]:
    out: list[type[OAuthError]] = []
    stack: list[type[OAuthError]] = list(OAuthError.__subclasses__())
    while stack:
        cls = stack.pop()
        out.append(cls)
        stack.extend(cls.__subclasses__())
    return out


_register_oauth_classes()


def wire_mapping(exc: XmppOAuthError) -> WireMapping:
    """The wire mapping for an error instance (most specific class first)."""
    for cls in type(exc).__mro__:
        if cls in WIRE_TABLE:
            mapping = WIRE_TABLE[cls]  # type: ignore[index]
            if isinstance(exc, InvalidTokenError) and exc.reason == "expired":
                # RFC 6120 §6.5.2: credentials-expired tells the client to refresh, not re-ask.
                return WireMapping(
                    mapping.oauth_error,
                    mapping.http_status,
                    mapping.bearer_status,
                    SaslCondition.CREDENTIALS_EXPIRED,
                )
            return mapping
    raise KeyError(type(exc).__name__)


def sasl_condition(exc: XmppOAuthError) -> SaslCondition:
    """RFC 6120 §6.5 condition for an error."""
    return wire_mapping(exc).sasl_condition


__all__ = [
    "AccessDeniedError",
    "AccountDisabledError",
    "AccountSelectionRequiredError",
    "AuthorizationPendingError",
    "AuthzidMismatchError",
    "BearerStatus",
    "ConfigError",
    "ConsentRequiredError",
    "ErrorCode",
    "ExpiredTokenError",
    "InsufficientScopeError",
    "InteractionRequiredError",
    "InvalidBearerTokenError",
    "InvalidClientError",
    "InvalidClientMetadataError",
    "InvalidCredentialsError",
    "InvalidGrantError",
    "InvalidRedirectUriError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTargetError",
    "InvalidTokenError",
    "LoginRequiredError",
    "OAuthError",
    "SaslCondition",
    "SaslError",
    "SaslLocalError",
    "SaslRemoteError",
    "ServerError",
    "SlowDownError",
    "StoreError",
    "TemporarilyUnavailableError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "UnsupportedResponseTypeError",
    "UnsupportedTokenTypeError",
    "WIRE_TABLE",
    "WireMapping",
    "XmppOAuthError",
    "sasl_condition",
    "wire_mapping",
]
