"""The verified-token cache answers "yes" only where the validator would, on every login."""

from __future__ import annotations

import pytest

from xmpp_oauth.errors import AuthzidMismatchError, InvalidTokenError
from xmpp_oauth.saslservice.tokencache import CachingTokenCheck
from xmpp_oauth.tokens.jwt import TokenService
from xmpp_oauth.tokens.keys import KeyRing, SigningKey
from xmpp_oauth.validate import InMemoryRevocationSet, Validator

NOW = 1_800_000_000.0


@pytest.fixture
def parts() -> tuple[TokenService, InMemoryRevocationSet, Validator]:
    tokens = TokenService(KeyRing([SigningKey.generate(now=NOW)]), issuer="https://a.example")
    revoked = InMemoryRevocationSet()
    return tokens, revoked, Validator(tokens, revoked, domains=["localhost", "other.localhost"])


def issue(tokens: TokenService, *, subject: str = "alice@localhost", grant: str = "g1",
          ttl: int = 600, scopes: tuple[str, ...] = ("xmpp",)) -> str:
    return tokens.issue_access_token(
        subject=subject, client_id="c", scopes=scopes, grant_id=grant,
        audience=[f"xmpp:{subject.rpartition('@')[2]}"], auth_time=NOW, ttl=ttl, now=NOW,
    ).token


def test_reuse_is_a_hit_and_every_dynamic_check_still_runs(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, revoked, validator = parts
    check = CachingTokenCheck(validator)
    token = issue(tokens)
    assert check(token, None, "localhost", NOW).jid == "alice@localhost"
    assert check(token, "ALICE@localhost", "localhost", NOW + 1).jid == "alice@localhost"
    assert (check.hits, check.misses) == (1, 1)
    with pytest.raises(AuthzidMismatchError):
        check(token, "bob@localhost", "localhost", NOW + 2)
    with pytest.raises(InvalidTokenError) as err:
        check(token, None, "other.localhost", NOW + 2)
    assert err.value.reason == "domain"
    revoked.add("g1")
    with pytest.raises(InvalidTokenError) as err:
        check(token, None, "localhost", NOW + 3)
    assert err.value.reason == "revoked"
    revoked.discard("g1")
    with pytest.raises(InvalidTokenError) as err:
        check(token, None, "localhost", NOW + 600 + 31)  # past exp and the leeway
    assert err.value.reason == "expired"


def test_expiry_is_strict_on_the_cached_path(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, validator = parts
    check = CachingTokenCheck(validator)
    token = issue(tokens, ttl=60)
    check(token, None, "localhost", NOW)
    hits = check.hits
    check(token, None, "localhost", NOW + 60)  # validator leeway allows it: full path
    assert check.hits == hits


def test_size_is_bounded_and_new_keys_clear_it(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, validator = parts
    check = CachingTokenCheck(validator, max_entries=3)
    for i in range(5):
        check(issue(tokens, grant=f"g{i}"), None, "localhost", NOW)
    assert len(check) == 3
    tokens.keyring = KeyRing([SigningKey.generate(now=NOW)])  # rotation elsewhere, reloaded
    with pytest.raises(InvalidTokenError):
        check(issue(TokenService(KeyRing([SigningKey.generate(now=NOW)]),
                                 issuer="https://a.example")), None, "localhost", NOW)
    assert len(check) == 0


def test_forged_token_with_a_cached_tokens_claims_is_not_a_hit(
    parts: tuple[TokenService, InMemoryRevocationSet, Validator]
) -> None:
    tokens, _, validator = parts
    check = CachingTokenCheck(validator)
    token = issue(tokens)
    check(token, None, "localhost", NOW)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(InvalidTokenError):
        check(forged, None, "localhost", NOW)
