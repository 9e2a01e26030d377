"""The component against real Prosody and ejabberd, with real slixmpp clients.

Per server, one stack: ``xmpp-oauth component`` (a subprocess, like in production), the XMPP
server and what checks logins on it -- Prosody through ``xmpp-oauth sasl`` (Dovecot auth
protocol), ejabberd through ``xmpp-oauth extauth`` -- all on one SQLite store.  Tokens are
minted in this process on that store.  ``second.localhost`` is a domain the server hosts but
xmpp-oauth does not serve (the "foreign" domain); its users log in with a plain password.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from tests.helpers import require
from tests.web.flows import Flows
from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.runtime import Runtime, open_runtime
from xmpp_oauth.settings import Settings
from xmpp_oauth.store.base import Grant
from xmpp_oauth.tokens.secrets import new_secret
from xmpp_oauth.web.app import create_app
from xmpp_oauth_component.cli import CURSOR_FILE

from .servers import (
    EjabberdHost,
    EjabberdServer,
    LoginResult,
    ProsodyHost,
    ProsodyServer,
    TlsFiles,
    XmppOAuthProcess,
    ejabberd_available,
    prosody_available,
    xmpp_login,
)

pytestmark = pytest.mark.integration

COMPONENT = "oauth.localhost"
CMDS = "http://jabber.org/protocol/commands"
PASSWORDS = {"alice@localhost": "correct horse battery staple", "bob@localhost": "bob-pw"}
FOREIGN = ("mallory@second.localhost", "mallory-pw")

# ejabberd's users of the foreign domain: a stand-in extauth accepting only mallory's password.
FOREIGN_EXTAUTH = f"""
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(2)
    if len(head) < 2:
        break
    parts = inp.read(struct.unpack(">H", head)[0]).decode().split(":", 3)
    ok = (parts[0] == "auth" and parts[1] == "mallory" and parts[3] == {FOREIGN[1]!r}) or (
        parts[0] == "isuser" and parts[1] == "mallory")
    out.write(struct.pack(">HH", 2, 1 if ok else 0))
    out.flush()
"""


@dataclass
class Stack:
    kind: str
    settings: Settings
    server: ProsodyServer | EjabberdServer
    component: XmppOAuthProcess
    helpers: list[XmppOAuthProcess]

    @property
    def port(self) -> int:
        return self.server.c2s_port

    @property
    def ca_file(self) -> Path:
        assert self.server.ca_file is not None
        return self.server.ca_file

    async def token_login(self, jid: str, token: str) -> LoginResult:
        # Prosody: OAUTHBEARER through the SASL service; ejabberd: the token as the PLAIN
        # password through extauth.
        if self.kind == "prosody":
            return await xmpp_login(jid, port=self.port, mechanism="OAUTHBEARER",
                                    access_token=token, ca_file=self.ca_file)
        return await xmpp_login(jid, port=self.port, mechanism="PLAIN", password=token,
                                ca_file=self.ca_file)

    def logs(self) -> str:
        return (f"--- component log:\n{self.component.log_text()[-3000:]}\n"
                f"--- server log:\n{self.server.log_text()[-3000:]}")


def _config(base: Path, *, component_port: int, socket_path: Path | None) -> Path:
    secret = base / "component.secret"
    secret.write_text(new_secret(24) + "\n")
    sasl = f'[[sasl.listeners]]\ndomain = "localhost"\nsocket = "{socket_path}"\n' \
        if socket_path else ""
    config = base / "xmpp-oauth.toml"
    config.write_text(f"""
domains = ["localhost"]
data_dir = "{base / 'data'}"
log_level = "DEBUG"

[store]
revocation_poll_interval = 0.2

[component]
jid = "{COMPONENT}"
host = "127.0.0.1"
port = {component_port}
secret_file = "{secret}"
admins = ["admin@localhost"]

