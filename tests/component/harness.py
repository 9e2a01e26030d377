"""SlixTest with our component in place of a bare ComponentXMPP (stanza in, stanza out)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any
from unittest import mock

from slixmpp.test import SlixTest, slixtest

from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.settings import Settings
from xmpp_oauth_component.component import OAuthComponent

from .fakes import T0, FakeServices

COMPONENT = "oauth.localhost"
ALICE = "alice@localhost/phone"
BOB = "bob@localhost/laptop"
ADMIN = "root@localhost/shell"
MALLORY = "mallory@evil.example/pc"


class ComponentTestCase(SlixTest):
    """Starts an :class:`OAuthComponent` on SlixTest's mock stream with :class:`FakeServices`."""

    admins: tuple[str, ...] = ("root@localhost",)

    def setUp(self) -> None:
        # A private loop per test, closed afterwards: SlixTest would otherwise share one
        # never-closed loop with whatever pytest-asyncio left behind.
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FrozenClock(T0)
        self.services = FakeServices(self.clock)
        self.settings = Settings.from_mapping({
            "domains": ["localhost", "example.org"],
            "data_dir": "/nonexistent-component-test",
            "site_name": "Example",
            "component": {"jid": COMPONENT, "admins": list(self.admins)},
        })

        def build(jid: str, secret: str, host: Any, port: Any, **_: Any) -> OAuthComponent:
            component = OAuthComponent(self.settings, self.services, secret, clock=self.clock)
            component.auto_reconnect = False
            return component

        with mock.patch.object(slixtest, "ComponentXMPP", build):
            self.stream_start(mode="component", jid=COMPONENT, password="secret",
                              server="localhost", port=5347, plugins=[])
        ids = itertools.count(1)
        self.xmpp.plugin["xep_0050"].new_session = lambda: f"s{next(ids)}"

    def tearDown(self) -> None:
        socket = getattr(self.xmpp, "socket", None)
        real = getattr(socket, "socket", None)
        super().tearDown()
        if real is not None:
            real.close()  # the harness's TestSocket wraps a real, never closed socket
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        asyncio.set_event_loop(None)

    # -- helpers ------------------------------------------------------------------------------

    def execute(self, node: str, sender: str = ALICE, iq_id: str = "1") -> None:
        self.recv(f"""
          <iq type="set" id="{iq_id}" from="{sender}" to="{COMPONENT}">
            <command xmlns="http://jabber.org/protocol/commands" node="{node}" action="execute"/>
          </iq>""")

    def submit(self, node: str, sid: str, fields: dict[str, list[str]], *, sender: str = ALICE,
               action: str = "complete", iq_id: str = "2") -> None:
        body = "".join(
            f'<field var="{var}">' + "".join(f"<value>{v}</value>" for v in values) + "</field>"
            for var, values in fields.items()
        )
        self.recv(f"""
          <iq type="set" id="{iq_id}" from="{sender}" to="{COMPONENT}">
            <command xmlns="http://jabber.org/protocol/commands" node="{node}"
                     sessionid="{sid}" action="{action}">
              <x xmlns="jabber:x:data" type="submit">{body}</x>
            </command>
          </iq>""")

    def command_reply(self) -> Any:
        """The next sent stanza, parsed (for assertions beyond exact XML)."""
        self.wait_for_send_queue()
        raw = self.xmpp.socket.next_sent(0.5)
        assert raw is not None, "nothing was sent"
        xml = self.parse_xml(raw)
        self.fix_namespaces(xml)
        return self.xmpp._build_stanza(xml)
