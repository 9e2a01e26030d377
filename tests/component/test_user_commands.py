"""XEP-0050 user commands: list, revoke one or several, revoke all (forms, flows, errors)."""

from __future__ import annotations

from .fakes import T0, grant
from .harness import ALICE, BOB, COMPONENT, MALLORY, ComponentTestCase

CMD = "http://jabber.org/protocol/commands"


class TestListApps(ComponentTestCase):
    def test_lists_own_grants_as_table(self) -> None:
        self.services.add(
            grant("g1", "alice@localhost", "Conversations", "xmpp:client:normal", "offline_access",
                  used=T0 + 3600),
            grant("g2", "bob@localhost", "Bob's bot"),
            grant("g3", "alice@localhost", "Dino", created=T0 + 60),
        )
        self.execute("list-apps")
        self.send(f"""
          <iq type="result" id="1" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="list-apps" sessionid="s1" status="completed">
              <x xmlns="jabber:x:data" type="result">
                <title>Apps with access to alice@localhost</title>
                <reported>
                  <field var="app" type="text-single" label="App"/>
                  <field var="scopes" type="text-single" label="Scopes"/>
                  <field var="granted" type="text-single" label="Granted"/>
                  <field var="last_used" type="text-single" label="Last used"/>
                  <field var="grant" type="text-single" label="Grant id"/>
                </reported>
                <item>
                  <field var="app"><value>Dino</value></field>
                  <field var="scopes"><value>xmpp:client:normal</value></field>
                  <field var="granted"><value>2027-01-15T08:01:00Z</value></field>
                  <field var="last_used"><value>never</value></field>
                  <field var="grant"><value>g3</value></field>
                </item>
                <item>
                  <field var="app"><value>Conversations</value></field>
                  <field var="scopes"><value>xmpp:client:normal offline_access</value></field>
                  <field var="granted"><value>2027-01-15T08:00:00Z</value></field>
                  <field var="last_used"><value>2027-01-15T09:00:00Z</value></field>
                  <field var="grant"><value>g1</value></field>
                </item>
              </x>
            </command>
          </iq>""", use_values=False)  # slixmpp cannot rebuild <reported> from values
        assert self.xmpp.plugin["xep_0050"].sessions == {}

    def test_no_grants_gives_a_note(self) -> None:
        self.services.add(grant("g2", "bob@localhost", "Bob's bot"))
        self.execute("list-apps")
        self.send(f"""
          <iq type="result" id="1" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="list-apps" sessionid="s1" status="completed">
              <note type="info">No app has access to your account.</note>
            </command>
          </iq>""")

    def test_foreign_domain_is_forbidden(self) -> None:
        self.services.add(grant("g1", "mallory@evil.example", "Evil"))
        self.execute("list-apps", sender=MALLORY)
        reply = self.command_reply()
        assert reply["type"] == "error"
        assert reply["error"]["condition"] == "forbidden"
        assert reply["error"]["type"] == "auth"

    def test_domain_jid_is_forbidden(self) -> None:
        self.execute("list-apps", sender="localhost")
        assert self.command_reply()["error"]["condition"] == "forbidden"

    def test_unknown_node(self) -> None:
        self.execute("no-such-command")
        assert self.command_reply()["error"]["condition"] == "item-not-found"

    def test_store_failure_is_a_wait_error(self) -> None:
        self.services.broken = True
        self.execute("list-apps")
        reply = self.command_reply()
        assert reply["error"]["condition"] == "internal-server-error"
        assert reply["error"]["type"] == "wait"


