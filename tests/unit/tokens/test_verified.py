"""The verified-token cache answers "yes" only where full verification would, on every use."""

from __future__ import annotations

import pytest

from xmpp_oauth.errors import AuthzidMismatchError, InvalidTokenError
from xmpp_oauth.tokens.jwt import TokenService
from xmpp_oauth.tokens.keys import KeyRing, SigningKey
from xmpp_oauth.tokens.verified import VerifiedTokens
from xmpp_oauth.validate import InMemoryRevocationSet, Validator

NOW = 1_800_000_000.0


@pytest.fixture
def parts() -> tuple[TokenService, InMemoryRevocationSet, Validator]:
    tokens = TokenService(KeyRing([SigningKey.generate(now=NOW)]), issuer="https://a.example")
    revoked = InMemoryRevocationSet()
    return tokens, revoked, Validator(tokens, revoked, domains=["localhost", "other.localhost"])


def issue(tokens: TokenService, *, subject: str = "alice@localhost", grant: str = "g1",
          ttl: int = 600, now: float = NOW) -> str:
    return tokens.issue_access_token(
        subject=subject, client_id="c", scopes=("xmpp",), grant_id=grant,
        audience=[f"xmpp:{subject.rpartition('@')[2]}"], auth_time=now, ttl=ttl, now=now,
    ).token


def test_reuse_is_a_hit_and_every_dynamic_check_still_runs(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, revoked, validator = parts
    token = issue(tokens)
    assert validator.validate(token, domain="localhost", now=NOW).jid == "alice@localhost"
    assert validator.validate(token, authzid="ALICE@localhost", domain="localhost",
                              now=NOW + 1).jid == "alice@localhost"
    assert (tokens.verified.hits, tokens.verified.misses) == (1, 1)
    with pytest.raises(AuthzidMismatchError):
        validator.validate(token, authzid="bob@localhost", domain="localhost", now=NOW + 2)
    with pytest.raises(InvalidTokenError) as err:
        validator.validate(token, domain="other.localhost", now=NOW + 2)
    assert err.value.reason == "domain"
    with pytest.raises(InvalidTokenError) as err:
        tokens.verify_access_token(token, audience="xmpp:other.localhost", now=NOW + 2)
    assert err.value.reason == "audience"
    revoked.add("g1")
    with pytest.raises(InvalidTokenError) as err:
        validator.validate(token, domain="localhost", now=NOW + 3)
    assert err.value.reason == "revoked"
    revoked.discard("g1")
    hits = tokens.verified.hits
    with pytest.raises(InvalidTokenError) as err:
        validator.validate(token, domain="localhost", now=NOW + 600 + 31)  # past exp + leeway
    assert err.value.reason == "expired"
    assert tokens.verified.hits == hits


def test_time_rules_are_the_verifiers_own(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, _ = parts
    token = issue(tokens, ttl=60)
    tokens.verify_access_token(token, audience=None, now=NOW)
    hits = tokens.verified.hits
    tokens.verify_access_token(token, audience=None, now=NOW + 60 + 29)  # within the leeway
    assert tokens.verified.hits == hits + 1
    # A clock stepped back: the token is not yet valid again, cached or not.
    future = issue(tokens, now=NOW + 100)
    tokens.verify_access_token(future, audience=None, now=NOW + 100)
    with pytest.raises(InvalidTokenError) as err:
        tokens.verify_access_token(future, audience=None, now=NOW)
    assert err.value.reason == "not_yet_valid"


def test_size_is_bounded_and_new_keys_clear_it(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, _ = parts
    small = TokenService(tokens.keyring, issuer="https://a.example", verified_cache_size=3)
    issued = [issue(tokens, grant=f"g{i}") for i in range(5)]
    for token in issued:
        small.verify_access_token(token, audience=None, now=NOW)
    assert len(small.verified) == 3
    # A rotation elsewhere, reloaded, that dropped the old key: its tokens stop verifying
    # at once, cached or not.
    small.keyring = KeyRing([SigningKey.generate(now=NOW)])
    assert len(small.verified) == 0
    with pytest.raises(InvalidTokenError) as err:
        small.verify_access_token(issued[-1], audience=None, now=NOW)
    assert err.value.reason == "unknown_key"


def test_forged_token_with_a_cached_tokens_claims_is_not_a_hit(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, _ = parts
    token = issue(tokens)
    tokens.verify_access_token(token, audience=None, now=NOW)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(InvalidTokenError):
        tokens.verify_access_token(forged, audience=None, now=NOW)
    assert tokens.verified.hits == 0


def test_a_zero_sized_cache_keeps_nothing() -> None:
    tokens = TokenService(KeyRing([SigningKey.generate(now=NOW)]), issuer="https://a.example",
                          verified_cache_size=0)
    token = issue(tokens)
    tokens.verify_access_token(token, audience=None, now=NOW)
    tokens.verify_access_token(token, audience=None, now=NOW)
    assert len(tokens.verified) == 0 and tokens.verified.hits == 0
    with pytest.raises(ValueError):
        VerifiedTokens(-1)


def test_reloading_the_same_keys_keeps_the_cache_and_a_retirement_clears_it(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, _ = parts
    token = issue(tokens)
    tokens.verify_access_token(token, audience=None, now=NOW)
    key = tokens.keyring.active
    tokens.keyring = KeyRing([key])  # the minute's reload: a new ring, the same key
    assert len(tokens.verified) == 1
    tokens.verify_access_token(token, audience=None, now=NOW)
    assert tokens.verified.hits == 1
    newer = SigningKey.generate(now=NOW + 1)
    tokens.keyring = KeyRing([key.retired(NOW + 1), newer])
    assert len(tokens.verified) == 0
    assert tokens.verify_access_token(token, audience=None, now=NOW + 2).sub == "alice@localhost"
