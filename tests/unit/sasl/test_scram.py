"""SCRAM server over scramp: full exchanges against independent clients, authzid rules, records."""

from __future__ import annotations

import base64

import pytest
from scramp import ScramClient
from slixmpp.util.sasl.mechanisms import SCRAM as SlixScram

from xmpp_oauth.errors import SaslCondition, SaslLocalError, SaslRemoteError
from xmpp_oauth.sasl import (
    SCRAM_MECHANISMS,
    Failure,
    ScramLookup,
    ScramRecord,
    ScramServer,
    ScramServerState,
    Success,
    check_plain_password,
    make_scram_record,
    parse_scram_record,
)

PASSWORD = "pencil"


@pytest.fixture(scope="module")
def records() -> dict[str, str]:
    return {mech: make_scram_record(PASSWORD, mech) for mech in SCRAM_MECHANISMS}


def exchange(
    mechanism: str, record: str | None, *, password: str = PASSWORD, username: str = "alice"
) -> tuple[ScramServer, Success | Failure]:
    client = ScramClient([mechanism], username, password)
    server = ScramServer(mechanism, domain="localhost")
    lookup = server.receive_data(client.get_client_first().encode())
    assert lookup == ScramLookup(username, None)
    assert server.state is ScramServerState.AWAIT_RECORD
    client.set_server_first(server.respond(record).decode())
    outcome = server.receive_data(client.get_client_final().encode())
    assert not isinstance(outcome, ScramLookup)
    if isinstance(outcome, Success):
        client.set_server_final(outcome.data.decode())  # verifies the server signature
    return server, outcome


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_full_exchange_against_scramp_client(mechanism: str, records: dict[str, str]) -> None:
    server, outcome = exchange(mechanism, records[mechanism])
    assert isinstance(outcome, Success)
    assert outcome.identity == "alice"
    assert outcome.data.startswith(b"v=")
    assert server.state is ScramServerState.SUCCEEDED


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_wrong_password_fails(mechanism: str, records: dict[str, str]) -> None:
    server, outcome = exchange(mechanism, records[mechanism], password="wrong")
    assert outcome == Failure(SaslCondition.NOT_AUTHORIZED, "invalid client proof")
    assert server.state is ScramServerState.FAILED


def test_unknown_user_looks_like_a_wrong_password() -> None:
    server, outcome = exchange("SCRAM-SHA-256", None, username="nobody")
    assert outcome == Failure(SaslCondition.NOT_AUTHORIZED, "invalid client proof")


def test_unknown_user_salt_is_stable_and_per_user() -> None:
    def salt_of(user: str) -> bytes:
        server = ScramServer(nonce="fixed")
        server.receive_data(f"n,,n={user},r=abc".encode())
        first = dict(p.split("=", 1) for p in server.respond(None).decode().split(","))
        assert first["i"] == "4096"
        return base64.b64decode(first["s"])

    assert salt_of("ghost") == salt_of("ghost")
    assert salt_of("ghost") != salt_of("phantom")


def test_record_for_another_mechanism_is_a_local_error(records: dict[str, str]) -> None:
    server = ScramServer("SCRAM-SHA-256")
    server.receive_data(b"n,,n=alice,r=abc")
    with pytest.raises(SaslLocalError):
        server.respond(records["SCRAM-SHA-1"])
    with pytest.raises(SaslLocalError):
        server.respond("garbage")


def slix_client(mechanism: str, authzid: str, *, binding_proposed: bool) -> SlixScram:
    creds = {
        "username": b"alice",
        "password": PASSWORD.encode(),
        "authzid": authzid.encode(),
        "channel_binding": None,
    }
    security = {
        "encrypted": True,
        "binding_proposed": binding_proposed,
        "tls_version": None,
        "unencrypted_scram": False,
    }
    return SlixScram(mechanism, creds, security)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("authzid", ["", "alice", "alice@localhost", "Alice@LOCALHOST"])
@pytest.mark.parametrize("binding_proposed", [True, False])  # gs2 flag "n" / "y"
def test_authzid_equal_to_user_succeeds_with_slixmpp_client(
    authzid: str, binding_proposed: bool, records: dict[str, str]
) -> None:
    client = slix_client("SCRAM-SHA-256", authzid, binding_proposed=binding_proposed)
    server = ScramServer("SCRAM-SHA-256", domain="localhost")
    first = client.process(b"")
    assert first.startswith(b"n," if binding_proposed else b"y,")
    lookup = server.receive_data(first)
    assert lookup == ScramLookup("alice", authzid or None)
    final = client.process(server.respond(records["SCRAM-SHA-256"]))
    # c= covers the gs2-header as sent, authzid included (RFC 5802 §7).
    assert base64.b64decode(final.split(b",")[0][2:]) == first[: first.index(b",", 2) + 1]
    outcome = server.receive_data(final)
    assert isinstance(outcome, Success) and outcome.identity == "alice"
    assert client.process(outcome.data) == b""  # slixmpp verified the server signature


@pytest.mark.parametrize("authzid", ["bob", "bob@localhost", "alice@elsewhere"])
def test_authzid_for_someone_else_is_invalid_authzid(authzid: str) -> None:
    client = slix_client("SCRAM-SHA-256", authzid, binding_proposed=True)
    server = ScramServer("SCRAM-SHA-256", domain="localhost")
    outcome = server.receive_data(client.process(b""))
    assert isinstance(outcome, Failure)
    assert outcome.condition is SaslCondition.INVALID_AUTHZID
    assert server.state is ScramServerState.FAILED


