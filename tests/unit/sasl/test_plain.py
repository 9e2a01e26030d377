"""RFC 4616 PLAIN parsing and formatting."""

from __future__ import annotations

import pytest

from xmpp_oauth.errors import SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl import PlainResponse, format_plain, parse_plain
from xmpp_oauth.sasl.plain import MAX_IDENTITY_SIZE, MAX_PASSWORD_SIZE


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00tim\x00tanstaaftanstaaf", PlainResponse(None, "tim", "tanstaaftanstaaf")),
        (b"Ursel\x00Kurt\x00xipj3plmq", PlainResponse("Ursel", "Kurt", "xipj3plmq")),  # RFC 4616 §4
        ("\x00jürgen\x00pässwörd".encode(), PlainResponse(None, "jürgen", "pässwörd")),
        (b"\x00a\x00p w\x01d", PlainResponse(None, "a", "p w\x01d")),
    ],
)
def test_parse(data: bytes, expected: PlainResponse) -> None:
    assert parse_plain(data) == expected


def test_jwt_sized_password_fits() -> None:
    jwt = "eyJ" + "a" * 1500 + ".b.c"
    assert parse_plain(b"\x00alice@localhost\x00" + jwt.encode()).password == jwt


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"tim",
        b"\x00tim",
        b"\x00tim\x00",  # empty password
        b"\x00\x00pw",  # empty authcid
        b"a\x00b\x00c\x00d",  # NUL inside a field
        b"\x00\x00\x00",
        b"\x00tim\x00\xff\xfe",  # not UTF-8
        b"\x00\xc3\x28\x00pw",
        b"\x00" + b"a" * (MAX_IDENTITY_SIZE + 1) + b"\x00pw",
        b"\x00a\x00" + b"p" * (MAX_PASSWORD_SIZE + 1),
        b"x" * 100_000,
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(SaslRemoteError) as info:
        parse_plain(data)
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(parse_plain(b"\x00a\x00hunter2"))


def test_format_roundtrip() -> None:
    assert format_plain("tim", "tanstaaf") == b"\x00tim\x00tanstaaf"
    assert format_plain("Kurt", "pw", authzid="Ursel") == b"Ursel\x00Kurt\x00pw"
    assert parse_plain(format_plain("jürgen", "pässwörd", "j@h")) == PlainResponse(
        "j@h", "jürgen", "pässwörd"
    )


@pytest.mark.parametrize(
    ("authcid", "password", "authzid"),
    [
        ("", "pw", None),
        ("a", "", None),
        ("a\x00", "pw", None),
        ("a", "p\x00w", None),
        ("a", "pw", "z\x00"),
    ],
)
def test_format_refuses(authcid: str, password: str, authzid: str | None) -> None:
    with pytest.raises(SaslLocalError):
        format_plain(authcid, password, authzid)