{sasl}""")
    return config


def _build(kind: str, base: Path, tls: TlsFiles) -> Stack:
    helpers: list[XmppOAuthProcess] = []
    server: ProsodyServer | EjabberdServer
    if kind == "prosody":
        socket_path = base / "sasl.sock"
        server = ProsodyServer(
            base / "prosody", tls=tls,
            hosts=[ProsodyHost("localhost", auth="dovecot", dovecot_socket=str(socket_path)),
                   ProsodyHost("second.localhost", auth="internal_plain")],
            users=[FOREIGN],
        )
        config = _config(base, component_port=server.component_port, socket_path=socket_path)
        helpers.append(XmppOAuthProcess(config, ["sasl"], sockets=[str(socket_path)]))
    else:
        script = base / "foreign_extauth.py"
        script.write_text(FOREIGN_EXTAUTH)
        config_path = base / "xmpp-oauth.toml"
        server = EjabberdServer(
            base / "ejabberd", tls=tls,
            hosts=[EjabberdHost("localhost", auth="external", extauth_program=(
                       f"{sys.executable} -m xmpp_oauth -c {config_path} extauth")),
                   EjabberdHost("second.localhost", auth="external",
                                extauth_program=f"{sys.executable} {script}")],
        )
        config = _config(base, component_port=server.component_port, socket_path=None)
    settings = Settings.from_toml(config, env={})
    secret = Path(settings.component.secret_file).read_text().strip()
    server.components[COMPONENT] = secret
    component = XmppOAuthProcess(config, ["component"])
    return Stack(kind, settings, server, component, helpers)


@pytest.fixture(scope="module", params=["prosody", "ejabberd"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          tls_files: TlsFiles) -> Iterator[Stack]:
    kind: str = request.param
    if kind == "prosody":
        require(prosody_available(), "Prosody not installed (apt-get install prosody "
                                     "prosody-modules lua-sec lua-socket)")
    else:
        require(ejabberd_available(), "ejabberd not installed (apt-get install ejabberd "
                                      "erlang-p1-oauth2)")
    s = _build(kind, tmp_path_factory.mktemp(f"component-{kind}"), tls_files)

    async def prepare() -> None:  # keys and accounts exist before any process starts
        async with open_runtime(s.settings, background=False) as rt:
            accounts = LocalAccounts(rt.store, clock=rt.clock, domains=s.settings.domains)
            for jid, password in PASSWORDS.items():
                await accounts.create(jid, password)

    asyncio.run(prepare())
    try:
        for helper in s.helpers:
            helper.start()
        s.server.start()
        s.component.start()
        yield s
    finally:
        s.component.stop()
        s.server.stop()
        for helper in s.helpers:
            helper.stop()


@pytest.fixture
async def runtime(stack: Stack) -> AsyncIterator[Runtime]:
    async with open_runtime(stack.settings, background=False) as rt:
        yield rt


async def mint(rt: Runtime, jid: str, name: str) -> tuple[str, str]:
    """A grant in the shared store and an access token naming it: (grant_id, token)."""
    now = time.time()
    grant = Grant(grant_id=new_secret(16), jid=jid, client_id=f"client-{new_secret(6)}",
                  client_name=name, scopes=("xmpp:client:normal",), created_at=now,
                  last_used_at=now, auth_time=now)
    await rt.store.create_grant(grant)
    token = rt.tokens.issue_access_token(
        subject=jid, client_id=grant.client_id, scopes=grant.scopes, grant_id=grant.grant_id,
        audience=[f"xmpp:{jid.rpartition('@')[2]}"], auth_time=now, ttl=3600, now=now,
    ).token
    return grant.grant_id, token


@asynccontextmanager
async def client(stack: Stack, jid: str, password: str) -> AsyncIterator[Any]:
    """A logged-in slixmpp client with disco, forms and ad-hoc commands; collects messages."""
    xmpp = slixmpp.ClientXMPP(f"{jid}/test", password, sasl_mech="PLAIN")
    xmpp.enable_direct_tls = False
    xmpp.ca_certs = str(stack.ca_file)
    for plugin in ("xep_0030", "xep_0004", "xep_0050"):
        xmpp.register_plugin(plugin)
    xmpp.messages = asyncio.Queue()
    xmpp.add_event_handler("message", xmpp.messages.put_nowait)
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fail(why: Any) -> None:
        if not ready.done():
            ready.set_exception(AssertionError(f"{jid} could not log in: {why}"))

    def started(_event: Any) -> None:
        # Available, like a real chat client: messages to the bare JID (the component's
        # notices) reach only available resources; otherwise they go to offline storage.
        xmpp.send_presence()
        if not ready.done():
            ready.set_result(None)

    xmpp.add_event_handler("session_start", started)
    xmpp.add_event_handler("failed_all_auth", fail)
    xmpp.add_event_handler("connection_failed", fail)
    xmpp.connect("127.0.0.1", stack.port)
    try:
        await asyncio.wait_for(ready, 20)
        yield xmpp
    finally:
        await asyncio.wait_for(xmpp.disconnect(wait=0.5), 5)


async def commands_of(xmpp: Any) -> list[str]:
    items = await xmpp.plugin["xep_0030"].get_items(jid=COMPONENT, node=CMDS, timeout=10)
    return sorted(node for _jid, node, _name in items["disco_items"]["items"])


async def wait_for_component(stack: Stack, xmpp: Any, timeout: float = 60.0) -> None:
    """Until the component answers disco (the server says unavailable while it is away)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await xmpp.plugin["xep_0030"].get_info(jid=COMPONENT, timeout=5)
            return
        except (IqError, IqTimeout, TimeoutError):
            if time.monotonic() > deadline:
                raise AssertionError(f"component not reachable\n{stack.logs()}") from None
            await asyncio.sleep(0.25)


