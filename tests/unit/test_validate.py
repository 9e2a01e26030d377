"""The validator: token -> Principal, or the one typed error per failure (DESIGN §3-5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from xmpp_oauth.errors import (
    AuthzidMismatchError,
    InsufficientScopeError,
    InvalidTokenError,
    SaslCondition,
    sasl_condition,
)
from xmpp_oauth.tokens.jwt import TokenService
from xmpp_oauth.tokens.keys import KeyRing, SigningKey
from xmpp_oauth.validate import (
    LOGIN_SCOPES,
    InMemoryRevocationSet,
    Principal,
    RevocationSet,
    Validator,
)

NOW = 1_800_000_000.0
ISSUER = "https://auth.example.org"


@pytest.fixture(scope="module")
def tokens() -> TokenService:
    return TokenService(KeyRing([SigningKey.generate(now=NOW)]), issuer=ISSUER)


@pytest.fixture
def revoked() -> InMemoryRevocationSet:
    return InMemoryRevocationSet()


@pytest.fixture
def validator(tokens: TokenService, revoked: InMemoryRevocationSet) -> Validator:
    return Validator(tokens, revoked, domains=["example.org", "Other.Example"])


def token(tokens: TokenService, **kw: Any) -> str:
    subject = kw.pop("subject", "alice@example.org")
    args: dict[str, Any] = {
        "subject": subject,
        "client_id": "client-1",
        "scopes": ["xmpp:client:normal"],
        "grant_id": "grant-1",
        "audience": [f"xmpp:{subject.rpartition('@')[2]}"],
        "auth_time": NOW,
        "ttl": 3600,
        "now": NOW,
    }
    args.update(kw)
    return tokens.issue_access_token(**args).token


def invalid(validator: Validator, tok: str, **kw: Any) -> str:
    with pytest.raises(InvalidTokenError) as info:
        validator.validate(tok, now=kw.pop("now", NOW), **kw)
    return info.value.reason


def test_valid_login(validator: Validator, tokens: TokenService) -> None:
    issued = tokens.issue_access_token(
        subject="alice@example.org", client_id="client-1", scopes=["xmpp:client:normal", "openid"],
        grant_id="grant-1", audience=["xmpp:example.org"], auth_time=NOW, ttl=600, now=NOW)
    principal = validator.validate(issued.token, now=NOW + 1)
    assert principal == Principal(
        jid="alice@example.org", client_id="client-1",
        scopes=frozenset({"xmpp:client:normal", "openid"}), grant_id="grant-1",
        expires_at=int(NOW) + 600, jti=issued.jti,
    )


def test_prosody_xmpp_scope_also_logs_in(validator: Validator, tokens: TokenService) -> None:
    assert validator.validate(token(tokens, scopes=["xmpp"]), now=NOW).scopes == {"xmpp"}


def test_openid_only_cannot_log_in(validator: Validator, tokens: TokenService) -> None:
    with pytest.raises(InsufficientScopeError) as info:
        validator.validate(token(tokens, scopes=["openid", "profile"]), now=NOW)
    assert info.value.scope == "xmpp xmpp:client:normal"
    assert sasl_condition(info.value) is SaslCondition.NOT_AUTHORIZED


def test_other_required_scopes(validator: Validator, tokens: TokenService) -> None:
    tok = token(tokens, scopes=["xmpp:account:read"])
    assert validator.validate(tok, required_scopes=frozenset({"xmpp:account:read"}), now=NOW)
    assert validator.validate(tok, required_scopes=frozenset(), now=NOW)
    with pytest.raises(InsufficientScopeError) as info:
        validator.validate(tok, required_scopes=frozenset({"xmpp:account:write"}), now=NOW)
    assert info.value.scope == "xmpp:account:write"


# -- authzid binding (RFC 7628 §3.1, DESIGN §5.1) ----------------------------------------------


@pytest.mark.parametrize("authzid", [None, "", "alice@example.org", "Alice@Example.ORG"])
def test_authzid_matching_subject(validator: Validator, tokens: TokenService,
                                  authzid: str | None) -> None:
    assert validator.validate(token(tokens), authzid=authzid, now=NOW).jid == "alice@example.org"


@pytest.mark.parametrize(
    "authzid", ["bob@example.org", "alice@other.example", "example.org", "alice@example.org/res",
                "alice"]
)
def test_authzid_naming_someone_else(validator: Validator, tokens: TokenService,
                                     authzid: str) -> None:
    with pytest.raises(AuthzidMismatchError) as info:
        validator.validate(token(tokens), authzid=authzid, now=NOW)
    assert sasl_condition(info.value) is SaslCondition.INVALID_AUTHZID


def test_identity_is_always_the_subject(validator: Validator, tokens: TokenService) -> None:
    principal = validator.validate(token(tokens, subject="bob@other.example"),
                                   authzid="BOB@other.example", now=NOW)
    assert principal.jid == "bob@other.example"


# -- revocation ------------------------------------------------------------------------------


def test_revoked_grant(validator: Validator, tokens: TokenService,
                       revoked: InMemoryRevocationSet) -> None:
    tok = token(tokens)
    revoked.add("grant-1")
    assert "grant-1" in revoked and len(revoked) == 1
    assert invalid(validator, tok) == "revoked"
    # Another grant of the same user is unaffected.
    assert validator.validate(token(tokens, grant_id="grant-2"), now=NOW).grant_id == "grant-2"
    revoked.discard("grant-1")
    assert validator.validate(tok, now=NOW).grant_id == "grant-1"


def test_revoked_beats_scope_and_authzid(validator: Validator, tokens: TokenService,
                                         revoked: InMemoryRevocationSet) -> None:
    revoked.add("grant-1")
    assert invalid(validator, token(tokens, scopes=["openid"]), authzid="bob@example.org") == (
        "revoked"
    )


def test_any_revocation_set_works(tokens: TokenService) -> None:
    class Everything:
        def is_revoked(self, grant_id: str) -> bool:
            return True

    checker: RevocationSet = Everything()
    assert invalid(Validator(tokens, checker, domains=["example.org"]), token(tokens)) == "revoked"


# -- domains and audience --------------------------------------------------------------------


def test_subject_on_a_domain_we_do_not_serve(validator: Validator, tokens: TokenService) -> None:
    assert invalid(validator, token(tokens, subject="eve@evil.example")) == "domain"


def test_login_on_another_served_domain(validator: Validator, tokens: TokenService) -> None:
    tok = token(tokens)
    assert validator.validate(tok, domain="example.org", now=NOW)
    assert validator.validate(tok, domain="EXAMPLE.org", now=NOW)
    assert invalid(validator, tok, domain="other.example") == "domain"


def test_domains_are_case_insensitive(validator: Validator, tokens: TokenService) -> None:
    tok = token(tokens, subject="carol@other.example")
    assert validator.validate(tok, domain="other.example", now=NOW).jid == "carol@other.example"


@pytest.mark.parametrize(
    "subject", ["example.org", "@example.org", "alice@", "alice@example.org/r"]
)
def test_subject_not_a_bare_jid(validator: Validator, tokens: TokenService, subject: str) -> None:
    tok = token(tokens, subject=subject, audience=["xmpp:example.org"])
    assert invalid(validator, tok) == "domain"


def test_audience_must_name_the_subjects_domain(validator: Validator, tokens: TokenService) -> None:
    wrong = token(tokens, audience=["xmpp:other.example"])
    assert invalid(validator, wrong) == "audience"
    web_only = token(tokens, audience=["https://api.example.org"])
    assert invalid(validator, web_only) == "audience"
    both = token(tokens, audience=["https://api.example.org", "xmpp:example.org"])
    assert validator.validate(both, now=NOW).jid == "alice@example.org"


# -- codec failures pass through with their reason ---------------------------------------------


def test_expired_maps_to_credentials_expired(validator: Validator, tokens: TokenService) -> None:
    with pytest.raises(InvalidTokenError) as info:
        validator.validate(token(tokens, ttl=60), now=NOW + 3600)
    assert info.value.reason == "expired"
    assert sasl_condition(info.value) is SaslCondition.CREDENTIALS_EXPIRED


def test_foreign_token(validator: Validator) -> None:
    other = TokenService(KeyRing([SigningKey.generate(now=NOW)]), issuer=ISSUER)
    assert invalid(validator, token(other)) == "unknown_key"
    assert invalid(validator, "not a token") == "malformed"


def test_login_scopes_constant() -> None:
    assert frozenset({"xmpp:client:normal", "xmpp"}) == LOGIN_SCOPES


def test_tokens_never_reach_the_log(validator: Validator, tokens: TokenService,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    tok = token(tokens, scopes=["openid"])
    with pytest.raises(InsufficientScopeError):
        validator.validate(tok, now=NOW)
    with pytest.raises(AuthzidMismatchError):
        validator.validate(token(tokens), authzid="bob@example.org", now=NOW)
    assert caplog.records
    assert all(tok.split(".")[2] not in r.getMessage() for r in caplog.records)
    assert all(".ey" not in r.getMessage() for r in caplog.records)
