"""ejabberd external auth: framing (sans-IO), decisions, and the real stdin/stdout process."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmpp_oauth.runtime import Runtime
from xmpp_oauth.saslservice.extauth import (
    NO,
    YES,
    ExtauthHandler,
    FrameDecoder,
    encode_reply,
    encode_request,
    serve_frames,
)
from xmpp_oauth.saslservice.server import validator_check

from .conftest import PASSWORDS, issue_token


def test_reply_frames() -> None:
    assert encode_reply(True) == YES == b"\x00\x02\x00\x01"
    assert encode_reply(False) == NO == b"\x00\x02\x00\x00"


def test_decoder_handles_split_and_joined_frames() -> None:
    data = encode_request("isuser:a:b") + encode_request("auth:a:b:c:d") + encode_request("")
    decoder = FrameDecoder()
    frames: list[bytes] = []
    for i in range(len(data)):
        frames += decoder.feed(data[i : i + 1])
    assert frames == [b"isuser:a:b", b"auth:a:b:c:d", b""]
    assert decoder.pending == 0
    assert decoder.feed(b"\x00\x05ab") == [] and decoder.pending == 4


@given(st.lists(st.binary(max_size=300), max_size=10))
def test_decoder_roundtrip(payloads: list[bytes]) -> None:
    data = b"".join(struct.pack(">H", len(p)) + p for p in payloads)
    assert FrameDecoder().feed(data) == payloads


@pytest.fixture
def handler(runtime: Runtime) -> ExtauthHandler:
    return ExtauthHandler(store=runtime.store, token_check=validator_check(runtime.validator),
                          domains=runtime.settings.domains, clock=runtime.clock,
                          max_failures_per_minute=3)


async def test_auth_with_token_binds_to_the_user(handler: ExtauthHandler,
                                                 runtime: Runtime) -> None:
    token, _ = await issue_token(runtime, "alice@localhost")
    assert await handler.handle(f"auth:alice:localhost:{token}".encode())
    assert await handler.handle(f"auth:Alice:LOCALHOST:{token}".encode())
    assert not await handler.handle(f"auth:bob:localhost:{token}".encode())
    assert not await handler.handle(f"auth:alice:second.localhost:{token}".encode())
    assert not await handler.handle(f"auth:alice:elsewhere.example:{token}".encode())


async def test_auth_with_local_password(handler: ExtauthHandler) -> None:
    pw = PASSWORDS["alice@localhost"]  # contains ": " - the password is the whole rest
    assert await handler.handle(f"auth:alice:localhost:{pw}".encode())
    assert await handler.handle(f"auth:alice:localhost:{pw}".encode())  # cached path
    assert not await handler.handle(f"auth:alice:localhost:{pw}x".encode())
    assert not await handler.handle(b"auth:nobody:localhost:x")
    assert not await handler.handle(b"auth:alice:localhost:")


async def test_password_failures_are_throttled(handler: ExtauthHandler) -> None:
    for _ in range(3):
        assert not await handler.handle(b"auth:alice:localhost:wrong")
    pw = PASSWORDS["alice@localhost"]
    assert not await handler.handle(f"auth:alice:localhost:{pw}".encode())


async def test_isuser_and_everything_else(handler: ExtauthHandler) -> None:
    assert await handler.handle(b"isuser:alice:localhost")
    assert await handler.handle(b"isuser:carol:second.localhost")
    assert not await handler.handle(b"isuser:bob:localhost")
    assert not await handler.handle(b"isuser:alice:second.localhost")
    for frame in [b"setpass:alice:localhost:new", b"tryregister:x:localhost:pw",
                  b"removeuser:alice:localhost", b"removeuser3:alice:localhost:pw",
                  b"", b"auth", b"auth:alice", b"auth:alice:localhost", b"\xff\xfe",
                  b"isuser", b"isuser::", b"nonsense:::"]:
        assert not await handler.handle(frame), frame
    assert await handler.handle(b"isuser:alice:localhost")  # still alive


async def test_serve_frames_answers_in_order_until_eof(handler: ExtauthHandler) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_request("isuser:alice:localhost") + encode_request("bogus")
                     + encode_request("isuser:alice:localhost") + b"\x00\x10trunc")
    reader.feed_eof()
    out: list[bytes] = []
    assert await serve_frames(handler, reader, out.append) == 3
    assert out == [YES, NO, YES]


def test_extauth_process_over_pipes(runtime: Runtime, tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(f'domains = ["localhost", "second.localhost"]\n'
                      f'data_dir = "{runtime.settings.data_dir}"\n')
    pw = PASSWORDS["alice@localhost"]
    requests = (encode_request(f"auth:alice:localhost:{pw}") + encode_request("garbage")
                + encode_request("isuser:nobody:localhost")
                + encode_request("isuser:alice:localhost") + b"\x00\x09half")
    proc = subprocess.run([sys.executable, "-m", "xmpp_oauth", "-c", str(config), "extauth"],
                          input=requests, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == YES + NO + NO + YES  # nothing else ever reaches stdout
