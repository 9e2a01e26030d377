"""The slixmpp OAUTHBEARER mechanism, driven directly and at stanza level (SlixTest)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.test import SlixTest
from slixmpp.util.sasl import client as sasl_client

from xmpp_oauth.sasl import ClientState, ErrorChallenge
from xmpp_oauth.sasl.slixmpp_mech import (
    ERROR_CHALLENGE_EVENT,
    OAuthBearerMech,
    register_slixmpp_mechanism,
    unregister_slixmpp_mechanism,
)

SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
CHALLENGE_JSON = (
    b'{"status":"invalid_token","scope":"xmpp:client:normal",'
    b'"openid-configuration":"https://auth.localhost/.well-known/openid-configuration"}'
)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    register_slixmpp_mechanism()
    yield
    unregister_slixmpp_mechanism()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_import_has_no_side_effect_and_sasl_does_not_need_slixmpp() -> None:
    code = (
        "import sys, xmpp_oauth.sasl\n"
        "assert 'slixmpp' not in sys.modules\n"
        "import xmpp_oauth.sasl.slixmpp_mech\n"
        "import slixmpp.util.sasl.client as c\n"
        "assert 'OAUTHBEARER' not in c.MECHANISMS\n"
        "xmpp_oauth.sasl.slixmpp_mech.register_slixmpp_mechanism()\n"
        "assert 'OAUTHBEARER' in c.MECHANISMS\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the Mech on its own, through slixmpp's own mechanism chooser ------------------------


def choose(creds: dict[str, Any], *, encrypted: bool = True, knob: bool = False) -> Any:
    def credentials(required: Iterable[str], optional: Iterable[str]) -> dict[str, Any]:
        wanted = {*required, *optional}
        out = {k: v for k, v in creds.items() if k in wanted}
        if "host" in wanted:
            out.setdefault("host", "localhost")  # what feature_mechanisms does
        return out

    def security(values: Iterable[str]) -> dict[str, Any]:
        return {
            "encrypted": encrypted,
            "unencrypted_oauthbearer": knob,
            "unencrypted_plain": False,
            "encrypted_plain": True,
        }

    return sasl_client.choose(["OAUTHBEARER", "PLAIN"], credentials, security)


def test_chosen_over_password_mechanisms_when_a_token_is_configured() -> None:
    mech = choose({"access_token": "tok", "username": "alice", "password": "pw"})
    assert isinstance(mech, OAuthBearerMech)
    assert mech.process() == b"n,,\x01host=localhost\x01auth=Bearer tok\x01\x01"


def test_without_token_slixmpp_falls_back() -> None:
    mech = choose({"username": "alice", "password": "pw"})
    assert mech.name == "PLAIN"


def test_refuses_unencrypted_streams_unless_configured() -> None:
    # RFC 7628 §3: no bearer token over a plaintext stream (PLAIN refuses too, so nothing is left).
    with pytest.raises(sasl_client.SASLNoAppropriateMechanism):
        choose({"access_token": "t", "username": "a", "password": "p"}, encrypted=False)
    assert isinstance(choose({"access_token": "t"}, encrypted=False, knob=True), OAuthBearerMech)


def test_authzid_and_idn_host() -> None:
    mech = choose({"access_token": "tok", "authzid": "a,b@localhost", "host": "bücher.example"})
    assert mech.process() == (
        b"n,a=a=2Cb@localhost,\x01host=xn--bcher-kva.example\x01auth=Bearer tok\x01\x01"
    )


def test_error_challenge_then_success_is_refused() -> None:
    mech = choose({"access_token": "tok"})
    mech.process()
    assert mech.process(CHALLENGE_JSON) == b"\x01"
    assert mech.error_challenge == ErrorChallenge(
        "invalid_token",
        "xmpp:client:normal",
        "https://auth.localhost/.well-known/openid-configuration",
    )
    with pytest.raises(sasl_client.SASLMutualAuthFailed):
        mech.process(b"")


def test_garbage_challenge_makes_slixmpp_abort() -> None:
    mech = choose({"access_token": "tok"})
    mech.process()
    with pytest.raises(sasl_client.SASLFailed):
        mech.process(b"not json")


def test_bad_token_cancels_the_mechanism() -> None:
    mech = choose({"access_token": "not a b64token"})
    with pytest.raises(sasl_client.SASLCancelled):
        mech.process()


# --- stanza level ---------------------------------------------------------------------


class TestOAuthBearerStream(SlixTest):
    def setUp(self) -> None:
        # Own event loop per test, closed in tearDown (SlixTest would share a leaked one).
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        register_slixmpp_mechanism()
        self.stream_start(
            mode="client",
            jid="alice@localhost/res",
            password="",
            plugins=[],
            plugin_config={"feature_mechanisms": {"unencrypted_oauthbearer": True}},
        )
        self.challenges: list[ErrorChallenge] = []
        self.events: list[str] = []
        register_slixmpp_mechanism(self.xmpp)
        register_slixmpp_mechanism(self.xmpp)  # idempotent: one handler only
        self.xmpp.add_event_handler(ERROR_CHALLENGE_EVENT, self.challenges.append)
        for name in ("auth_success", "failed_auth"):
            self.xmpp.add_event_handler(name, lambda _s, name=name: self.events.append(name))

    def tearDown(self) -> None:
        real_socket = getattr(getattr(self.xmpp, "socket", None), "socket", None)
        self.stream_close()
        unregister_slixmpp_mechanism()
        if real_socket is not None:
            real_socket.close()  # SlixTest's TestSocket wraps a real socket it never closes
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        asyncio.set_event_loop(None)

    def sent_sasl(self, tag: str) -> tuple[dict[str, str], str]:
        """The next element the client wrote: checked to be <tag xmlns=SASL_NS>, raw XML."""
        self.wait_for_send_queue()
        mock_socket: Any = self.xmpp.socket
        raw = mock_socket.next_sent()
        assert raw is not None, "nothing was sent"
        elem = ET.fromstring(raw)
        assert elem.tag == f"{{{SASL_NS}}}{tag}", raw
        return dict(elem.attrib), elem.text or ""

    @property
    def client(self) -> ClientXMPP:
        assert isinstance(self.xmpp, ClientXMPP)
        return self.xmpp

    def mech(self) -> OAuthBearerMech:
        mech = self.client.plugin["feature_mechanisms"].mech
        assert isinstance(mech, OAuthBearerMech)
        return mech

    def offer(self) -> None:
        self.recv(
            f"<stream:features><mechanisms xmlns='{SASL_NS}'>"
            "<mechanism>PLAIN</mechanism><mechanism>OAUTHBEARER</mechanism>"
            "</mechanisms></stream:features>"
        )

    def test_success(self) -> None:
        self.client.credentials["access_token"] = "eyJ0.eyJz.c2ln"
        self.client.credentials["authzid"] = "alice@localhost"
        self.offer()
        payload = b"n,a=alice@localhost,\x01host=localhost\x01auth=Bearer eyJ0.eyJz.c2ln\x01\x01"
        assert self.sent_sasl("auth") == ({"mechanism": "OAUTHBEARER"}, b64(payload))
        self.recv(f"<success xmlns='{SASL_NS}'/>")
        assert self.client.authenticated
        assert self.events == ["auth_success"]
        assert self.mech().client.state is ClientState.SUCCEEDED

    def test_error_challenge_is_answered_and_exposed(self) -> None:
        self.client.credentials["access_token"] = ""  # XEP-0493 discovery
        self.offer()
        payload = b"n,,\x01host=localhost\x01auth=\x01\x01"
        assert self.sent_sasl("auth") == ({"mechanism": "OAUTHBEARER"}, b64(payload))
        self.recv(f"<challenge xmlns='{SASL_NS}'>{b64(CHALLENGE_JSON)}</challenge>")
        assert self.sent_sasl("response") == ({}, "AQ==")
        assert self.challenges == []
        mech = self.mech()
        self.recv(f"<failure xmlns='{SASL_NS}'><not-authorized/></failure>")
        assert self.events == ["failed_auth"]
        assert not self.client.authenticated
        assert [c.openid_configuration for c in self.challenges] == [
            "https://auth.localhost/.well-known/openid-configuration"
        ]
        assert mech.client.state is ClientState.FAILED
