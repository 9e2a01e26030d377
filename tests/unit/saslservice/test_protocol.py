"""The Dovecot auth protocol codec: framing, parsing, escaping, replies, bounds (fuzzed too)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmpp_oauth.saslservice.protocol import (
    AuthRequest,
    BadLine,
    ContRequest,
    CpidLine,
    ServerProtocol,
    UnknownLine,
    VersionLine,
    parse_line,
    tab_escape,
    tab_unescape,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_prosody_handshake_and_auth_lines() -> None:
    proto = ServerProtocol()
    events = proto.receive_data(
        b"VERSION\t1\t1\nCPID\t4242\n"
        b"AUTH\t7\tOAUTHBEARER\tservice=xmpp\tresp=" + b64(b"n,,\x01auth=Bearer x\x01\x01").encode()
        + b"\nCONT\t7\tAQ==\n"
    )
    assert events[0] == VersionLine(1, 1)
    assert events[1] == CpidLine("4242")
    auth = events[2]
    assert isinstance(auth, AuthRequest)
    assert (auth.id, auth.mechanism, auth.params["service"]) == (7, "OAUTHBEARER", "xmpp")
    assert auth.initial == b"n,,\x01auth=Bearer x\x01\x01"
    assert events[3] == ContRequest(7, b"\x01")
    assert proto.version == VersionLine(1, 1) and proto.client_pid == "4242"


def test_absent_and_empty_initial_response() -> None:
    # mod_auth_dovecot: nil message -> "resp==", empty message -> "resp=".
    absent = parse_line(b"AUTH\t1\tPLAIN\tservice=xmpp\tresp==")
    empty = parse_line(b"AUTH\t2\tPLAIN\tservice=xmpp\tresp=")
    none = parse_line(b"AUTH\t3\tPLAIN\tservice=xmpp")
    assert isinstance(absent, AuthRequest) and absent.initial is None
    assert isinstance(empty, AuthRequest) and empty.initial == b""
    assert isinstance(none, AuthRequest) and none.initial is None
    assert parse_line(b"CONT\t1\t=") == ContRequest(1, b"")
    assert parse_line(b"CONT\t1\t") == ContRequest(1, b"")
    assert parse_line(b"CONT\t1") == ContRequest(1, b"")


def test_flags_unknown_params_and_empty_fields() -> None:
    ev = parse_line(b"AUTH\t9\tscram-sha-1\tservice=imap\tsecured\t\tnew-thing=1\trip=127.0.0.1")
    assert isinstance(ev, AuthRequest)
    assert ev.mechanism == "SCRAM-SHA-1"  # names are case-insensitive
    assert ev.flags == frozenset({"secured"})
    assert ev.params["new-thing"] == "1" and ev.params["rip"] == "127.0.0.1"


@pytest.mark.parametrize("line,reason,req_id", [
    (b"AUTH", "AUTH without id", None),
    (b"AUTH\tx\tPLAIN", "AUTH with a bad id", None),
    (b"AUTH\t-1\tPLAIN", "AUTH with a bad id", None),
    (b"AUTH\t5", "AUTH without mechanism", 5),
    (b"AUTH\t5\tPLAIN\tresp=***", "initial response is not base64", 5),
    (b"AUTH\t5\tPLAIN\tresp=AA==\tresp=AA==", "duplicate AUTH parameter 'resp'", 5),
    (b"CONT", "CONT without id", None),
    (b"CONT\t1x\tAA==", "CONT with a bad id", None),
    (b"CONT\t3\t%%%", "CONT data is not base64", 3),
    (b"VERSION\tone\t1", "bad VERSION line", None),
    (b"CPID", "bad CPID line", None),
    (b"AUTH\t4\t\xff\xfe", "not UTF-8", 4),
    (b"\x00\x01garbage", "not a command", None),
])
def test_bad_lines_keep_the_id_when_readable(line: bytes, reason: str,
                                             req_id: int | None) -> None:
    assert parse_line(line) == BadLine(reason, req_id)


def test_unknown_commands_are_reported_not_fatal() -> None:
    assert parse_line(b"CANCEL\t3") == UnknownLine("CANCEL")
    assert parse_line(b"REQUEST\t1\t2\t3") == UnknownLine("REQUEST")


def test_crlf_and_blank_lines() -> None:
    proto = ServerProtocol()
    assert proto.receive_data(b"\n\r\nCONT\t1\tAA==\r\n") == [ContRequest(1, b"\x00")]


def test_lines_split_across_reads() -> None:
    proto = ServerProtocol()
    line = b"AUTH\t12\tPLAIN\tservice=xmpp\tresp=" + b64(b"\0alice\0pw").encode() + b"\n"
    events = []
    for i in range(len(line)):
        events += proto.receive_data(line[i : i + 1])
    assert len(events) == 1 and isinstance(events[0], AuthRequest)
    assert events[0].initial == b"\0alice\0pw"


def test_overlong_line_is_discarded_but_answerable() -> None:
    proto = ServerProtocol(max_line_length=1024)
    huge = b"AUTH\t77\tOAUTHBEARER\tservice=xmpp\tresp=" + b"A" * 5000
    events = proto.receive_data(huge[:2000])
    assert events == []
    events = proto.receive_data(huge[2000:] + b"\nCONT\t78\tAQ==\n")
    assert events == [BadLine("line too long", 77), ContRequest(78, b"\x01")]
    # Garbage without an id: reported without one; the buffer stays bounded.
    events = proto.receive_data(b"x" * 10_000)
    assert events == [] and len(proto._buffer) <= 1024
    assert proto.receive_data(b"\nVERSION\t1\t0\n") == [BadLine("line too long", None),
                                                         VersionLine(1, 0)]


def test_exactly_max_length_is_accepted() -> None:
    proto = ServerProtocol(max_line_length=256)
    line = b"CONT\t10\t" + b"A" * (256 - 8 - 4) + b"AA=="
    assert len(line) == 256
    assert isinstance(proto.receive_data(line + b"\n")[0], ContRequest)
    assert proto.receive_data(line + b"A\n") == [BadLine("line too long", 10)]


def test_handshake_format() -> None:
    out = ServerProtocol.handshake(
        [("OAUTHBEARER", ()), ("PLAIN", ("plaintext",))], connection_id=3, server_pid=99,
        cookie="ab" * 16,
    ).decode()
    assert out == ("VERSION\t1\t2\nMECH\tOAUTHBEARER\nMECH\tPLAIN\tplaintext\nSPID\t99\n"
                   f"CUID\t3\nCOOKIE\t{'ab' * 16}\nDONE\n")


def test_replies() -> None:
    assert ServerProtocol.ok(5, "alice@localhost") == b"OK\t5\tuser=alice@localhost\n"
    assert ServerProtocol.ok(5, "a@b", b"v=xyz") == b"OK\t5\tuser=a@b\tresp=dj14eXo=\n"
    assert ServerProtocol.cont(6, b"") == b"CONT\t6\t=\n"
    assert ServerProtocol.cont(6, b'{"a":1}') == b"CONT\t6\teyJhIjoxfQ==\n"
    assert ServerProtocol.fail(7, "no\tway", temp=True) == b"FAIL\t7\treason=no\x01tway\ttemp\n"
    assert ServerProtocol.fail(8, "x", authz=True) == b"FAIL\t8\treason=x\tauthz\n"


@pytest.mark.parametrize("raw,escaped", [
    ("plain", "plain"),
    ("a\tb", "a\x01tb"),
    ("a\nb\rc", "a\x01nb\x01rc"),
    ("\x01", "\x011"),
    ("\x01t", "\x011t"),
])
def test_tab_escaping(raw: str, escaped: str) -> None:
    assert tab_escape(raw) == escaped
    assert tab_unescape(escaped) == raw


def test_escaped_parameter_values_are_unescaped() -> None:
    ev = parse_line(b"AUTH\t1\tPLAIN\tservice=x\x01ty\tresp=AA==")
    assert isinstance(ev, AuthRequest) and ev.params["service"] == "x\ty"


@given(st.text())
def test_escape_roundtrip(value: str) -> None:
    escaped = tab_escape(value)
    assert not {"\t", "\n", "\r"} & set(escaped)
    assert tab_unescape(escaped) == value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_fuzz_any_bytes_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    proto = ServerProtocol(max_line_length=256)
    for chunk in chunks:
        for event in proto.receive_data(chunk):
            assert isinstance(event, VersionLine | CpidLine | AuthRequest | ContRequest
                              | UnknownLine | BadLine)
        assert len(proto._buffer) <= 256 + 300


_FIELD = st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["AUTH", "CONT", "VERSION", "CPID", "XYZ", ""]),
       st.lists(_FIELD, max_size=6))
def test_fuzz_structured_lines(command: str, fields: list[str]) -> None:
    line = "\t".join([command, *fields]).encode("utf-8", "surrogatepass")
    event = parse_line(line)
    if isinstance(event, AuthRequest | ContRequest):
        assert str(event.id) == fields[0].lstrip("0") or event.id == 0
    if isinstance(event, AuthRequest) and event.initial is not None:
        assert base64.b64encode(event.initial).decode() == event.params["resp"] or \
            event.params["resp"] == ""
