"""OAUTHBEARER state machines: RFC 7628 §4 exchanges, client/server back to back, misuse."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from xmpp_oauth.errors import (
    AuthzidMismatchError,
    BearerStatus,
    InsufficientScopeError,
    InvalidTokenError,
    SaslCondition,
    SaslLocalError,
    SaslRemoteError,
    XmppOAuthError,
    wire_mapping,
)
from xmpp_oauth.sasl import (
    ClientState,
    ErrorChallenge,
    Failure,
    InitialResponse,
    OAuthBearerClient,
    OAuthBearerServer,
    ServerState,
    Success,
)

TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="

# RFC 7628 §4.1 (SMTP variant, port 587) initial response.
RFC_4_1_SMTP = (
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZG"
    "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
)
# RFC 7628 §4.3: discovery request ("auth=" empty) and the server's error challenge.
RFC_4_3_REQUEST = (
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE="
)
RFC_4_3_CHALLENGE = (
    "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp"
    "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="
)
RFC_4_3_DUMMY = "AQ=="


def state(server: OAuthBearerServer) -> ServerState:
    """The state, read through a call so mypy does not keep an earlier narrowing."""
    return server.state


def b64(text: str) -> bytes:
    return base64.b64decode(text)


# --- RFC 7628 §4 as byte vectors --------------------------------------------------------


def test_rfc_4_1_successful_exchange_server_side() -> None:
    server = OAuthBearerServer()
    event = server.receive_data(b64(RFC_4_1_SMTP))
    assert event == InitialResponse(
        authzid="user@example.com",
        token=TOKEN,
        host="server.example.com",
        port=587,
        kvpairs=(("host", "server.example.com"), ("port", "587"), ("auth", f"Bearer {TOKEN}")),
    )
    assert server.state is ServerState.AWAIT_DECISION
    assert server.accept("user@example.com") == Success(identity="user@example.com")
    assert state(server) is ServerState.SUCCEEDED


def test_rfc_4_1_successful_exchange_client_side() -> None:
    client = OAuthBearerClient()
    sent = client.initial_response(
        TOKEN, authzid="user@example.com", host="server.example.com", port=587
    )
    assert base64.b64encode(sent).decode() == RFC_4_1_SMTP
    assert client.receive_success() == Success()
    assert client.state is ClientState.SUCCEEDED


def test_rfc_4_3_failed_exchange_server_side() -> None:
    server = OAuthBearerServer()
    event = server.receive_data(b64(RFC_4_3_REQUEST))
    assert isinstance(event, InitialResponse)
    assert event.is_discovery and event.token == ""
    assert (event.authzid, event.host, event.port) == (
        "user@example.com",
        "server.example.com",
        143,
    )
    challenge = server.reject(
        status="invalid_token",
        scope="example_scope",
        openid_configuration="https://example.com/.well-known/openid-configuration",
    )
    # Same JSON document as the RFC (member order and compact separators included).
    assert json.loads(challenge) == json.loads(b64(RFC_4_3_CHALLENGE))
    assert base64.b64encode(challenge).decode() == RFC_4_3_CHALLENGE
    assert server.state is ServerState.CHALLENGED
    assert server.receive_data(b64(RFC_4_3_DUMMY)) == Failure(
        SaslCondition.NOT_AUTHORIZED, "client acknowledged the error challenge"
    )
    assert state(server) is ServerState.FAILED


def test_rfc_4_3_failed_exchange_client_side() -> None:
    client = OAuthBearerClient()
    sent = client.initial_response(
        "", authzid="user@example.com", host="server.example.com", port=143
    )
    assert base64.b64encode(sent).decode() == RFC_4_3_REQUEST
    challenge = client.receive_challenge(b64(RFC_4_3_CHALLENGE))
    assert challenge == ErrorChallenge(
        "invalid_token", "example_scope", "https://example.com/.well-known/openid-configuration"
    )
    assert base64.b64encode(challenge.reply).decode() == RFC_4_3_DUMMY
    assert client.receive_failure("not-authorized") == Failure(SaslCondition.NOT_AUTHORIZED)
    assert client.state is ClientState.FAILED


def test_rfc_4_4_challenge_with_extra_members_is_understood() -> None:
    client = OAuthBearerClient()
    client.initial_response(TOKEN, authzid="someuser@example.com")
    data = b64(
        "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJzY29wZSI6Imh0dHBzOi8v"
        "bWFpbC5leGFtcGxlLmNvbS8ifQ=="
    )
    assert client.receive_challenge(data) == ErrorChallenge(
        "invalid_token", "https://mail.example.com/", None
    )


# --- back to back -----------------------------------------------------------------------


@dataclass
class Verdict:
    """What the caller's token check concluded (a stand-in for Validator.validate())."""

    subject: str | None = None
    error: XmppOAuthError | None = None


