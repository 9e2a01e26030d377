"""Hypothesis: no input a peer can send makes a parser or state machine fail uncleanly.

The rule under test (module docstrings of xmpp_oauth.sasl): peer mistakes raise
SaslRemoteError with condition malformed-request; everything else is an event.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xmpp_oauth.errors import SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl import (
    Failure,
    InitialResponse,
    OAuthBearerClient,
    OAuthBearerServer,
    ScramLookup,
    ScramServer,
    ServerState,
    make_scram_record,
    parse_plain,
)
from xmpp_oauth.sasl.gs2 import escape_saslname

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORD = make_scram_record("pencil")

# Pieces that make near-valid messages likely, so the fuzzer reaches deep branches.
_header = st.sampled_from(
    [
        b"n,,",
        b"y,,",
        b"n,a=alice@localhost,",
        b"y,a=a=2Cb=3Dc,",
        b"p=tls-unique,,",
        b"F,n,,",
        b"n,a=,",
        b"n,a==41,",
        b"n",
        b"",
        b"n,,,",
    ]
)
_key = st.one_of(
    st.sampled_from([b"auth", b"host", b"port", b"mthd", b"Auth", b"x"]),
    st.binary(max_size=6),
)
_value = st.one_of(
    st.sampled_from(
        [
            b"Bearer tok",
            b"bearer a.b.c",
            b"Bearer ",
            b"",
            b"Bearer  x",
            b"MAC x",
            b"143",
            b"0143",
            b"65536",
            b"localhost",
            b"Bearer a=b",
        ]
    ),
    st.binary(max_size=12),
)
_pair = st.builds(lambda k, v, sep: k + sep + v, _key, _value, st.sampled_from([b"=", b"", b"=="]))
_near_valid = st.builds(
    lambda h, pairs, lead, tail: h + lead + b"\x01".join(pairs) + tail,
    _header,
    st.lists(_pair, max_size=5),
    st.sampled_from([b"\x01", b"", b"\x01\x01"]),
    st.sampled_from([b"\x01\x01", b"\x01", b"", b"\x01\x01\x01"]),
)
_messages = st.one_of(st.binary(max_size=300), _near_valid)


def _clean(exc: SaslRemoteError) -> None:
    assert exc.condition is SaslCondition.MALFORMED_REQUEST
    assert str(exc)


@FUZZ
@given(_messages, st.lists(_messages, max_size=3))
@example(b"n,,\x01auth=Bearer t\x01\x01", [b"\x01"])
@example(b"n,,\x01auth=\x01\x01", [b"\x01", b"\x01"])
def test_oauthbearer_server_only_fails_cleanly(first: bytes, later: list[bytes]) -> None:
    server = OAuthBearerServer()
    try:
        event = server.receive_data(first)
    except SaslRemoteError as exc:
        _clean(exc)
        assert server.state is ServerState.FAILED
        return
    assert isinstance(event, InitialResponse)
    server.reject()
    for data in later[:1]:
        try:
            outcome = server.receive_data(data)
        except SaslRemoteError as exc:
            _clean(exc)
        else:
            assert isinstance(outcome, Failure) and data == b"\x01"
        assert server.state is ServerState.FAILED


@FUZZ
@given(
    st.text(max_size=40),
    st.one_of(st.none(), st.text(max_size=20)),
    st.sampled_from(["", "tok", "a-b.c_d~e+f/g==", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln"]),
)
def test_client_server_agree_on_every_authzid(authzid: str, host: str | None, token: str) -> None:
    client = OAuthBearerClient()
    try:
        message = client.initial_response(token, authzid=authzid or None, host=host)
    except SaslLocalError:  # the client refuses what it cannot encode; nothing else escapes
        return
    event = OAuthBearerServer().receive_data(message)
    assert isinstance(event, InitialResponse)
    assert (event.authzid, event.token, event.host) == (authzid or None, token, host)


@FUZZ
@given(st.binary(max_size=300))
def test_client_challenge_parsing_only_fails_cleanly(data: bytes) -> None:
    client = OAuthBearerClient()
    client.initial_response("t")
    try:
        challenge = client.receive_challenge(data)
    except SaslRemoteError as exc:
        _clean(exc)
    else:
        assert challenge.status and challenge.reply == b"\x01"


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda a, b, c, sep: a + sep + b + sep + c,
            st.binary(max_size=20),
            st.binary(max_size=20),
            st.binary(max_size=20),
            st.sampled_from([b"\x00", b"\x00\x00", b""]),
        ),
    )
)
def test_plain_only_fails_cleanly(data: bytes) -> None:
    try:
        resp = parse_plain(data)
    except SaslRemoteError as exc:
        _clean(exc)
    else:
        assert resp.authcid and resp.password


_scram_first = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda h, user, rest: h + b"n=" + user + b",r=" + rest,
        _header,
        st.one_of(
            st.binary(max_size=12), st.text(max_size=12).map(lambda t: escape_saslname(t).encode())
        ),
        st.binary(max_size=20),
    ),
)


@settings(max_examples=150, deadline=None)
@given(_scram_first, st.binary(max_size=120), st.booleans())
def test_scram_server_only_fails_cleanly(first: bytes, final: bytes, known: bool) -> None:
    server = ScramServer(domain="localhost")
    try:
        event = server.receive_data(first)
        if isinstance(event, Failure):
            assert event.condition is SaslCondition.INVALID_AUTHZID
            return
        assert isinstance(event, ScramLookup)
        server.respond(RECORD if known else None)
        outcome = server.receive_data(final)
        assert isinstance(outcome, Failure)
        assert outcome.condition is SaslCondition.NOT_AUTHORIZED
    except SaslRemoteError as exc:
        _clean(exc)
