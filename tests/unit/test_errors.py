"""errors.py: the hierarchy, the wire table (DESIGN §7.3) and its completeness."""

from __future__ import annotations

import pytest

from xmpp_oauth import errors
from xmpp_oauth.errors import (
    WIRE_TABLE,
    AuthzidMismatchError,
    BearerStatus,
    ErrorCode,
    InsufficientScopeError,
    InvalidClientError,
    InvalidTokenError,
    OAuthError,
    SaslCondition,
    SaslError,
    SaslRemoteError,
    StoreError,
    XmppOAuthError,
    sasl_condition,
    wire_mapping,
)

ABSTRACT = {XmppOAuthError, OAuthError, SaslError}


def all_subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                stack.append(sub)
    return out


CONCRETE = sorted(
    (c for c in all_subclasses(XmppOAuthError) if c not in ABSTRACT
     and c.__module__ == errors.__name__),
    key=lambda c: c.__name__,
)
OAUTH = [c for c in CONCRETE if issubclass(c, OAuthError)]


def instance(cls: type) -> XmppOAuthError:
    if cls is InvalidTokenError:
        return InvalidTokenError("signature")
    if cls in (errors.ConfigError, StoreError):
        return cls("key", "problem")  # type: ignore[no-any-return]
    return cls("description")  # type: ignore[no-any-return]


def test_there_are_concrete_classes() -> None:
    assert len(CONCRETE) > 20 and len(OAUTH) > 15


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_wire_table_is_total(cls: type) -> None:
    assert cls in WIRE_TABLE, f"{cls.__name__} has no wire mapping"
    mapping = wire_mapping(instance(cls))
    assert isinstance(mapping.sasl_condition, SaslCondition)
    # HTTP error and status appear together or not at all.
    assert (mapping.oauth_error is None) == (mapping.http_status is None)


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_every_concrete_class_is_exported(cls: type) -> None:
    assert cls.__name__ in errors.__all__


@pytest.mark.parametrize("cls", OAUTH, ids=lambda c: c.__name__)
def test_every_oauth_error_has_code_and_status(cls: type[OAuthError]) -> None:
    assert isinstance(cls.error, ErrorCode)
    assert isinstance(cls.status, int) and 400 <= cls.status < 600
    exc = instance(cls)
    assert isinstance(exc, OAuthError)
    assert exc.body()["error"] == cls.error.value
    assert exc.body()["error_description"] == "description"
    mapping = WIRE_TABLE[cls]
    assert mapping.oauth_error is cls.error and mapping.http_status == cls.status


def test_oauth_body_without_description() -> None:
    assert InvalidClientError().body() == {"error": "invalid_client"}


@pytest.mark.parametrize(
    "cls", sorted(ABSTRACT, key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_abstract_classes_cannot_be_raised(cls: type) -> None:
    with pytest.raises(TypeError):
        cls("x")


def test_expired_token_means_credentials_expired() -> None:
    # RFC 6120 §6.5.2: an expired token tells the client to refresh, not to ask the user.
    assert sasl_condition(InvalidTokenError("expired")) is SaslCondition.CREDENTIALS_EXPIRED
    for reason in sorted(InvalidTokenError.REASONS - {"expired"}):
        assert sasl_condition(InvalidTokenError(reason)) is SaslCondition.NOT_AUTHORIZED
    expired = wire_mapping(InvalidTokenError("expired"))
    assert expired.oauth_error is ErrorCode.INVALID_TOKEN and expired.http_status == 401
    assert expired.bearer_status is BearerStatus.INVALID_TOKEN


def test_design_table_rows() -> None:
    """The rows of DESIGN §7.3, one by one."""
    other = wire_mapping(InvalidTokenError("signature"))
    assert (other.oauth_error, other.http_status, other.bearer_status) == (
        ErrorCode.INVALID_TOKEN, 401, BearerStatus.INVALID_TOKEN)
    scope = wire_mapping(InsufficientScopeError(scope="xmpp"))
    assert (scope.oauth_error, scope.http_status, scope.bearer_status, scope.sasl_condition) == (
        ErrorCode.INSUFFICIENT_SCOPE, 403, BearerStatus.INSUFFICIENT_SCOPE,
        SaslCondition.NOT_AUTHORIZED)
    authzid = wire_mapping(AuthzidMismatchError())
    assert (authzid.oauth_error, authzid.bearer_status, authzid.sasl_condition) == (
        None, BearerStatus.INVALID_TOKEN, SaslCondition.INVALID_AUTHZID)
    remote = wire_mapping(SaslRemoteError("bad gs2 header"))
    assert (remote.bearer_status, remote.sasl_condition) == (None, SaslCondition.MALFORMED_REQUEST)
    store = wire_mapping(StoreError("sqlite", "locked"))
    assert (store.oauth_error, store.http_status, store.sasl_condition) == (
        ErrorCode.TEMPORARILY_UNAVAILABLE, 503, SaslCondition.TEMPORARY_AUTH_FAILURE)
    disabled = wire_mapping(errors.AccountDisabledError())
    assert (disabled.oauth_error, disabled.http_status, disabled.sasl_condition) == (
        ErrorCode.INVALID_GRANT, 400, SaslCondition.ACCOUNT_DISABLED)


def test_invalid_token_reasons() -> None:
    exc = InvalidTokenError("revoked")
    assert exc.reason == "revoked" and "revoked" in str(exc)
    with pytest.raises(ValueError):
        InvalidTokenError("because")


def test_config_error_names_the_key() -> None:
    exc = errors.ConfigError("http.port", "must be 0-65535")
    assert str(exc).startswith("http.port: ") and exc.key == "http.port"


def test_insufficient_scope_carries_scope() -> None:
    exc = InsufficientScopeError("nope", scope="xmpp:client:normal")
    assert exc.scope == "xmpp:client:normal" and exc.description == "nope"


def test_sasl_errors_carry_a_condition() -> None:
    exc = SaslRemoteError("too long")
    assert exc.condition is SaslCondition.MALFORMED_REQUEST
    exc2 = errors.SaslLocalError("misuse", SaslCondition.TEMPORARY_AUTH_FAILURE)
    assert exc2.condition is SaslCondition.TEMPORARY_AUTH_FAILURE