def run_pair(
    verdict: Verdict, *, token: str = "tok.en", authzid: str | None = None
) -> tuple[Success | Failure, Success | Failure, ErrorChallenge | None]:
    """Drive a client and a server against each other like a real caller would."""
    client, server = OAuthBearerClient(), OAuthBearerServer()
    event = server.receive_data(client.initial_response(token, authzid=authzid, host="localhost"))
    assert isinstance(event, InitialResponse)
    assert event.token == token and event.authzid == authzid and event.host == "localhost"
    oidc = "https://auth.localhost/.well-known/openid-configuration"
    if event.is_discovery:
        reply = server.reject(
            status=BearerStatus.INVALID_TOKEN, scope="xmpp:client:normal", openid_configuration=oidc
        )
    elif verdict.error is not None:
        mapping = wire_mapping(verdict.error)
        assert mapping.bearer_status is not None
        scope = getattr(verdict.error, "scope", None) or None
        reply = server.reject(
            status=mapping.bearer_status,
            scope=scope,
            openid_configuration=oidc,
            condition=mapping.sasl_condition,
        )
    else:
        assert verdict.subject is not None
        outcome = server.accept(verdict.subject)
        return outcome, client.receive_success(), None
    challenge = client.receive_challenge(reply)
    server_outcome = server.receive_data(challenge.reply)
    assert isinstance(server_outcome, Failure)
    client_outcome = client.receive_failure(server_outcome.condition)
    return server_outcome, client_outcome, challenge


def test_pair_success() -> None:
    server_out, client_out, challenge = run_pair(Verdict(subject="alice@localhost"))
    assert server_out == Success(identity="alice@localhost")
    assert client_out == Success()
    assert challenge is None


def test_pair_success_with_matching_authzid_case_insensitive() -> None:
    server_out, _, _ = run_pair(Verdict(subject="alice@localhost"), authzid="Alice@LocalHost")
    assert server_out == Success(identity="alice@localhost")


@pytest.mark.parametrize(
    ("error", "status", "condition", "scope"),
    [
        (InvalidTokenError("expired"), "invalid_token", SaslCondition.CREDENTIALS_EXPIRED, None),
        (InvalidTokenError("signature"), "invalid_token", SaslCondition.NOT_AUTHORIZED, None),
        (InvalidTokenError("revoked"), "invalid_token", SaslCondition.NOT_AUTHORIZED, None),
        (
            InsufficientScopeError(scope="xmpp:client:normal"),
            "insufficient_scope",
            SaslCondition.NOT_AUTHORIZED,
            "xmpp:client:normal",
        ),
        (AuthzidMismatchError(), "invalid_token", SaslCondition.INVALID_AUTHZID, None),
    ],
)
def test_pair_failures(
    error: XmppOAuthError, status: str, condition: SaslCondition, scope: str | None
) -> None:
    server_out, client_out, challenge = run_pair(Verdict(error=error), authzid="bob@localhost")
    assert challenge is not None
    assert challenge.status == status
    assert challenge.scope == scope
    assert (
        challenge.openid_configuration == "https://auth.localhost/.well-known/openid-configuration"
    )
    assert isinstance(server_out, Failure) and server_out.condition is condition
    assert client_out == Failure(condition)


def test_pair_discovery() -> None:
    server_out, client_out, challenge = run_pair(Verdict(), token="")
    assert challenge is not None and challenge.scope == "xmpp:client:normal"
    assert server_out == Failure(
        SaslCondition.NOT_AUTHORIZED, "client acknowledged the error challenge"
    )
    assert client_out == Failure(SaslCondition.NOT_AUTHORIZED)


def test_direct_failure_without_challenge() -> None:
    client, server = OAuthBearerClient(), OAuthBearerServer()
    server.receive_data(client.initial_response("tok"))
    out = server.fail(SaslCondition.TEMPORARY_AUTH_FAILURE, "store down")
    assert out == Failure(SaslCondition.TEMPORARY_AUTH_FAILURE, "store down")
    assert client.receive_failure(out.condition).condition is SaslCondition.TEMPORARY_AUTH_FAILURE


def test_abort() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    server.reject()
    assert server.abort() == Failure(SaslCondition.ABORTED, "client aborted")
    with pytest.raises(SaslLocalError):
        server.abort()


# --- server: peer errors -> SaslRemoteError, machine FAILED ------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",  # RFC 7628 §3.1: lone kvsep only after an error
        b"n,,\x01\x01",  # auth is REQUIRED
        b"n,,\x01host=h\x01\x01",
        b"p=tls-exporter,,\x01auth=Bearer t\x01\x01",
        b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
        b"n,,\x01auth=MAC t\x01\x01",
        b"n,,\x01auth=Bearer t\x01port=0\x01\x01",
        b"n,,\x01auth=Bearer t\x01",
        b"n,,\x01auth=Bearer " + b"A" * 20000 + b"\x01\x01",
    ],
)
def test_server_malformed_initial_response(data: bytes) -> None:
    server = OAuthBearerServer()
    with pytest.raises(SaslRemoteError) as info:
        server.receive_data(data)
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST
    assert server.state is ServerState.FAILED
    with pytest.raises(SaslLocalError):
        server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")


