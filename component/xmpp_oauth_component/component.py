"""XEP-0114 external component: disco (XEP-0030) and ad-hoc commands (XEP-0050) for grants.

Besides wiring the plugins, this module fixes three things slixmpp's XEP-0050 plugin leaves
open: every later stage of a command must come from the full JID that started it (session
ids are not secrets), sessions expire and are bounded per requester, and finished sessions
are dropped.  The disco command list is computed per requester (XEP-0050 §2.2).
"""

# slixmpp's stanza and stream classes are only partly annotated.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from slixmpp import JID, ComponentXMPP, Iq, Message
from slixmpp.exceptions import XMPPError
from slixmpp.plugins.xep_0030 import DiscoInfo, DiscoItems
from slixmpp.types import ErrorConditions

from xmpp_oauth.clock import Clock, SystemClock
from xmpp_oauth.settings import Settings
from xmpp_oauth.store.base import Grant

from .commands import NS_COMMANDS, Access, CommandHandlers, to_xmpp_error
from .notify import notice_text
from .services import Services

log = logging.getLogger(__name__)

NS_DISCO_INFO: Final = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS: Final = "http://jabber.org/protocol/disco#items"
NS_DATA: Final = "jabber:x:data"
ACTIONS: Final = frozenset({"execute", "next", "prev", "complete", "cancel"})


