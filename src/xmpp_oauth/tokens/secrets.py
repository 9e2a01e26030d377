"""Opaque secrets: refresh tokens, codes, session ids (RFC 6749 §10.10, RFC 9700 §4.14).

Every opaque secret is 256 bits from the OS CSPRNG (RFC 6749 §10.10 asks that guessing be
infeasible), url-safe base64 without padding so it can travel in forms, URLs and JSON
unescaped.  The store keeps only ``hash_secret(secret)``: a leaked database reveals no usable
secret, and because the secrets are full-entropy random values a fast unsalted hash suffices
(no password-style stretching is needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

#: 256 bits, the default size of every opaque secret we hand out.
DEFAULT_SECRET_BYTES: Final = 32


def new_secret(nbytes: int = DEFAULT_SECRET_BYTES) -> str:
    """A fresh random secret of ``nbytes`` bytes, url-safe base64 without padding."""
    if nbytes <= 0:
        raise ValueError("nbytes must be positive")
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of ``secret``: the only form in which the store keeps it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets without leaking where they differ (``hmac.compare_digest``)."""
    a_bytes = a.encode("utf-8") if isinstance(a, str) else a
    b_bytes = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


__all__ = ["DEFAULT_SECRET_BYTES", "constant_time_equal", "hash_secret", "new_secret"]