def test_cbind_data_must_match_the_header_actually_sent(records: dict[str, str]) -> None:
    # scramp's client always sends "n,,"; claiming an authzid in the header it did not
    # cover with c= must fail.
    client = ScramClient(["SCRAM-SHA-256"], "alice", PASSWORD)
    first = client.get_client_first()
    server = ScramServer("SCRAM-SHA-256")
    server.receive_data(("n,a=alice," + first[3:]).encode())
    client.set_server_first(server.respond(records["SCRAM-SHA-256"]).decode())
    with pytest.raises(SaslRemoteError):
        server.receive_data(client.get_client_final().encode())
    assert server.state is ScramServerState.FAILED


@pytest.mark.parametrize(
    "first",
    [
        b"",
        b"p=tls-unique,,n=alice,r=abc",  # no channel binding offered
        b"n,,m=ext,n=alice,r=abc",
        b"n,,r=abc,n=alice",
        b"n,,n=alice",
        b"n,,n=alice,r=",
        b"n,,n=,r=abc",
        b"n,,n=al=ice,r=abc",
        b"n,,n=\xff,r=abc",
        b"n,,n=al\x07ice,r=abc",
        b"n,,n=alice,r=" + b"x" * 9000,
    ],
)
def test_malformed_client_first(first: bytes) -> None:
    server = ScramServer()
    with pytest.raises(SaslRemoteError):
        server.receive_data(first)
    assert server.state is ScramServerState.FAILED


def test_client_first_refused_by_scramp_at_respond(records: dict[str, str]) -> None:
    server = ScramServer()
    server.receive_data(b"n,,n=alice,r=abc,junk")  # attribute without "=": scramp refuses it
    with pytest.raises(SaslRemoteError):
        server.respond(records["SCRAM-SHA-256"])
    assert server.state is ScramServerState.FAILED


@pytest.mark.parametrize("final", [b"", b"garbage", b"c=biws,r=wrong,p=AAAA", b"\xff"])
def test_malformed_client_final(final: bytes, records: dict[str, str]) -> None:
    server = ScramServer()
    server.receive_data(b"n,,n=alice,r=abc")
    server.respond(records["SCRAM-SHA-256"])
    with pytest.raises(SaslRemoteError):
        server.receive_data(final)
    assert server.state is ScramServerState.FAILED


def test_state_misuse(records: dict[str, str]) -> None:
    server = ScramServer()
    with pytest.raises(SaslLocalError):
        server.respond(records["SCRAM-SHA-256"])
    server.receive_data(b"n,,n=alice,r=abc")
    with pytest.raises(SaslRemoteError):  # client spoke before server-first
        server.receive_data(b"c=biws,r=abc,p=AAAA")
    with pytest.raises(SaslLocalError):
        server.receive_data(b"anything")
    with pytest.raises(SaslLocalError):
        ScramServer("SCRAM-SHA-256-PLUS")
    aborted = ScramServer()
    assert aborted.abort() == Failure(SaslCondition.ABORTED, "client aborted")
    with pytest.raises(SaslLocalError):
        aborted.abort()


# --- records and PLAIN-against-SCRAM -----------------------------------------------------


def test_record_roundtrip() -> None:
    text = make_scram_record("secret", "SCRAM-SHA-256", iterations=5000)
    rec = parse_scram_record(text)
    assert isinstance(rec, ScramRecord)
    assert rec.iterations == 5000
    assert len(rec.stored_key) == len(rec.server_key) == 32
    assert rec.to_str() == text
    assert base64.b64encode(rec.stored_key).decode() not in repr(rec)
    assert len(parse_scram_record(make_scram_record("x", "SCRAM-SHA-1")).stored_key) == 20
    assert make_scram_record("secret") != make_scram_record("secret")  # fresh salt each time


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a,b,c",
        "a,b,c,d",
        "!!,AAAA,AAAA,4096",
        "AAAA,AAAA,AAAAAAAA,4096",
        "AAAA,AAAA,AAAA,4096",
        "AAAA,AAAA,AAAA,-1",
    ],
)
def test_bad_records(text: str) -> None:
    with pytest.raises(ValueError):
        parse_scram_record(text)


def test_make_record_refuses_what_saslprep_refuses() -> None:
    with pytest.raises(ValueError):
        make_scram_record("bad\u0007password")
    with pytest.raises(ValueError):
        make_scram_record("fine", iterations=100)


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_check_plain_password(mechanism: str, records: dict[str, str]) -> None:
    record = records[mechanism]
    assert check_plain_password(record, PASSWORD, mechanism=mechanism) is True
    assert check_plain_password(parse_scram_record(record), PASSWORD, mechanism=mechanism)
    assert check_plain_password(record, "Pencil", mechanism=mechanism) is False
    assert check_plain_password(record, "", mechanism=mechanism) is False
    assert check_plain_password(record, "bad\u0007", mechanism=mechanism) is False


def test_check_plain_password_applies_saslprep_like_scram() -> None:
    # RFC 4013: U+00A0 (no-break space) maps to U+0020, U+00AD (soft hyphen) to nothing.
    record = make_scram_record("a b")
    assert check_plain_password(record, "a\u00a0b")
    assert check_plain_password(record, "a \u00adb")


def test_check_plain_password_wrong_record_kind(records: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        check_plain_password(records["SCRAM-SHA-1"], PASSWORD)
    with pytest.raises(ValueError):
        check_plain_password("nope", PASSWORD)
