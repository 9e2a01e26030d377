"""Opaque secrets: size, alphabet, hashing, constant-time comparison."""

from __future__ import annotations

import hashlib
import re

import pytest

from xmpp_oauth.tokens.secrets import constant_time_equal, hash_secret, new_secret


def test_new_secret_is_256_bit_urlsafe() -> None:
    secret = new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert len({new_secret() for _ in range(100)}) == 100
    assert len(new_secret(16)) == 22
    with pytest.raises(ValueError):
        new_secret(0)


def test_hash_secret() -> None:
    assert hash_secret("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_secret("abc") != hash_secret("abd")


def test_constant_time_equal() -> None:
    assert constant_time_equal("abc", "abc")
    assert constant_time_equal(b"abc", "abc")
    assert not constant_time_equal("abc", "abd")
    assert not constant_time_equal("abc", "ab")
    assert constant_time_equal("é", "é".encode())
