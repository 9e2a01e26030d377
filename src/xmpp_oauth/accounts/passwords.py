"""Password storage for local accounts: argon2id for web logins, SCRAM keys for SASL.

Two verifiers are kept per account (DESIGN §10):

* an argon2id hash (RFC 9106) for the login page, with OWASP's parameters (19 MiB, two passes,
  one lane): tens of milliseconds, run in a worker thread by the caller;
* SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) stored keys, made by
  :mod:`xmpp_oauth.sasl.scram`, so the SASL service can offer SCRAM without the password and
  check PLAIN against the SCRAM-SHA-256 key (one PBKDF2 run, ~2 ms: argon2 never runs there).

Everything here is synchronous and CPU-bound; async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..sasl.scram import DEFAULT_ITERATIONS, check_plain_password, make_scram_record

#: argon2id parameters (OWASP password storage cheat sheet: m=19 MiB, t=2, p=1).
ARGON2_MEMORY_KIB: Final = 19456
ARGON2_TIME_COST: Final = 2
ARGON2_PARALLELISM: Final = 1
MAX_PASSWORD_LENGTH: Final = 1024

_HASHER: Final = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM,
    hash_len=32, salt_len=16, type=Type.ID,
)


def check_new_password(password: str) -> None:
    """Refuse passwords no mechanism could carry (raises ValueError)."""
    if not password:
        raise ValueError("the password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in password:
        raise ValueError("the password must not contain NUL (SASL PLAIN could not send it)")


def hash_password(password: str) -> str:
    """An argon2id hash in the PHC string format."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed stored hash never matches."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash() -> str:
    return _HASHER.hash("decoy password for unknown accounts")


def burn_verification(password: str) -> None:
    """Spend the time of one verification (unknown account: do not reveal it by speed)."""
    verify_password(_decoy_hash(), password)


def scram_record(password: str, mechanism: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The stored-key record for ``mechanism`` (``SCRAM-SHA-1`` / ``SCRAM-SHA-256``)."""
    return make_scram_record(password, mechanism, iterations)


def check_plain_against_scram(record: str, password: str) -> bool:
    """PLAIN checked against a SCRAM-SHA-256 record (no argon2 on the SASL path)."""
    try:
        return check_plain_password(record, password, mechanism="SCRAM-SHA-256")
    except ValueError:
        return False


def make_credentials(password: str) -> tuple[str, str, str]:
    """(argon2id hash, SCRAM-SHA-1 record, SCRAM-SHA-256 record) for a new password.

    Raises ValueError for a password that cannot be stored (empty, too long, refused by
    SASLprep).
    """
    check_new_password(password)
    sha1 = scram_record(password, "SCRAM-SHA-1")
    sha256 = scram_record(password, "SCRAM-SHA-256")
    return hash_password(password), sha1, sha256


__all__ = [
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "burn_verification",
    "check_new_password",
    "check_plain_against_scram",
    "hash_password",
    "make_credentials",
    "scram_record",
    "verify_password",
]