async def execute(xmpp: Any, node: str, **kw: Any) -> Any:
    return await xmpp.plugin["xep_0050"].send_command(COMPONENT, node, timeout=10, **kw)


def submit_form(xmpp: Any, **fields: list[str]) -> Any:
    form = xmpp.plugin["xep_0004"].make_form(ftype="submit")
    for var, values in fields.items():
        form.add_field(var=var, value=values)
    return form


async def test_user_lists_and_revokes_and_the_token_is_refused(stack: Stack,
                                                               runtime: Runtime) -> None:
    kept_id, kept = await mint(runtime, "alice@localhost", "Kept App")
    gone_id, gone = await mint(runtime, "alice@localhost", "Doomed App")
    bob_id, _ = await mint(runtime, "bob@localhost", "Bob's App")
    assert (await stack.token_login("alice@localhost", gone)).success

    async with client(stack, "alice@localhost", PASSWORDS["alice@localhost"]) as alice:
        await wait_for_component(stack, alice)
        assert await commands_of(alice) == ["list-apps", "revoke-all-apps", "revoke-apps"]

        listed = await execute(alice, "list-apps")
        assert listed["command"]["status"] == "completed"
        rows = {row["grant"]: row for row in listed["command"]["form"]["items"]}
        assert {kept_id, gone_id} <= set(rows) and bob_id not in rows
        assert rows[gone_id]["app"] == "Doomed App"
        assert rows[gone_id]["scopes"] == "xmpp:client:normal"

        step = await execute(alice, "revoke-apps")
        options = step["command"]["form"].get_fields()["grants"]["options"]
        assert {kept_id, gone_id} <= {o["value"] for o in options}
        assert bob_id not in {o["value"] for o in options}
        done = await execute(alice, "revoke-apps", action="complete",
                             sessionid=step["command"]["sessionid"],
                             payload=submit_form(alice, grants=[gone_id]))
        revoked_at = time.monotonic()
        assert done["command"]["status"] == "completed"
        assert "Doomed App" in done["command"]["notes"][0][1]

    # DESIGN §3 / issue: the login path refuses the revoked grant within a second.
    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - revoked_at)))
    refused = await stack.token_login("alice@localhost", gone)
    assert not refused.success and refused.condition == "not-authorized", refused
    assert (await stack.token_login("alice@localhost", kept)).success
    stored = await runtime.store.get_grant(gone_id)
    assert stored is not None and stored.revoked_at is not None


