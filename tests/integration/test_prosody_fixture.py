"""The Prosody fixture itself: private instance, users, restart, component port, TLS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .servers import ProsodyHost, ProsodyServer, TlsFiles, port_open, xmpp_login

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1"])
async def test_internal_accounts_log_in_over_starttls(prosody: ProsodyServer,
                                                      mechanism: str) -> None:
    ok = await xmpp_login("alice@localhost", port=prosody.c2s_port, mechanism=mechanism,
                          password="alice-password", ca_file=prosody.ca_file)
    assert ok.success, ok
    assert ok.bare_jid == "alice@localhost"
    bad = await xmpp_login("alice@localhost", port=prosody.c2s_port, mechanism=mechanism,
                           password="wrong", ca_file=prosody.ca_file)
    assert not bad.success and bad.condition == "not-authorized", bad


async def test_users_added_live_and_restart(prosody: ProsodyServer) -> None:
    prosody.add_user("Bob.Smith@localhost", "pä:ss\"word")
    ok = await xmpp_login("bob.smith@localhost", port=prosody.c2s_port, mechanism="PLAIN",
                          password="pä:ss\"word", ca_file=prosody.ca_file)
    assert ok.success, ok
    assert port_open(prosody.component_port)
    prosody.restart()
    ok = await xmpp_login("alice@localhost", port=prosody.c2s_port, mechanism="PLAIN",
                          password="alice-password", ca_file=prosody.ca_file)
    assert ok.success, ok


async def test_plaintext_and_two_hosts(prosody_factory: Callable[..., ProsodyServer],
                                       tls_files: TlsFiles) -> None:
    server = prosody_factory(
        hosts=[ProsodyHost("localhost", auth="internal_plain"), ProsodyHost("second.localhost")],
        users=[("alice@localhost", "pw1"), ("carol@second.localhost", "pw2")],
    )
    ok = await xmpp_login("carol@second.localhost", port=server.c2s_port, mechanism="PLAIN",
                          password="pw2")
    assert ok.success and ok.bare_jid == "carol@second.localhost", ok
    ok = await xmpp_login("alice@localhost", port=server.c2s_port, mechanism="PLAIN",
                          password="pw1")
    assert ok.success, ok
    server.stop()
    assert not server.running
    assert not port_open(server.c2s_port)
