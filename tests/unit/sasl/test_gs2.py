"""GS2 header and kvpair parsing: RFC 7628 §4 vectors and strictness edge cases."""

from __future__ import annotations

import base64

import pytest

from xmpp_oauth.errors import SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl.gs2 import (
    MAX_MESSAGE_SIZE,
    escape_saslname,
    format_bearer,
    format_client_response,
    format_gs2_header,
    parse_bearer,
    parse_client_response,
    parse_gs2_header,
    parse_port,
    unescape_saslname,
)

# RFC 7628 §4.1, IMAP: base64 initial client response, wrapped in the RFC, joined here.
RFC7628_4_1_B64 = (
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyI"
    "HZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
)
RFC7628_TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="


def test_rfc7628_4_1_decodes_to_the_documented_message() -> None:
    raw = base64.b64decode(RFC7628_4_1_B64)
    assert raw == (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
        b"auth=Bearer " + RFC7628_TOKEN.encode() + b"\x01\x01"
    )
    resp = parse_client_response(raw)
    assert resp.gs2.cb_flag == "n"
    assert resp.gs2.authzid == "user@example.com"
    assert resp.gs2.raw == b"n,a=user@example.com,"
    assert resp.kvpairs == (
        ("host", "server.example.com"),
        ("port", "143"),
        ("auth", f"Bearer {RFC7628_TOKEN}"),
    )
    assert parse_bearer(resp.get("auth") or "") == RFC7628_TOKEN


def test_format_reproduces_rfc7628_4_1_byte_for_byte() -> None:
    built = format_client_response(
        [("host", "server.example.com"), ("port", "143"), ("auth", format_bearer(RFC7628_TOKEN))],
        authzid="user@example.com",
    )
    assert base64.b64encode(built).decode() == RFC7628_4_1_B64


def test_rfc7628_4_4_nonstandard_header_is_refused() -> None:
    # §4.4 shows "n,user=someuser@example.com," which is not a valid gs2-authzid.
    raw = base64.b64decode(
        "bix1c2VyPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhS"
        "aGRtbHpkR0V1WTI5dENnPT0BAQ=="
    )
    assert raw.startswith(b"n,user=someuser@example.com,\x01auth=Bearer ")
    with pytest.raises(SaslRemoteError) as info:
        parse_client_response(raw)
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"user@example.com", "user@example.com"),
        (b"we=2Cird=3Dname@example.com", "we,ird=name@example.com"),
        (b"=3D=2C", "=,"),
        ("jürgen@example.com".encode(), "jürgen@example.com"),
    ],
)
def test_authzid_unescaping(wire: bytes, expected: str) -> None:
    assert unescape_saslname(wire) == expected
    gs2, rest = parse_gs2_header(b"n,a=" + wire + b",\x01rest")
    assert gs2.authzid == expected
    assert rest == b"\x01rest"


@pytest.mark.parametrize(
    "wire",
    [b"", b"a=", b"a=2c", b"a=41", b"a=", b"abc=", b"a=2", b"x\x00y", b"\xff\xfe", b"a\x01b"],
)
def test_bad_saslnames_are_malformed(wire: bytes) -> None:
    with pytest.raises(SaslRemoteError):
        unescape_saslname(wire)


def test_escape_roundtrip() -> None:
    name = "a,b=c@d"
    assert escape_saslname(name) == "a=2Cb=3Dc@d"
    assert unescape_saslname(escape_saslname(name).encode()) == name
    assert format_gs2_header(name) == b"n,a=a=2Cb=3Dc@d,"
    assert format_gs2_header(None, cb_flag="y") == b"y,,"


def test_y_flag_accepted_and_no_authzid() -> None:
    gs2, rest = parse_gs2_header(b"y,,\x01")
    assert (gs2.cb_flag, gs2.authzid, rest) == ("y", None, b"\x01")


@pytest.mark.parametrize(
    "header",
    [
        b"p=tls-unique,,",
        b"p=tls-exporter,a=u@h,",
        b"F,n,,",
        b"x,,",
        b",,",
        b"n",
        b"n,",
        b"n,a=u@h",
        b"n,b=u@h,",
        b"N,,",
        b"nn,,",
    ],
)
def test_bad_gs2_headers(header: bytes) -> None:
    with pytest.raises(SaslRemoteError):
        parse_client_response(header + b"\x01auth=Bearer x\x01\x01")


