"""The ejabberd fixture itself: private instance on free ports, component port, restart."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .servers import EjabberdHost, EjabberdServer, TlsFiles, port_open, xmpp_login

pytestmark = pytest.mark.integration

# A stand-in external auth program: accepts password "pw" for anyone (fixture test only).
TOY_EXTAUTH = """
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(2)
    if len(head) < 2:
        break
    data = inp.read(struct.unpack(">H", head)[0]).decode()
    ok = data.startswith("auth:") and data.split(":", 3)[3] == "pw"
    out.write(struct.pack(">HH", 2, 1 if ok else 0))
    out.flush()
"""


async def test_ejabberd_starts_serves_and_restarts(
    ejabberd_factory: Callable[..., EjabberdServer], tls_files: TlsFiles, tmp_path: Path
) -> None:
    script = tmp_path / "toy_extauth.py"
    script.write_text(TOY_EXTAUTH)
    server = ejabberd_factory(
        hosts=[EjabberdHost("ext.localhost", auth="external",
                            extauth_program=f"{sys.executable} {script}")],
        tls=tls_files,
        components={"oauth.localhost": "secret"},
    )
    assert port_open(server.component_port)
    ok = await xmpp_login("alice@ext.localhost", port=server.c2s_port, mechanism="PLAIN",
                          password="pw", ca_file=server.ca_file)
    assert ok.success and ok.bare_jid == "alice@ext.localhost", ok
    bad = await xmpp_login("alice@ext.localhost", port=server.c2s_port, mechanism="PLAIN",
                           password="nope", ca_file=server.ca_file)
    assert not bad.success and bad.condition == "not-authorized", bad
    server.restart()
    ok = await xmpp_login("alice@ext.localhost", port=server.c2s_port, mechanism="PLAIN",
                          password="pw", ca_file=server.ca_file)
    assert ok.success, ok
