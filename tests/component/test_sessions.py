"""XEP-0050 session handling: bad actions and session ids, expiry, per-user bounds, messages."""

from __future__ import annotations

from slixmpp import JID

from .fakes import grant
from .harness import ALICE, BOB, COMPONENT, MALLORY, ComponentTestCase

CMD = "http://jabber.org/protocol/commands"


class TestSessions(ComponentTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.services.add(grant("g1", "alice@localhost", "Conversations"),
                          grant("g2", "bob@localhost", "Bot"))

    def _cmd(self, attrs: str, iq_id: str = "9", sender: str = ALICE) -> object:
        self.recv(f"""<iq type="set" id="{iq_id}" from="{sender}" to="{COMPONENT}">
              <command xmlns="{CMD}" {attrs}/></iq>""")
        return self.command_reply()

    def test_unknown_session_id(self) -> None:
        reply = self._cmd('node="revoke-apps" sessionid="forged" action="complete"')
        assert reply["error"]["condition"] == "bad-request"  # type: ignore[index]
        assert reply.xml.find(f".//{{{CMD}}}bad-sessionid") is not None  # type: ignore[attr-defined]

    def test_cancel_without_session(self) -> None:
        reply = self._cmd('node="revoke-apps" action="cancel"')
        assert reply.xml.find(f".//{{{CMD}}}bad-sessionid") is not None  # type: ignore[attr-defined]

    def test_malformed_action(self) -> None:
        reply = self._cmd('node="revoke-apps" action="explode"')
        assert reply["error"]["condition"] == "bad-request"  # type: ignore[index]
        assert reply.xml.find(f".//{{{CMD}}}malformed-action") is not None  # type: ignore[attr-defined]

    def test_prev_not_offered(self) -> None:
        self.execute("revoke-apps")
        self.command_reply()
        reply = self._cmd('node="revoke-apps" sessionid="s1" action="prev"')
        assert reply.xml.find(f".//{{{CMD}}}bad-action") is not None  # type: ignore[attr-defined]

    def test_session_id_bound_to_node(self) -> None:
        self.execute("revoke-apps")
        self.command_reply()
        reply = self._cmd('node="revoke-all-apps" sessionid="s1" action="complete"')
        assert reply.xml.find(f".//{{{CMD}}}bad-sessionid") is not None  # type: ignore[attr-defined]

    def test_sessions_expire(self) -> None:
        self.execute("revoke-apps")
        self.command_reply()
        self.clock.advance(self.xmpp.session_timeout + 1)
        self.submit("revoke-apps", "s1", {"grants": ["g1"]})
        reply = self.command_reply()
        assert reply.xml.find(f".//{{{CMD}}}bad-sessionid") is not None
        assert len(self.services.active("alice@localhost")) == 1

    def test_activity_keeps_a_session(self) -> None:
        self.execute("revoke-apps")
        self.command_reply()
        self.clock.advance(self.xmpp.session_timeout - 1)
        self.submit("revoke-apps", "s1", {"grants": ["nope"]})
        assert self.command_reply()["error"]["condition"] == "item-not-found"
        self.clock.advance(self.xmpp.session_timeout - 1)
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, iq_id="3")
        assert self.command_reply()["command"]["status"] == "completed"

    def test_sessions_bounded_per_user(self) -> None:
        limit = self.xmpp.max_sessions_per_jid
        for n in range(limit + 3):
            self.execute("revoke-apps", iq_id=f"a{n}")
            self.command_reply()
        self.execute("revoke-apps", sender=BOB, iq_id="bob")
        self.command_reply()
        sessions = self.xmpp.plugin["xep_0050"].sessions
        alice = [s for s in sessions.values() if JID(s["from"]).bare == "alice@localhost"]
        assert len(alice) == limit
        assert len(sessions) == limit + 1
        assert "s1" not in sessions  # the oldest went first


class TestMessages(ComponentTestCase):
    def test_help_reply_to_users(self) -> None:
        self.recv(f"""<message type="chat" from="{ALICE}" to="{COMPONENT}">
              <body>help</body></message>""")
        reply = self.command_reply()
        assert str(reply["to"]) == ALICE
        assert "Revoke app access" in reply["body"]

    def test_no_reply_to_foreign_or_errors(self) -> None:
        self.recv(f"""<message type="chat" from="{MALLORY}" to="{COMPONENT}">
              <body>help</body></message>""")
        self.recv(f"""<message type="error" from="{ALICE}" to="{COMPONENT}">
              <body>help</body></message>""")
        self.send(None)

    def test_grant_notice(self) -> None:
        self.xmpp.send_notice(grant("g9", "alice@localhost", "Dino", "xmpp:client:normal",
                                    "offline_access"))
        reply = self.command_reply()
        assert reply["type"] == "chat"
        assert str(reply["from"]) == COMPONENT and str(reply["to"]) == "alice@localhost"
        assert reply["body"] == (
            'New app access: "Dino" can now use your account alice@localhost (scopes: '
            "xmpp:client:normal, offline_access; granted 2027-01-15T08:00:00Z).\n"
            'If you did not allow this, revoke it with the ad-hoc command "Revoke app access" '
            "on oauth.localhost, or at http://127.0.0.1:8088/account"
        )