async def test_another_users_grant_is_never_touched(stack: Stack, runtime: Runtime) -> None:
    await mint(runtime, "alice@localhost", "Alice's App")
    bob_id, bob_token = await mint(runtime, "bob@localhost", "Bob's App")
    async with client(stack, "alice@localhost", PASSWORDS["alice@localhost"]) as alice:
        await wait_for_component(stack, alice)
        step = await execute(alice, "revoke-apps")
        with pytest.raises(IqError) as err:
            await execute(alice, "revoke-apps", action="complete",
                          sessionid=step["command"]["sessionid"],
                          payload=submit_form(alice, grants=[bob_id]))
        assert err.value.condition == "item-not-found"
        # Admin commands are not Alice's either.
        with pytest.raises(IqError) as err:
            await execute(alice, "admin-revoke-apps")
        assert err.value.condition == "forbidden"
    grant = await runtime.store.get_grant(bob_id)
    assert grant is not None and grant.revoked_at is None
    assert (await stack.token_login("bob@localhost", bob_token)).success


async def test_foreign_domain_is_refused(stack: Stack, runtime: Runtime) -> None:
    await mint(runtime, "alice@localhost", "Alice's App")
    async with client(stack, *FOREIGN) as mallory:
        await wait_for_component(stack, mallory)
        assert await commands_of(mallory) == []
        for node in ("list-apps", "revoke-all-apps"):
            with pytest.raises(IqError) as err:
                await execute(mallory, node)
            assert err.value.condition == "forbidden"


async def wait_for_notifier(stack: Stack, timeout: float = 30.0) -> None:
    """Until the component's notifier has taken its starting cursor ("from now on"): only
    grants created after that are announced."""
    cursor_file = Path(stack.settings.data_dir) / CURSOR_FILE
    deadline = time.monotonic() + timeout
    while not cursor_file.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the notifier never started\n{stack.logs()}")
        await asyncio.sleep(0.1)


async def test_new_grant_notice_after_a_code_flow(stack: Stack, runtime: Runtime,
                                                  aiohttp_client: Any) -> None:
    """The real web code flow (DCR, sign-in, consent, code exchange) in this process; the
    component process finds the new grant in the shared store and tells Alice by chat."""
    web = await aiohttp_client(create_app(stack.settings, runtime=runtime))
    flows = Flows(web, runtime, runtime.clock)  # type: ignore[arg-type]
    async with client(stack, "alice@localhost", PASSWORDS["alice@localhost"]) as alice:
        await wait_for_component(stack, alice)
        await wait_for_notifier(stack)
        reg = await flows.register(client_name=f"Notice App {new_secret(4)}")
        tokens = await flows.tokens(reg)
        assert tokens["access_token"]
        deadline = time.monotonic() + 15
        while True:
            try:
                msg = await asyncio.wait_for(alice.messages.get(),
                                             max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError(f"no notice for the new grant\n{stack.logs()}") from None
            # Earlier tests' grants are announced too (possibly from offline storage).
            if (str(msg["from"]) == COMPONENT and msg["type"] == "chat"
                    and f'"{reg["client_name"]}"' in msg["body"]):
                break
        body = msg["body"]
        assert "alice@localhost" in body and "xmpp:client:normal" in body
        assert "Revoke app access" in body


async def test_component_reconnects_after_server_restart(stack: Stack) -> None:
    connected = "component oauth.localhost connected"
    before = stack.component.log_text().count(connected)
    assert before >= 1
    stack.server.restart()
    async with client(stack, "bob@localhost", PASSWORDS["bob@localhost"]) as bob:
        await wait_for_component(stack, bob, timeout=60)
        listed = await execute(bob, "list-apps")
        assert listed["command"]["status"] == "completed"
    assert stack.component.running  # the same process, reconnected by itself
    assert stack.component.log_text().count(connected) == before + 1
