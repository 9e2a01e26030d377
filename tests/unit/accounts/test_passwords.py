"""Password storage: argon2id parameters and SCRAM records for PLAIN/SCRAM."""

from __future__ import annotations

import pytest

from xmpp_oauth.accounts import passwords
from xmpp_oauth.sasl.scram import parse_scram_record


def test_argon2id_with_owasp_parameters() -> None:
    hashed = passwords.hash_password("s3cret")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(hashed, "s3cret")
    assert not passwords.verify_password(hashed, "S3cret")
    assert not passwords.verify_password("not a hash", "s3cret")
    assert not passwords.verify_password(hashed, "x" * (passwords.MAX_PASSWORD_LENGTH + 1))


def test_make_credentials_gives_three_independent_verifiers() -> None:
    hashed, sha1, sha256 = passwords.make_credentials("pässwörd")
    assert passwords.verify_password(hashed, "pässwörd")
    rec1, rec256 = parse_scram_record(sha1), parse_scram_record(sha256)
    assert (len(rec1.stored_key), len(rec256.stored_key)) == (20, 32)
    assert rec1.iterations == rec256.iterations == 4096
    assert rec1.salt != rec256.salt
    assert passwords.check_plain_against_scram(sha256, "pässwörd")
    assert not passwords.check_plain_against_scram(sha256, "passwörd")
    assert not passwords.check_plain_against_scram("garbage", "pässwörd")
    # A second run salts differently.
    assert passwords.make_credentials("pässwörd")[2] != sha256


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 1025, "bell\x07"])
def test_unstorable_passwords_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        passwords.make_credentials(bad)


def test_burn_verification_takes_a_verification() -> None:
    passwords.burn_verification("anything")  # must not raise
