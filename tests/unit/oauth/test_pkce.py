"""RFC 7636 PKCE: the Appendix B vector and every row of pkce.py's table."""

from __future__ import annotations

import pytest

from xmpp_oauth.errors import InvalidGrantError, InvalidRequestError
from xmpp_oauth.oauth.pkce import s256_challenge, validate_challenge, verify_code_verifier

# RFC 7636 Appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_appendix_b_vector() -> None:
    assert s256_challenge(VERIFIER) == CHALLENGE
    verify_code_verifier(VERIFIER, challenge=CHALLENGE, method="S256")


def test_wrong_verifier() -> None:
    with pytest.raises(InvalidGrantError):
        verify_code_verifier(VERIFIER[:-1] + "A", challenge=CHALLENGE, method="S256")


def test_missing_verifier_when_challenged() -> None:
    with pytest.raises(InvalidGrantError, match="missing"):
        verify_code_verifier(None, challenge=CHALLENGE, method="S256")


def test_verifier_without_challenge_is_a_downgrade() -> None:
    # RFC 9700 §4.8
    with pytest.raises(InvalidGrantError):
        verify_code_verifier(VERIFIER, challenge="", method="")
    verify_code_verifier(None, challenge="", method="")


@pytest.mark.parametrize("bad", ["short", "x" * 129, "a" * 42 + "!", "ä" * 43])
def test_malformed_verifier(bad: str) -> None:
    with pytest.raises(InvalidGrantError):
        verify_code_verifier(bad, challenge=CHALLENGE, method="S256")


def test_plain_refused_unless_allowed() -> None:
    with pytest.raises(InvalidRequestError, match="not supported"):
        validate_challenge(VERIFIER, "plain", allowed_methods=("S256",), required=True)
    # RFC 7636 §4.3: no method means plain
    with pytest.raises(InvalidRequestError, match="not supported"):
        validate_challenge(VERIFIER, None, allowed_methods=("S256",), required=True)
    assert validate_challenge(VERIFIER, None, allowed_methods=("S256", "plain"),
                              required=True) == (VERIFIER, "plain")
    verify_code_verifier(VERIFIER, challenge=VERIFIER, method="plain")


def test_challenge_required_and_syntax() -> None:
    with pytest.raises(InvalidRequestError, match="required"):
        validate_challenge(None, None, allowed_methods=("S256",), required=True)
    assert validate_challenge(None, None, allowed_methods=("S256",), required=False) == ("", "")
    with pytest.raises(InvalidRequestError):
        validate_challenge(None, "S256", allowed_methods=("S256",), required=False)
    with pytest.raises(InvalidRequestError, match="malformed"):
        validate_challenge(CHALLENGE + "A", "S256", allowed_methods=("S256",), required=True)
    assert validate_challenge(CHALLENGE, "S256", allowed_methods=("S256",),
                              required=True) == (CHALLENGE, "S256")
