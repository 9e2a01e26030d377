"""The ``xmpp`` account backend against a real Prosody with an internal account.

A private Prosody from the shared fixtures (``servers.py``: own dirs, a free loopback port,
STARTTLS with a throw-away certificate) is started for this module.  Right password accepted,
wrong refused, server down, server silent and untrusted certificate all give clean, typed errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import require
from xmpp_oauth.accounts.xmpp import XmppAccounts
from xmpp_oauth.errors import InvalidCredentialsError, StoreError
from xmpp_oauth.settings import AccountSettings

from .servers import ProsodyHost, ProsodyServer, TlsFiles, free_port, prosody_available

pytestmark = pytest.mark.integration

PASSWORD = "correct horse: battery staple"


@pytest.fixture(scope="module")
def prosody(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles,
            ) -> Iterator[ProsodyServer]:
    require(prosody_available(), "Prosody not installed (apt-get install prosody "
                                 "prosody-modules lua-sec lua-socket)")
    server = ProsodyServer(tmp_path_factory.mktemp("prosody"), hosts=[ProsodyHost("localhost")],
                           tls=tls_files, users=[("alice@localhost", PASSWORD)])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _backend(port: int, ca_file: Path | None, timeout: float = 10.0) -> XmppAccounts:
    settings = AccountSettings(backend="xmpp", xmpp_host="127.0.0.1", xmpp_port=port,
                               xmpp_timeout=timeout,
                               xmpp_ca_file=str(ca_file) if ca_file else "")
    return XmppAccounts(settings, domains=("localhost",))


async def test_right_password_is_accepted(prosody: ProsodyServer) -> None:
    await _backend(prosody.c2s_port, prosody.ca_file).authenticate("alice@localhost", PASSWORD)
    # Case of the local part does not matter (nodeprep), the password's does.
    await _backend(prosody.c2s_port, prosody.ca_file).authenticate("Alice@localhost", PASSWORD)


@pytest.mark.parametrize("jid,password", [
    ("alice@localhost", "wrong"),
    ("alice@localhost", PASSWORD.upper()),
    ("nobody@localhost", PASSWORD),
    ("alice@elsewhere.example", PASSWORD),  # not a domain we serve: never sent anywhere
    ("alice@localhost", ""),
])
async def test_wrong_credentials_are_refused(prosody: ProsodyServer, jid: str,
                                             password: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        await _backend(prosody.c2s_port, prosody.ca_file).authenticate(jid, password)


async def test_untrusted_certificate_is_not_given_the_password(prosody: ProsodyServer) -> None:
    with pytest.raises(StoreError) as err:
        await _backend(prosody.c2s_port, None).authenticate("alice@localhost", PASSWORD)
    assert str(err.value).startswith(f"xmpp 127.0.0.1:{prosody.c2s_port}: ")


async def test_server_down_is_a_clean_error() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        await _backend(port, None, timeout=5).authenticate("alice@localhost", PASSWORD)
    assert str(err.value).startswith(f"xmpp 127.0.0.1:{port}: cannot connect")
    assert time.monotonic() - started < 5


async def test_silent_server_times_out_cleanly() -> None:
    """A peer that accepts TCP and then says nothing: StoreError after xmpp_timeout."""
    accepted: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _r, w: accepted.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="no answer within 0.5 s") as err:
            await _backend(port, None, timeout=0.5).authenticate("alice@localhost", PASSWORD)
        assert str(err.value).startswith(f"xmpp 127.0.0.1:{port}: ")
        assert time.monotonic() - started < 3
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