class TestRevokeApps(ComponentTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.services.add(
            grant("g1", "alice@localhost", "Conversations"),
            grant("g2", "bob@localhost", "Bob's bot"),
            grant("g3", "alice@localhost", "Dino", "xmpp", created=T0 + 60),
        )

    def _start(self) -> None:
        self.execute("revoke-apps")
        self.send(f"""
          <iq type="result" id="1" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-apps" sessionid="s1" status="executing">
              <actions><complete/></actions>
              <x xmlns="jabber:x:data" type="form">
                <title>Revoke app access</title>
                <instructions
                  >Choose the apps that should lose access to your account.</instructions>
                <field var="grants" type="list-multi" label="Apps">
                  <required/>
                  <option label="Dino (xmpp; granted 2027-01-15T08:01:00Z)">
                    <value>g3</value></option>
                  <option
                    label="Conversations (xmpp:client:normal; granted 2027-01-15T08:00:00Z)">
                    <value>g1</value></option>
                </field>
              </x>
            </command>
          </iq>""")

    def test_revoke_one(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["g3"]})
        self.send(f"""
          <iq type="result" id="2" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-apps" sessionid="s1" status="completed">
              <note type="info">Revoked the access of 1 app(s): Dino.</note>
            </command>
          </iq>""")
        assert [g.grant_id for g in self.services.active("alice@localhost")] == ["g1"]
        assert self.xmpp.plugin["xep_0050"].sessions == {}

    def test_revoke_several(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["g1", "g3"]})
        reply = self.command_reply()
        assert reply["command"]["status"] == "completed"
        assert reply["command"]["notes"] == [
            ("info", "Revoked the access of 2 app(s): Conversations, Dino.")]
        assert self.services.active("alice@localhost") == []
        assert [g.grant_id for g in self.services.active("bob@localhost")] == ["g2"]

    def test_next_action_also_finishes(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, action="next")
        assert self.command_reply()["command"]["status"] == "completed"
        assert self.xmpp.plugin["xep_0050"].sessions == {}

    def test_other_users_grant_is_not_found_and_nothing_revoked(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["g1", "g2"]})
        reply = self.command_reply()
        assert reply["type"] == "error"
        assert reply["error"]["condition"] == "item-not-found"
        assert len(self.services.active("alice@localhost")) == 2
        assert len(self.services.active("bob@localhost")) == 1
        assert self.services.calls == []
        # The session stays usable: a corrected submission works.
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, iq_id="3")
        assert self.command_reply()["command"]["status"] == "completed"

    def test_unknown_grant_id(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["nope"]})
        reply = self.command_reply()
        assert reply["error"]["condition"] == "item-not-found"
        assert self.services.calls == []

    def test_empty_selection_is_bad_payload(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": []})
        reply = self.command_reply()
        assert reply["error"]["condition"] == "bad-request"
        assert reply["error"]["type"] == "modify"
        assert reply.xml.find(f".//{{{CMD}}}bad-payload") is not None

    def test_missing_field_is_bad_payload(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"other": ["x"]})
        reply = self.command_reply()
        assert reply["error"]["condition"] == "bad-request"
        assert reply.xml.find(f".//{{{CMD}}}bad-payload") is not None

    def test_missing_form_is_bad_payload(self) -> None:
        self._start()
        self.recv(f"""
          <iq type="set" id="2" from="{ALICE}" to="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-apps" sessionid="s1" action="complete"/>
          </iq>""")
        reply = self.command_reply()
        assert reply["error"]["condition"] == "bad-request"
        assert reply.xml.find(f".//{{{CMD}}}bad-payload") is not None

    def test_cancel(self) -> None:
        self._start()
        self.recv(f"""
          <iq type="set" id="2" from="{ALICE}" to="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-apps" sessionid="s1" action="cancel"/>
          </iq>""")
        self.send(f"""
          <iq type="result" id="2" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-apps" sessionid="s1" status="canceled"/>
          </iq>""")
        assert len(self.services.active("alice@localhost")) == 2
        assert self.xmpp.plugin["xep_0050"].sessions == {}

    def test_other_user_cannot_continue_the_session(self) -> None:
        self._start()
        # Bob guesses Alice's session id and submits her own grant id: refused, nothing revoked.
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, sender=BOB)
        reply = self.command_reply()
        assert reply["error"]["condition"] == "bad-request"
        assert reply.xml.find(f".//{{{CMD}}}bad-sessionid") is not None
        assert len(self.services.active("alice@localhost")) == 2
        # Alice's session still works.
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, iq_id="3")
        assert self.command_reply()["command"]["status"] == "completed"

    def test_other_resource_of_same_user_cannot_continue(self) -> None:
        self._start()
        self.submit("revoke-apps", "s1", {"grants": ["g1"]}, sender="alice@localhost/other")
        assert self.command_reply()["error"]["condition"] == "bad-request"

    def test_nothing_to_revoke(self) -> None:
        self.execute("revoke-apps", sender=BOB.replace("bob", "carol"))
        reply = self.command_reply()
        assert reply["command"]["status"] == "completed"
        assert reply["command"]["notes"] == [("info", "No app has access to your account.")]


class TestRevokeAll(ComponentTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.services.add(
            grant("g1", "alice@localhost", "Conversations"),
            grant("g2", "bob@localhost", "Bob's bot"),
            grant("g3", "alice@localhost", "Dino", created=T0 + 60),
        )

    def _start(self) -> None:
        self.execute("revoke-all-apps")
        self.send(f"""
          <iq type="result" id="1" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-all-apps" sessionid="s1" status="executing">
              <actions><complete/></actions>
              <x xmlns="jabber:x:data" type="form">
                <title>Revoke access of all apps</title>
                <instructions>2 app(s) can use your account: Dino, Conversations.</instructions>
                <field var="confirm" type="boolean" label="Yes, revoke the access of every app">
                  <required/>
                  <value>0</value>
                </field>
              </x>
            </command>
          </iq>""")

    def test_confirmed(self) -> None:
        self._start()
        self.submit("revoke-all-apps", "s1", {"confirm": ["true"]})
        self.send(f"""
          <iq type="result" id="2" to="{ALICE}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="revoke-all-apps" sessionid="s1" status="completed">
              <note type="info">Revoked the access of 2 app(s).</note>
            </command>
          </iq>""")
        assert self.services.active("alice@localhost") == []
        assert len(self.services.active("bob@localhost")) == 1

    def test_not_confirmed(self) -> None:
        self._start()
        self.submit("revoke-all-apps", "s1", {"confirm": ["0"]})
        reply = self.command_reply()
        assert reply["command"]["notes"] == [("info", "Nothing was revoked.")]
        assert len(self.services.active("alice@localhost")) == 2

    def test_malformed_boolean(self) -> None:
        self._start()
        self.submit("revoke-all-apps", "s1", {"confirm": ["maybe"]})
        reply = self.command_reply()
        assert reply["error"]["condition"] == "bad-request"
        assert reply.xml.find(f".//{{{CMD}}}bad-payload") is not None
        assert len(self.services.active("alice@localhost")) == 2

    def test_two_values_is_malformed(self) -> None:
        self._start()
        self.submit("revoke-all-apps", "s1", {"confirm": ["1", "1"]})
        assert self.command_reply()["error"]["condition"] == "bad-request"
        assert len(self.services.active("alice@localhost")) == 2
