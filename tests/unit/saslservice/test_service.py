"""The SASL service over real sockets: every mechanism, binding, domains, throttling."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from scramp import ScramClient

from xmpp_oauth.runtime import Runtime

from .conftest import PASSWORDS, Service, issue_token
from .dovecot_client import DovecotClient

DISCOVERY = "/.well-known/openid-configuration"


async def test_handshake_advertises_mechanisms(service: Service) -> None:
    client = await service.client()
    assert list(client.mechanisms) == ["OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
    assert client.mechanisms["PLAIN"] == ["plaintext"]
    assert client.handshake[0] == "VERSION\t1\t2"
    assert [h.split("\t")[0] for h in client.handshake[-4:]] == ["SPID", "CUID", "COOKIE",
                                                                 "DONE"]
    await client.close()


@pytest.mark.parametrize("tcp", [False, True])
async def test_valid_token_logs_in_its_owner(service: Service, tcp: bool) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client(tcp=tcp)
    (reply,) = await client.oauthbearer(token)
    assert reply.kind == "OK" and reply.params["user"] == "alice@localhost"
    # With the owner as authzid, too (case-insensitive), and several on one connection.
    (reply,) = await client.oauthbearer(token, authzid="Alice@LOCALHOST")
    assert reply.kind == "OK" and reply.params["user"] == "alice@localhost"
    await client.close()


def challenge_json(reply_data: bytes) -> dict[str, str]:
    body = json.loads(reply_data)
    assert isinstance(body, dict)
    return body


async def test_authzid_of_someone_else_is_invalid_authzid(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client()
    challenge, fail = await client.oauthbearer(token, authzid="bob@localhost")
    body = challenge_json(challenge.data)
    assert body["status"] == "invalid_token"
    assert body["openid-configuration"].endswith(DISCOVERY)
    assert fail.kind == "FAIL" and "authz" in fail.flags and "temp" not in fail.flags
    assert "user" not in fail.params
    await client.close()


async def test_empty_token_gets_the_discovery_challenge(service: Service) -> None:
    client = await service.client()
    challenge, fail = await client.oauthbearer("")
    body = challenge_json(challenge.data)
    assert body == {"status": "invalid_token",
                    "openid-configuration": service.runtime.settings.openid_configuration_url}
    assert fail.kind == "FAIL" and not fail.flags
    await client.close()


async def test_refused_tokens(service: Service) -> None:
    rt = service.runtime
    now = rt.clock.now()
    expired, _ = await issue_token(rt, "alice@localhost", ttl=60, now=now - 3600)
    wrong_aud, _ = await issue_token(rt, "alice@localhost", audience=["xmpp:elsewhere.example"])
    openid_only, _ = await issue_token(rt, "alice@localhost", scopes=["openid"])
    client = await service.client()
    for token, status in [(expired, "invalid_token"), (wrong_aud, "invalid_token"),
                          (openid_only, "insufficient_scope"), ("not.a.jwt", "invalid_token"),
                          (expired + "x", "invalid_token")]:
        challenge, fail = await client.oauthbearer(token)
        assert challenge.kind == "CONT", token
        assert challenge_json(challenge.data)["status"] == status
        assert fail.kind == "FAIL" and not fail.flags
    challenge, _ = await client.oauthbearer(openid_only)
    assert challenge_json(challenge.data)["scope"] == "xmpp xmpp:client:normal"
    await client.close()


async def test_revoked_grant_is_refused_within_a_second(service: Service) -> None:
    rt = service.runtime
    token, grant_id = await issue_token(rt, "alice@localhost")
    client = await service.client()
    assert (await client.oauthbearer(token))[0].kind == "OK"
    await rt.store.revoke_grant(grant_id, reason="test", now=rt.clock.now())
    deadline = time.monotonic() + 1.5
    while True:
        replies = await client.oauthbearer(token)
        if replies[-1].kind == "FAIL":
            break
        assert time.monotonic() < deadline, "revocation not seen within the poll interval"
        await asyncio.sleep(0.05)
    await client.close()


async def test_listener_serves_only_its_domain(service: Service) -> None:
    alice_token, _ = await issue_token(service.runtime, "alice@localhost")
    carol_token, _ = await issue_token(service.runtime, "carol@second.localhost")
    second = await service.client("second.localhost")
    replies = await second.oauthbearer(alice_token)
    assert replies[-1].kind == "FAIL"
    replies = await second.oauthbearer(carol_token)
    assert replies[0].kind == "OK" and replies[0].params["user"] == "carol@second.localhost"
    # Passwords too: alice exists, but not on this listener's domain.
    plain = f"\0alice@localhost\0{PASSWORDS['alice@localhost']}".encode()
    assert (await second.auth("PLAIN", plain)).kind == "FAIL"
    plain = f"\0alice\0{PASSWORDS['alice@localhost']}".encode()
    assert (await second.auth("PLAIN", plain)).kind == "FAIL"
    await second.close()


@pytest.mark.parametrize("authcid", ["alice", "alice@localhost", "ALICE"])
async def test_plain_with_local_password(service: Service, authcid: str) -> None:
    client = await service.client()
    pw = PASSWORDS["alice@localhost"]
    for _ in range(2):  # the second time from the verified-password cache
        reply = await client.auth("PLAIN", f"\0{authcid}\0{pw}".encode())
        assert reply.kind == "OK" and reply.params["user"] == "alice@localhost"
    reply = await client.auth("PLAIN", f"\0{authcid}\0{pw}x".encode())
    assert reply.kind == "FAIL" and not reply.flags
    reply = await client.auth("PLAIN", f"alice@localhost\0{authcid}\0{pw}".encode())
    assert reply.kind == "OK"
    reply = await client.auth("PLAIN", f"bob@localhost\0{authcid}\0{pw}".encode())
    assert reply.kind == "FAIL" and "authz" in reply.flags
    reply = await client.auth("PLAIN", b"\0nobody\0whatever")
    assert reply.kind == "FAIL"
    reply = await client.auth("PLAIN", b"no-nul-at-all")
    assert reply.kind == "FAIL"
    await client.close()


async def scram_login(client: DovecotClient, mechanism: str, user: str, password: str,
                      authzid: str | None = None) -> tuple[str, ScramClient, list[str]]:
    scram = ScramClient([mechanism], user, password)
    first = scram.get_client_first()
    if authzid:
        first = f"n,a={authzid}," + first[3:]
    req = client.new_id()
    reply = await client.auth(mechanism, first.encode(), req)
    if reply.kind != "CONT":
        return reply.kind, scram, reply.fields
    scram.set_server_first(reply.data.decode())
    reply = await client.cont(req, scram.get_client_final().encode())
    if reply.kind == "OK":
        scram.set_server_final(reply.data.decode())  # verifies the server signature
    return reply.kind, scram, reply.fields


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
async def test_scram_with_local_password(service: Service, mechanism: str) -> None:
    client = await service.client()
    pw = PASSWORDS["alice@localhost"]
    kind, _, fields = await scram_login(client, mechanism, "alice", pw)
    assert kind == "OK" and "user=alice@localhost" in fields
    kind, _, _ = await scram_login(client, mechanism, "alice", pw + "!")
    assert kind == "FAIL"
    kind, _, _ = await scram_login(client, mechanism, "nobody", pw)
    assert kind == "FAIL"
    kind, _, fields = await scram_login(client, mechanism, "alice", pw, authzid="bob@localhost")
    assert kind == "FAIL" and "authz" in fields
    await client.close()


async def test_failures_are_throttled_at_once(service: Service) -> None:
    client = await service.client()
    pw = PASSWORDS["alice@localhost"]
    for _ in range(5):  # sasl.max_failures_per_minute = 5 in these tests
        assert (await client.auth("PLAIN", b"\0alice\0wrong")).kind == "FAIL"
    started = time.monotonic()
    reply = await client.auth("PLAIN", f"\0alice\0{pw}".encode())
    assert reply.kind == "FAIL" and "temp" in reply.flags
    kind, _, fields = await scram_login(client, "SCRAM-SHA-256", "alice", pw)
    assert kind == "FAIL" and "temp" in fields
    assert time.monotonic() - started < 0.1
    # Tokens are not affected by password throttling; other accounts neither.
    token, _ = await issue_token(service.runtime, "alice@localhost")
    assert (await client.oauthbearer(token))[0].kind == "OK"
    second = await service.client("second.localhost")
    reply = await second.auth("PLAIN", f"\0carol\0{PASSWORDS['carol@second.localhost']}".encode())
    assert reply.kind == "OK"
    await client.close()
    await second.close()


async def test_no_initial_response_gets_an_empty_challenge(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client()
    for mech, message in [("OAUTHBEARER", f"n,,\x01auth=Bearer {token}\x01\x01".encode()),
                          ("PLAIN", f"\0alice\0{PASSWORDS['alice@localhost']}".encode())]:
        req = client.new_id()
        reply = await client.auth(mech, None, req)
        assert reply.kind == "CONT" and reply.fields == ["="]
        reply = await client.cont(req, message)
        assert reply.kind == "OK" and reply.id == req
    await client.close()


async def test_pipelined_requests_and_ids_echoed(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client()
    ids = [10_000 + i for i in range(50)]
    for req in ids:
        client.send_auth(req, "OAUTHBEARER", f"n,,\x01auth=Bearer {token}\x01\x01".encode())
    client.send_auth(99, "DIGEST-MD5", b"x")
    client.send_cont(12345, b"\x01")
    replies = [await client.read() for _ in range(len(ids) + 2)]
    assert [r.id for r in replies[:50]] == ids and {r.kind for r in replies[:50]} == {"OK"}
    assert (replies[50].kind, replies[50].id) == ("FAIL", 99)
    assert (replies[51].kind, replies[51].id) == ("FAIL", 12345)
    await client.close()


async def test_stale_account_data_means_temporary_failure(service: Service,
                                                          runtime: Runtime) -> None:
    cache = service.service.accounts
    assert cache is not None
    cache.max_staleness = -1.0  # as if the store had been unreachable for too long
    client = await service.client()
    reply = await client.auth("PLAIN", f"\0alice\0{PASSWORDS['alice@localhost']}".encode())
    assert reply.kind == "FAIL" and "temp" in reply.flags
    kind, _, fields = await scram_login(client, "SCRAM-SHA-1", "alice", "x")
    assert kind == "FAIL" and "temp" in fields
    token, _ = await issue_token(runtime, "alice@localhost")
    assert (await client.oauthbearer(token))[0].kind == "OK"  # tokens need no account data
    await client.close()


def test_default_listeners_one_socket_per_domain(runtime: Runtime) -> None:
    from xmpp_oauth.saslservice.server import default_listeners

    listeners = default_listeners(runtime.settings)
    assert [(lst.domain, Path(lst.socket).name) for lst in listeners] == [
        ("localhost", "sasl-localhost.sock"), ("second.localhost", "sasl-second.localhost.sock")]


def test_non_loopback_tcp_is_refused(runtime: Runtime) -> None:
    from xmpp_oauth.errors import ConfigError
    from xmpp_oauth.saslservice.server import build_sasl_service
    from xmpp_oauth.settings import SaslListener

    with pytest.raises(ConfigError, match="loopback"):
        build_sasl_service(runtime, listeners=[SaslListener(domain="localhost",
                                                            host="0.0.0.0", port=5555)])


async def test_socket_mode_and_stale_socket_replaced(runtime: Runtime, tmp_path: Path) -> None:
    import os
    import socket
    import stat

    from xmpp_oauth.saslservice.server import build_sasl_service
    from xmpp_oauth.settings import SaslListener

    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # left behind by a crashed run
    stale.close()
    svc = build_sasl_service(runtime, listeners=[SaslListener(domain="localhost",
                                                              socket=str(path),
                                                              socket_mode=0o600)])
    await svc.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        client = await DovecotClient.connect(path=str(path))
        await client.close()
    finally:
        await svc.close()
    assert not path.exists()


async def test_password_mechanisms_are_not_offered_without_local_accounts(
    runtime: Runtime, tmp_path: Path
) -> None:
    from xmpp_oauth.saslservice.server import SaslService, validator_check
    from xmpp_oauth.settings import SaslListener

    svc = SaslService(listeners=[SaslListener(domain="localhost",
                                              socket=str(tmp_path / "t.sock"))],
                      token_check=validator_check(runtime.validator),
                      openid_configuration="https://x.example/.well-known/openid-configuration")
    await svc.start()
    try:
        client = await DovecotClient.connect(path=str(tmp_path / "t.sock"))
        assert list(client.mechanisms) == ["OAUTHBEARER"]
        reply = await client.auth("PLAIN", b"\0alice\0alice-pw: \xc3\xbc")
        assert reply.kind == "FAIL"
        await client.close()
    finally:
        await svc.close()