def test_kvpairs_any_order_and_unknown_keys_ignored() -> None:
    raw = b"n,,\x01auth=Bearer tok\x01zzz=whatever value\x01host=h\x01X=1\x01\x01"
    resp = parse_client_response(raw)
    assert resp.get("auth") == "Bearer tok"
    assert resp.get("host") == "h"
    assert resp.get("zzz") == "whatever value"
    assert resp.get("missing") is None


def test_values_may_hold_space_tab_cr_lf_and_be_empty() -> None:
    resp = parse_client_response(b"n,,\x01a=x y\tz\r\n\x01b=\x01\x01")
    assert resp.kvpairs == (("a", "x y\tz\r\n"), ("b", ""))


def test_no_pairs_at_all_is_well_formed_syntax() -> None:
    assert parse_client_response(b"n,,\x01\x01").kvpairs == ()


@pytest.mark.parametrize(
    "raw",
    [
        b"n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01",  # duplicate key
        b"n,,\x01auth=Bearer a\x01",  # missing final kvsep
        b"n,,\x01auth=Bearer a",  # missing both kvseps
        b"n,,auth=Bearer a\x01\x01",  # header not followed by kvsep
        b"n,,\x01auth=Bearer a\x01\x01\x01",  # extra kvsep
        b"n,,\x01\x01auth=Bearer a\x01\x01",  # empty pair
        b"n,,\x01authBearer\x01\x01",  # no '='
        b"n,,\x01=v\x01\x01",  # empty key
        b"n,,\x01au-th=v\x01\x01",  # key not ALPHA
        b"n,,\x01k1=v\x01\x01",  # digit in key
        b"n,,\x01k=\x00\x01\x01",  # NUL in value
        b"n,,\x01k=\x7f\x01\x01",  # DEL in value
        b"n,,\x01k=caf\xc3\xa9\x01\x01",  # non-ASCII value (VCHAR only)
        b"n,,\x01\x01trailing",
        b"",
        b"\x01",
    ],
)
def test_malformed_client_responses(raw: bytes) -> None:
    with pytest.raises(SaslRemoteError):
        parse_client_response(raw)


def test_size_bound() -> None:
    padding = b"x" * MAX_MESSAGE_SIZE
    with pytest.raises(SaslRemoteError, match="larger than"):
        parse_client_response(b"n,,\x01pad=" + padding + b"\x01auth=Bearer t\x01\x01")
    just_fits = b"n,,\x01auth=Bearer t\x01\x01"
    assert parse_client_response(just_fits, max_size=len(just_fits)).get("auth") == "Bearer t"


@pytest.mark.parametrize(
    ("auth", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("BeArEr abc", "abc"),  # RFC 7628 §4 "Note to implementers"
        ("Bearer " + RFC7628_TOKEN, RFC7628_TOKEN),
        ("Bearer a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="),
        ("", ""),  # RFC 7628 §4.3 discovery
        ("Bearer ", ""),
        ("Bearer", ""),
    ],
)
def test_parse_bearer(auth: str, token: str) -> None:
    assert parse_bearer(auth) == token


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer  abc",
        "Bearer\tabc",
        "Basic abc",
        "OAuth realm=x",
        "Bearer a b",
        "Bearer =abc",
        "Bearer ab=c",
        "Bearer abc\r\n",
        "Bearerabc",
        " Bearer abc",
    ],
)
def test_bad_bearer_values(auth: str) -> None:
    with pytest.raises(SaslRemoteError):
        parse_bearer(auth)


@pytest.mark.parametrize(("value", "port"), [("1", 1), ("143", 143), ("65535", 65535)])
def test_port(value: str, port: int) -> None:
    assert parse_port(value) == port


@pytest.mark.parametrize("value", ["", "0", "0143", "65536", "-1", "1e3", "١٤٣", "99999999"])
def test_bad_port(value: str) -> None:
    with pytest.raises(SaslRemoteError):
        parse_port(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: format_gs2_header("", cb_flag="n"),
        lambda: format_gs2_header("a\x00b"),
        lambda: format_gs2_header(None, cb_flag="p=tls-unique"),
        lambda: format_client_response([("bad key", "v")]),
        lambda: format_client_response([("k", "v"), ("k", "w")]),
        lambda: format_client_response([("k", "v\x01")]),
        lambda: format_client_response([("k", "é")]),
        lambda: format_bearer("has space"),
    ],
)
def test_formatting_refuses_invalid_local_input(call: object) -> None:
    with pytest.raises(SaslLocalError):
        call()  # type: ignore[operator]
