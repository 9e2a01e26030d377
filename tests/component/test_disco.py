"""XEP-0030 disco of the component: identity, features, per-requester command list."""

from __future__ import annotations

from .harness import ADMIN, ALICE, COMPONENT, MALLORY, ComponentTestCase


class TestDisco(ComponentTestCase):
    def test_info_identity_and_features(self) -> None:
        self.recv(f"""<iq type="get" id="d1" from="{ALICE}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info"/></iq>""")
        self.send(f"""<iq type="result" id="d1" to="{ALICE}" from="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info">
                <identity category="component" type="generic" name="Example apps"/>
                <feature var="http://jabber.org/protocol/disco#info"/>
                <feature var="http://jabber.org/protocol/disco#items"/>
                <feature var="http://jabber.org/protocol/commands"/>
                <feature var="jabber:x:data"/>
              </query></iq>""")

    def test_user_sees_only_user_commands(self) -> None:
        self.recv(f"""<iq type="get" id="d2" from="{ALICE}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#items"
                     node="http://jabber.org/protocol/commands"/></iq>""")
        self.send(f"""<iq type="result" id="d2" to="{ALICE}" from="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#items"
                     node="http://jabber.org/protocol/commands">
                <item jid="{COMPONENT}" node="list-apps" name="List my authorized apps"/>
                <item jid="{COMPONENT}" node="revoke-apps" name="Revoke app access"/>
                <item jid="{COMPONENT}" node="revoke-all-apps" name="Revoke access of all apps"/>
              </query></iq>""")

    def test_admin_sees_admin_commands(self) -> None:
        self.recv(f"""<iq type="get" id="d3" from="{ADMIN}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#items"
                     node="http://jabber.org/protocol/commands"/></iq>""")
        reply = self.command_reply()
        nodes = [item["node"] for item in reply["disco_items"]["substanzas"]]
        assert nodes == ["list-apps", "revoke-apps", "revoke-all-apps", "admin-list-apps",
                         "admin-revoke-apps", "admin-disable-account", "admin-enable-account"]

    def test_foreign_domain_sees_no_commands(self) -> None:
        self.recv(f"""<iq type="get" id="d4" from="{MALLORY}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#items"
                     node="http://jabber.org/protocol/commands"/></iq>""")
        self.send(f"""<iq type="result" id="d4" to="{MALLORY}" from="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#items"
                     node="http://jabber.org/protocol/commands"/></iq>""")

    def test_command_node_info(self) -> None:
        self.recv(f"""<iq type="get" id="d5" from="{ALICE}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info" node="revoke-apps"/></iq>""")
        self.send(f"""<iq type="result" id="d5" to="{ALICE}" from="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info" node="revoke-apps">
                <identity category="automation" type="command-node" name="Revoke app access"/>
                <feature var="http://jabber.org/protocol/commands"/>
                <feature var="jabber:x:data"/>
              </query></iq>""")

    def test_admin_node_info_hidden_from_users(self) -> None:
        self.recv(f"""<iq type="get" id="d6" from="{ALICE}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info"
                     node="admin-disable-account"/></iq>""")
        reply = self.command_reply()
        assert reply["type"] == "error"
        assert reply["error"]["condition"] == "item-not-found"

    def test_commands_node_info(self) -> None:
        self.recv(f"""<iq type="get" id="d7" from="{ALICE}" to="{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info"
                     node="http://jabber.org/protocol/commands"/></iq>""")
        reply = self.command_reply()
        assert reply["disco_info"]["identities"] == {
            ("automation", "command-list", None, "Commands")}

    def test_other_jid_at_component_is_unavailable(self) -> None:
        self.recv(f"""<iq type="get" id="d8" from="{ALICE}" to="someone@{COMPONENT}">
              <query xmlns="http://jabber.org/protocol/disco#info"/></iq>""")
        reply = self.command_reply()
        assert reply["error"]["condition"] == "service-unavailable"