@dataclass
class Backoff:
    """Capped exponential delays between connection attempts."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    attempts: int = field(default=0, init=False)

    def next(self) -> float:
        delay = min(self.cap, self.initial * self.factor ** min(self.attempts, 32))
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0


def _command_error(condition: ErrorConditions, app_condition: str) -> XMPPError:
    return XMPPError(condition, etype="modify", extension=app_condition,
                     extension_ns=NS_COMMANDS)


_Payload = TypeVar("_Payload", DiscoInfo, DiscoItems)


def _as_reply(request: Any, payload: _Payload) -> _Payload | Iq:
    # slixmpp drops an empty payload (and with it the node attribute, XEP-0030 §4.2) unless
    # the handler answers with the whole reply.
    if not isinstance(request, Iq):
        return payload
    reply: Iq = request.reply(clear=True)
    reply.append(payload)
    return reply


class OAuthComponent(ComponentXMPP):
    """The component process's XMPP side; all state changes go through ``services``."""

    session_timeout: Final = 600.0
    max_sessions_per_jid: Final = 8

    def __init__(self, settings: Settings, services: Services, secret: str, *,
                 clock: Clock | None = None, backoff: Backoff | None = None) -> None:
        cfg = settings.component
        super().__init__(cfg.jid, secret, cfg.host, cfg.port)
        self.enable_direct_tls = False  # XEP-0114 streams are plain TCP (normally loopback)
        self.settings = settings
        self.services = services
        self.clock = clock or SystemClock()
        self.backoff = backoff or Backoff()
        self.access = Access(settings.domains, cfg.admins)
        self.handlers = CommandHandlers(services, self.access)
        self.connected_event = asyncio.Event()
        #: Reconnect by itself after the stream drops (off in stanza-level tests).
        self.auto_reconnect = True
        self._stopping = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._session_seen: dict[str, float] = {}

        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0050")
        disco = self.plugin["xep_0030"]
        disco.api.register(self._disco_info, "get_info")
        disco.api.register(self._disco_items, "get_items")
        adhoc = self.plugin["xep_0050"]
        adhoc.api.register(self._get_command, "get_command")
        # Route commands through the guard instead of straight into the plugin.
        self.del_event_handler("command", adhoc._handle_command_all)
        self.add_event_handler("command", self._on_command)

        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("message", self._on_message)

    # -- connection lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self.connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        self.cancel_connection_attempt()
        await self.disconnect(wait=1.0)

    def reschedule_connection_attempt(self) -> asyncio.Future[Any] | None:
        # slixmpp grows its retry delay up to 300 s; ours is capped lower and shared with
        # reconnects after a dropped stream.
        if self._current_connection_attempt is None or self._stopping:
            return None
        self._connect_loop_wait = self.backoff.next()
        log.info("component connection failed; retrying in %.1f s", self._connect_loop_wait)
        self._current_connection_attempt = asyncio.ensure_future(self._connect_loop())
        return self._current_connection_attempt

    def _on_session_start(self, _event: Any) -> None:
        log.info("component %s connected to %s:%s", self.boundjid, self.server_host,
                 self.server_port)
        self.backoff.reset()
        self.connected_event.set()

    def _on_disconnected(self, reason: Any) -> None:
        self.connected_event.clear()
        if self._stopping or not self.auto_reconnect:
            return
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return
        delay = self.backoff.next()
        log.warning("component disconnected (%s); reconnecting in %.1f s", reason, delay)
        self._reconnect_task = asyncio.ensure_future(self._reconnect(delay))

    def _on_stream_error(self, error: Any) -> None:
        # not-authorized here means a wrong component secret (XEP-0114 §3): say so plainly.
        log.error("the server closed the component stream: %s %s", error["condition"],
                  error["text"] or "")

    async def _reconnect(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._stopping:
            self.connect()

    # -- service discovery (XEP-0030, XEP-0050 §2.2) ----------------------------------------

    def _for_us(self, jid: JID | None) -> bool:
        return jid is None or jid.full in ("", self.boundjid.full)

    def _requester(self, ifrom: Any) -> JID:
        return JID(ifrom) if ifrom else JID("")

    def _disco_info(self, jid: JID | None, node: str | None, ifrom: Any,
                    data: Any) -> DiscoInfo | Iq:
        if not self._for_us(jid):
            raise XMPPError("service-unavailable")
        info = DiscoInfo()
        if node:
            info["node"] = node
        if not node:
            info.add_identity("component", "generic", name=f"{self.settings.site_name} apps")
            for feature in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_COMMANDS, NS_DATA):
                info.add_feature(feature)
        elif node == NS_COMMANDS:
            info.add_identity("automation", "command-list", name="Commands")
        else:
            spec = self.handlers.specs.get(node)
            if spec is None or not self.access.may_run(spec, self._requester(ifrom)):
                raise XMPPError("item-not-found")
            info.add_identity("automation", "command-node", name=spec.name)
            info.add_feature(NS_COMMANDS)
            info.add_feature(NS_DATA)
        return _as_reply(data, info)

    def _disco_items(self, jid: JID | None, node: str | None, ifrom: Any,
                     data: Any) -> DiscoItems | Iq:
        if not self._for_us(jid):
            raise XMPPError("service-unavailable")
        items = DiscoItems()
        if node:
            if node != NS_COMMANDS and node not in self.handlers.specs:
                raise XMPPError("item-not-found")
            items["node"] = node
        if node == NS_COMMANDS:
            for spec in self.access.commands_for(self._requester(ifrom)):
                items.add_item(self.boundjid, node=spec.node.value, name=spec.name)
        return _as_reply(data, items)

    # -- ad-hoc commands (XEP-0050) ---------------------------------------------------------

    def _get_command(self, jid: JID | None, node: str | None, ifrom: Any,
                     args: Any) -> tuple[str, Any, None, float] | None:
        if not self._for_us(jid) or not node:
            return None
        handler = self.handlers.start_handler(node)
        if handler is None:
            return None
        return (self.handlers.specs[node].name, handler, None, 0)

    async def _on_command(self, iq: Iq) -> None:
        try:
            await self._dispatch_command(iq)
        except XMPPError:
            raise
        except Exception as exc:
            log.exception("ad-hoc command %s failed", iq["command"]["node"])
            raise to_xmpp_error(exc) from exc

    async def _dispatch_command(self, iq: Iq) -> None:
        adhoc = self.plugin["xep_0050"]
        command = iq["command"]
        action, sessionid = command["action"], command["sessionid"]
        if action not in ACTIONS:
            raise _command_error("bad-request", "malformed-action")
        self._expire_sessions()
        if sessionid:
            session = adhoc.sessions.get(sessionid)
            # XEP-0050 §4.6: a session unknown here, or begun by someone else, is bad-sessionid.
            if (session is None or session["from"] != iq["from"]
                    or session["node"] != command["node"]):
                raise _command_error("bad-request", "bad-sessionid")
            if action == "prev" and not session.get("allow_prev"):
                raise _command_error("bad-request", "bad-action")
            self._session_seen[sessionid] = self.clock.now()
        elif action != "execute":
            raise _command_error("bad-request", "bad-sessionid")
        else:
            self._limit_sessions(iq["from"])
        await adhoc._handle_command_all(iq)
        self._after_command()

    def _expire_sessions(self) -> None:
        sessions = self.plugin["xep_0050"].sessions
        now = self.clock.now()
        for sid in list(sessions):
            seen = self._session_seen.setdefault(sid, now)
            if now - seen > self.session_timeout:
                del sessions[sid]
        for sid in list(self._session_seen):
            if sid not in sessions:
                del self._session_seen[sid]

    def _limit_sessions(self, requester: JID) -> None:
        sessions = self.plugin["xep_0050"].sessions
        mine = sorted((self._session_seen.get(sid, 0.0), sid) for sid, s in sessions.items()
                      if JID(s["from"]).bare == requester.bare)
        while len(mine) >= self.max_sessions_per_jid:
            _, sid = mine.pop(0)
            del sessions[sid]

    def _after_command(self) -> None:
        sessions = self.plugin["xep_0050"].sessions
        now = self.clock.now()
        for sid in list(sessions):
            if sessions[sid].get("next") is None:
                del sessions[sid]  # finished: nothing may continue it
            else:
                self._session_seen.setdefault(sid, now)

    # -- messages ---------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        if msg["to"].bare != self.boundjid.bare or not self.access.is_user(msg["from"]):
            return
        msg.reply(
            "I manage the apps that may use your account. Use the ad-hoc commands of "
            f"{self.boundjid.bare}: \"List my authorized apps\", \"Revoke app access\", "
            "\"Revoke access of all apps\"."
        ).send()

    def send_notice(self, grant: Grant) -> None:
        """Tell the grant's user that a new app can use the account."""
        body = notice_text(grant, component_jid=self.boundjid.bare,
                           account_url=f"{self.settings.issuer}/account")
        self.send_message(mto=JID(grant.jid), mbody=body, mtype="chat",
                          mfrom=self.boundjid.bare)


__all__ = ["Backoff", "OAuthComponent"]
