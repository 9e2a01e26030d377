"""Admin commands: a user's grants, revoking them (two-step flow), disabling/enabling accounts."""

from __future__ import annotations

from xmpp_oauth_component.services import AccountState

from .fakes import grant
from .harness import ADMIN, ALICE, COMPONENT, MALLORY, ComponentTestCase

CMD = "http://jabber.org/protocol/commands"


class TestAdminCommands(ComponentTestCase):
    admins = ("root@localhost", "ops@evil.example")

    def setUp(self) -> None:
        super().setUp()
        self.services.add(
            grant("g1", "alice@localhost", "Conversations"),
            grant("g2", "bob@localhost", "Bob's bot"),
            grant("g3", "alice@localhost", "Dino"),
        )
        self.services.accounts["alice@localhost"] = AccountState("alice@localhost", False)

    def _ask_jid(self, node: str, title: str, *, has_next: bool, sid: str = "s1") -> None:
        self.execute(node, sender=ADMIN)
        action = "<next/>" if has_next else "<complete/>"
        self.send(f"""
          <iq type="result" id="1" to="{ADMIN}" from="{COMPONENT}">
            <command xmlns="{CMD}" node="{node}" sessionid="{sid}" status="executing">
              <actions>{action}</actions>
              <x xmlns="jabber:x:data" type="form">
                <title>{title}</title>
                <instructions>Which account?</instructions>
                <field var="jid" type="jid-single" label="Account (bare JID)"><required/></field>
              </x>
            </command>
          </iq>""")

    def test_users_may_not_run_admin_commands(self) -> None:
        for node in ("admin-list-apps", "admin-revoke-apps", "admin-disable-account",
                     "admin-enable-account"):
            self.execute(node, sender=ALICE)
            assert self.command_reply()["error"]["condition"] == "forbidden"
        assert self.xmpp.plugin["xep_0050"].sessions == {}

    def test_admin_from_foreign_domain_gets_admin_but_not_user_commands(self) -> None:
        self.execute("admin-list-apps", sender="ops@evil.example/x")
        assert self.command_reply()["command"]["status"] == "executing"
        self.execute("list-apps", sender="ops@evil.example/x", iq_id="2")
        assert self.command_reply()["error"]["condition"] == "forbidden"

    def test_list_user_grants(self) -> None:
        self._ask_jid("admin-list-apps", "Show a user's authorized apps", has_next=False)
        self.submit("admin-list-apps", "s1", {"jid": ["alice@localhost"]}, sender=ADMIN)
        reply = self.command_reply()
        assert reply["command"]["status"] == "completed"
        items = reply["command"]["form"]["items"]
        assert [i["grant"] for i in items] == ["g3", "g1"]
        assert reply["command"]["form"]["title"] == "Apps with access to alice@localhost"

    def test_revoke_is_two_steps(self) -> None:
        self._ask_jid("admin-revoke-apps", "Revoke a user's app access", has_next=True)
        self.submit("admin-revoke-apps", "s1", {"jid": ["Alice@LocalHost"]}, sender=ADMIN,
                    action="next")
        reply = self.command_reply()
        assert reply["command"]["status"] == "executing"
        assert reply["command"]["actions"] == {"complete"}
        field = reply["command"]["form"].get_fields()["grants"]
        assert [o["value"] for o in field["options"]] == ["g3", "g1"]
        # Bob's grant id is not one of Alice's: refused.
        self.submit("admin-revoke-apps", "s1", {"grants": ["g2"]}, sender=ADMIN, iq_id="3")
        assert self.command_reply()["error"]["condition"] == "item-not-found"
        self.submit("admin-revoke-apps", "s1", {"grants": ["g1"]}, sender=ADMIN, iq_id="4")
        reply = self.command_reply()
        assert reply["command"]["status"] == "completed"
        assert [g.grant_id for g in self.services.active("alice@localhost")] == ["g3"]
        assert self.services.calls[-1] == ("revoke", ("alice@localhost", ("g1",), "admin_xmpp"))

    def test_revoke_user_without_grants(self) -> None:
        self._ask_jid("admin-revoke-apps", "Revoke a user's app access", has_next=True)
        self.submit("admin-revoke-apps", "s1", {"jid": ["carol@localhost"]}, sender=ADMIN,
                    action="next")
        reply = self.command_reply()
        assert reply["command"]["status"] == "completed"
        assert reply["command"]["notes"] == [("info", "No app has access to carol@localhost.")]

    def test_disable_and_enable(self) -> None:
        self._ask_jid("admin-disable-account", "Disable an account", has_next=False)
        self.submit("admin-disable-account", "s1", {"jid": ["alice@localhost"]}, sender=ADMIN)
        reply = self.command_reply()
        assert reply["command"]["notes"] == [
            ("info", "alice@localhost is disabled; its app access was revoked.")]
        assert self.services.accounts["alice@localhost"].disabled
        assert self.services.active("alice@localhost") == []
        self._ask_jid("admin-enable-account", "Enable an account", has_next=False, sid="s2")
        self.submit("admin-enable-account", "s2", {"jid": ["alice@localhost"]}, sender=ADMIN)
        assert self.command_reply()["command"]["notes"] == [
            ("info", "alice@localhost is enabled.")]
        assert not self.services.accounts["alice@localhost"].disabled

    def test_disable_unknown_account(self) -> None:
        self._ask_jid("admin-disable-account", "Disable an account", has_next=False)
        self.submit("admin-disable-account", "s1", {"jid": ["nobody@localhost"]}, sender=ADMIN)
        assert self.command_reply()["error"]["condition"] == "item-not-found"
        assert self.services.calls == []

    def test_bad_jids(self) -> None:
        self._ask_jid("admin-list-apps", "Show a user's authorized apps", has_next=False)
        for n, bad in enumerate(["not a jid@@", "localhost", "alice@localhost/res",
                                 "mallory@evil.example", ""]):
            self.submit("admin-list-apps", "s1", {"jid": [bad]}, sender=ADMIN, iq_id=f"b{n}")
            reply = self.command_reply()
            assert reply["error"]["condition"] == "bad-request", bad
            assert reply.xml.find(f".//{{{CMD}}}bad-payload") is not None

    def test_foreign_requester_cannot_hijack_admin_session(self) -> None:
        self._ask_jid("admin-disable-account", "Disable an account", has_next=False)
        self.submit("admin-disable-account", "s1", {"jid": ["alice@localhost"]}, sender=MALLORY)
        assert self.command_reply()["error"]["condition"] == "bad-request"
        assert self.services.calls == []
