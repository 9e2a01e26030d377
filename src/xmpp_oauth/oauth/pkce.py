"""RFC 7636 Proof Key for Code Exchange (§4.1-§4.6) with the RFC 9700 §2.1.1 / §4.8 rules.

Theory of operation
-------------------
At the authorization endpoint the client sends ``code_challenge`` (+ ``code_challenge_method``,
default ``plain`` per RFC 7636 §4.3); the server stores both with the code.  At the token
endpoint the client sends ``code_verifier`` and the server recomputes the challenge.

========================== ======================== ====================================
code issued with challenge token request has verifier outcome
========================== ======================== ====================================
yes                        yes, transform matches   ok
yes                        yes, mismatch            invalid_grant (§4.6)
yes                        no                       invalid_grant (§4.6: MUST verify)
no                         yes                      invalid_grant (RFC 9700 §4.8: a
                                                    verifier without a challenge is a
                                                    downgrade attempt)
no                         no                       ok (only if challenges are optional)
========================== ======================== ====================================

Only the methods listed in ``allowed_oauth2_code_challenge_methods`` are accepted; the default
is S256 alone (RFC 9700 §2.1.1: ``plain`` SHOULD NOT be used).  Verifier and challenge syntax
are checked exactly (§4.1, §4.2).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Collection
from enum import StrEnum
from typing import Final

from ..errors import InvalidGrantError, InvalidRequestError
from ..tokens.secrets import constant_time_equal

# RFC 7636 §4.1: code-verifier = 43*128unreserved
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# A challenge has the same alphabet and length (§4.2; S256 output is exactly 43 characters).
_CHALLENGE: Final = _VERIFIER


class ChallengeMethod(StrEnum):
    """RFC 7636 §4.2 ``code_challenge_method`` values."""

    S256 = "S256"
    PLAIN = "plain"


def s256_challenge(verifier: str) -> str:
    """§4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def validate_challenge(
    challenge: str | None,
    method: str | None,
    *,
    allowed_methods: Collection[str],
    required: bool,
) -> tuple[str, str]:
    """Check the authorization request's PKCE parameters; returns ``(challenge, method)``.

    ``("", "")`` means the request carried no challenge (allowed only when not required).
    Errors are ``invalid_request`` (§4.4.1).
    """
    if challenge is None:
        if method is not None:
            raise InvalidRequestError("code_challenge_method without code_challenge")
        if required:
            # §4.4.1 "code challenge required"
            raise InvalidRequestError("code_challenge required (PKCE, RFC 7636)")
        return "", ""
    effective = method or ChallengeMethod.PLAIN.value  # §4.3 default
    if effective not in allowed_methods:
        # §4.4.1 "transform algorithm not supported"
        raise InvalidRequestError(f"code_challenge_method {effective} is not supported")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("malformed code_challenge")
    if effective == ChallengeMethod.S256 and len(challenge) != 43:
        raise InvalidRequestError("malformed code_challenge")
    return challenge, effective


def verify_code_verifier(verifier: str | None, *, challenge: str, method: str) -> None:
    """Check the token request's verifier against the stored challenge (table above)."""
    if not challenge:
        if verifier is not None:
            raise InvalidGrantError("code_verifier sent but no code_challenge was")
        return
    if verifier is None:
        raise InvalidGrantError("missing code_verifier")
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidGrantError("malformed code_verifier")
    if method == ChallengeMethod.S256:
        computed = s256_challenge(verifier)
    elif method == ChallengeMethod.PLAIN:
        computed = verifier
    else:  # pragma: no cover - stored methods were validated on the way in
        raise InvalidGrantError("unsupported code_challenge_method")
    if not constant_time_equal(computed, challenge):
        raise InvalidGrantError("code_verifier does not match code_challenge")


__all__ = ["ChallengeMethod", "s256_challenge", "validate_challenge", "verify_code_verifier"]
