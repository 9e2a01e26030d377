"""Fixtures for the token codec tests: one key per algorithm, generated once."""

from __future__ import annotations

import pytest

from xmpp_oauth.tokens.jwt import TokenService
from xmpp_oauth.tokens.keys import ALGORITHMS, KeyRing, SigningKey

NOW = 1_800_000_000.0
ISSUER = "https://auth.example.org"


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    return {alg: SigningKey.generate(alg, now=NOW - 100) for alg in ALGORITHMS}


@pytest.fixture(params=ALGORITHMS)
def alg(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service(signing_keys: dict[str, SigningKey], alg: str) -> TokenService:
    return TokenService(KeyRing([signing_keys[alg]]), issuer=ISSUER)
