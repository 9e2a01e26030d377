"""Protocol-level robustness: garbage, unknown commands, huge lines, half-closed connections and
a client that never reads must not keep the service from serving everyone else."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

from .conftest import Service, issue_token
from .dovecot_client import DovecotClient


async def assert_serves(service: Service, token: str, within: float = 1.0) -> None:
    started = time.monotonic()
    client = await service.client()
    (reply,) = await client.oauthbearer(token)
    assert reply.kind == "OK"
    await client.close()
    assert time.monotonic() - started < within


async def test_garbage_and_unknown_commands_are_survived(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client()
    client.writer.write(
        b"\x00\xff\xfe garbage\n"
        b"NOSUCH\tcommand\n"
        b"CANCEL\t3\n"
        b"AUTH\n"
        b"AUTH\tnot-a-number\tPLAIN\n"
        b"CONT\t1\n"  # unknown id: answered, never left hanging
        b"AUTH\t2\tPLAIN\tresp=!!!\n"
        b"\t\t\t\n"
        + os.urandom(2000).replace(b"\n", b"") + b"\n"
    )
    first = await client.read()
    second = await client.read()
    assert (first.kind, first.id) == ("FAIL", 1)
    assert (second.kind, second.id) == ("FAIL", 2)
    (reply,) = await client.oauthbearer(token)  # the same connection still works
    assert reply.kind == "OK"
    await client.close()
    await assert_serves(service, token)


async def test_huge_lines_are_bounded_and_answered(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    client = await service.client()
    limit = service.runtime.settings.sasl.max_line_length
    client.writer.write(b"AUTH\t5\tOAUTHBEARER\tservice=xmpp\tresp=" + b"QUFB" * limit + b"\n")
    client.writer.write(b"x" * (3 * limit))  # no newline at all, for a while
    reply = await client.read(timeout=10)
    assert (reply.kind, reply.id) == ("FAIL", 5)
    await assert_serves(service, token)
    client.writer.write(b"\n")
    (reply,) = await client.oauthbearer(token)
    assert reply.kind == "OK"
    await client.close()


async def test_half_closed_connection_still_gets_its_answers(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    reader, writer = await asyncio.open_unix_connection(service.sockets["localhost"])
    writer.write(b"VERSION\t1\t1\n")
    auth = f"n,,\x01auth=Bearer {token}\x01\x01".encode()
    b64 = base64.b64encode(auth).decode()
    pw = base64.b64encode("\0alice\0alice-pw: ü".encode()).decode()
    writer.write(f"AUTH\t1\tOAUTHBEARER\tservice=xmpp\tresp={b64}\n".encode())
    writer.write(f"AUTH\t2\tPLAIN\tservice=xmpp\tresp={pw}\n".encode())
    writer.write_eof()  # half-close: nothing more to say, still listening
    data = await asyncio.wait_for(reader.read(), 5)  # until the service closes
    lines = [ln for ln in data.decode().splitlines() if ln.startswith(("OK", "FAIL"))]
    assert sorted(lines) == ["OK\t1\tuser=alice@localhost", "OK\t2\tuser=alice@localhost"]
    writer.close()
    await assert_serves(service, token)


async def test_abrupt_disconnects_mid_exchange(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    for _ in range(20):
        client = await service.client()
        client.send_auth(1, "PLAIN", b"\0alice\0wrong-but-slow-to-check")
        client.send_auth(2, "OAUTHBEARER", None)
        client.writer.transport.abort()
    await assert_serves(service, token)


async def test_client_that_never_reads_blocks_nobody(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    # A raw socket with a tiny receive buffer that sends requests and never reads replies.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(service.sockets["localhost"])
    sock.setblocking(False)
    line = b"AUTH\t1\tOAUTHBEARER\tservice=xmpp\tresp==\n"  # each answered with a CONT
    sent = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            sent += sock.send(line * 256)
        except BlockingIOError:
            # Both directions are full: the service stopped reading from this client.
            await asyncio.sleep(0.2)
            try:
                sent += sock.send(line * 256)
            except BlockingIOError:
                break
        await asyncio.sleep(0)
    assert sent > 100_000
    # Others are served promptly, repeatedly, on every listener.
    for _ in range(5):
        await assert_serves(service, token, within=0.5)
    other = await DovecotClient.connect(port=service.ports["localhost"])
    (reply,) = await other.oauthbearer(token)
    assert reply.kind == "OK"
    await other.close()
    sock.close()
    await assert_serves(service, token)


async def test_many_connections_at_once(service: Service) -> None:
    token, _ = await issue_token(service.runtime, "alice@localhost")
    clients = [await service.client(tcp=i % 2 == 1) for i in range(50)]
    results = await asyncio.gather(*(c.oauthbearer(token) for c in clients))
    assert all(r[0].kind == "OK" for r in results)
    for c in clients:
        await c.close()


async def test_wrong_protocol_major_is_disconnected(service: Service) -> None:
    reader, writer = await asyncio.open_unix_connection(service.sockets["localhost"])
    writer.write(b"VERSION\t2\t0\n")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.endswith(b"DONE\n")  # handshake, then closed
    writer.close()