@pytest.mark.parametrize("reply", [b"", b"\x01\x01", b"n,,\x01auth=Bearer t\x01\x01", b"*"])
def test_anything_but_kvsep_after_challenge_is_malformed(reply: bytes) -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    server.reject()
    with pytest.raises(SaslRemoteError):
        server.receive_data(reply)
    assert server.state is ServerState.FAILED


def test_client_speaking_out_of_turn_is_a_remote_error() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    with pytest.raises(SaslRemoteError):
        server.receive_data(b"\x01")
    assert server.state is ServerState.FAILED


def test_token_is_not_in_repr() -> None:
    event = OAuthBearerServer().receive_data(b"n,,\x01auth=Bearer sekrit\x01\x01")
    assert "sekrit" not in repr(event)


# --- server: caller misuse -> SaslLocalError ---------------------------------------------


def test_accept_before_data() -> None:
    with pytest.raises(SaslLocalError):
        OAuthBearerServer().accept("alice@localhost")


def test_reject_before_data() -> None:
    with pytest.raises(SaslLocalError):
        OAuthBearerServer().reject()


def test_cannot_accept_discovery() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=\x01\x01")
    with pytest.raises(SaslLocalError):
        server.accept("alice@localhost")
    assert server.state is ServerState.AWAIT_DECISION


def test_cannot_accept_someone_else_than_the_authzid() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,a=bob@localhost,\x01auth=Bearer t\x01\x01")
    with pytest.raises(SaslLocalError):
        server.accept("alice@localhost")
    with pytest.raises(SaslLocalError):
        server.accept("")


def test_accept_twice_and_after_reject() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    server.accept("alice@localhost")
    with pytest.raises(SaslLocalError):
        server.accept("alice@localhost")
    with pytest.raises(SaslLocalError):
        server.receive_data(b"\x01")
    other = OAuthBearerServer()
    other.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    other.reject()
    with pytest.raises(SaslLocalError):
        other.accept("alice@localhost")


@pytest.mark.parametrize("status", ["", 'bad"quote', "bad\\slash", "ünïcode"])
def test_reject_checks_status(status: str) -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    with pytest.raises(SaslLocalError):
        server.reject(status=status)


def test_reject_minimal_challenge() -> None:
    server = OAuthBearerServer()
    server.receive_data(b"n,,\x01auth=Bearer t\x01\x01")
    assert server.reject() == b'{"status":"invalid_token"}'


# --- client -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'"s"',
        b"{}",
        b'{"status": 1}',
        b'{"status": ""}',
        b'{"status": "x", "scope": 2}',
        b'{"status": "x", "openid-configuration": []}',
        b"\xff",
        b"[" * 100000,
    ],
)
def test_client_refuses_bad_challenges(data: bytes) -> None:
    client = OAuthBearerClient()
    client.initial_response("t")
    with pytest.raises(SaslRemoteError):
        client.receive_challenge(data)
    assert client.state is ClientState.FAILED


def test_client_refuses_success_after_challenge_and_second_challenge() -> None:
    for second in ("success", "challenge"):
        client = OAuthBearerClient()
        client.initial_response("t")
        client.receive_challenge(b'{"status":"invalid_token"}')
        with pytest.raises(SaslRemoteError):
            if second == "success":
                client.receive_success()
            else:
                client.receive_challenge(b'{"status":"invalid_token"}')
        assert client.state is ClientState.FAILED


def test_client_refuses_success_with_data() -> None:
    client = OAuthBearerClient()
    client.initial_response("t")
    with pytest.raises(SaslRemoteError):
        client.receive_success(b"v=123")


def test_client_misuse() -> None:
    client = OAuthBearerClient()
    with pytest.raises(SaslLocalError):
        client.receive_success()
    with pytest.raises(SaslLocalError):
        client.receive_failure("not-authorized")
    client.initial_response("t")
    with pytest.raises(SaslLocalError):
        client.initial_response("t")
    bad_calls: list[Callable[[OAuthBearerClient], bytes]] = [
        lambda c: c.initial_response("has space"),
        lambda c: c.initial_response("t", port=0),
        lambda c: c.initial_response("t", host="bad\x01host"),
        lambda c: c.initial_response("t", host="ünï.example"),
    ]
    for bad in bad_calls:
        with pytest.raises(SaslLocalError):
            bad(OAuthBearerClient())


def test_client_unknown_failure_condition() -> None:
    client = OAuthBearerClient()
    client.initial_response("t")
    out = client.receive_failure("made-up")
    assert out.condition is SaslCondition.NOT_AUTHORIZED


def test_client_empty_authzid_means_none() -> None:
    assert OAuthBearerClient().initial_response("t", authzid="") == b"n,,\x01auth=Bearer t\x01\x01"
