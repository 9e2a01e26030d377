"""XEP-0050 ad-hoc command handlers with XEP-0004 forms: list and revoke app access.

Each command is a chain of slixmpp session handlers: ``start(iq, session)`` checks who may run
it, later steps get ``(payload, session)``.  Failures raise ``XMPPError``; the requester is
``session["from"]`` (the component binds every later stage to it, see ``component.py``).
"""

# slixmpp's data form stanzas are not annotated.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from slixmpp import JID
from slixmpp.exceptions import XMPPError
from slixmpp.jid import InvalidJID
from slixmpp.plugins.xep_0004 import Form

from xmpp_oauth.errors import StoreError, XmppOAuthError
from xmpp_oauth.store.base import Grant

from .services import REASON_ADMIN, REASON_USER, Services

log = logging.getLogger(__name__)

NS_COMMANDS: Final = "http://jabber.org/protocol/commands"
NS_DATA: Final = "jabber:x:data"

Session = dict[str, Any]
Handler = Callable[[Any, Session], Awaitable[Session]]


class Node(StrEnum):
    """Command nodes offered by the component."""

    LIST = "list-apps"
    REVOKE = "revoke-apps"
    REVOKE_ALL = "revoke-all-apps"
    ADMIN_LIST = "admin-list-apps"
    ADMIN_REVOKE = "admin-revoke-apps"
    ADMIN_DISABLE = "admin-disable-account"
    ADMIN_ENABLE = "admin-enable-account"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    node: Node
    name: str
    admin: bool


COMMANDS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec(Node.LIST, "List my authorized apps", admin=False),
    CommandSpec(Node.REVOKE, "Revoke app access", admin=False),
    CommandSpec(Node.REVOKE_ALL, "Revoke access of all apps", admin=False),
    CommandSpec(Node.ADMIN_LIST, "Show a user's authorized apps", admin=True),
    CommandSpec(Node.ADMIN_REVOKE, "Revoke a user's app access", admin=True),
    CommandSpec(Node.ADMIN_DISABLE, "Disable an account", admin=True),
    CommandSpec(Node.ADMIN_ENABLE, "Enable an account", admin=True),
)


class Access:
    """Who may run what: users of served domains, and configured admins."""

    def __init__(self, domains: Iterable[str], admins: Iterable[str]) -> None:
        self.domains = frozenset(d.lower() for d in domains)
        self.admins = frozenset(JID(a).bare for a in admins)

    def is_user(self, jid: JID) -> bool:
        return bool(jid.user) and jid.domain in self.domains

    def is_admin(self, jid: JID) -> bool:
        return bool(jid.bare) and jid.bare in self.admins

    def may_run(self, spec: CommandSpec, jid: JID) -> bool:
        return self.is_admin(jid) if spec.admin else self.is_user(jid)

    def commands_for(self, jid: JID) -> list[CommandSpec]:
        return [spec for spec in COMMANDS if self.may_run(spec, jid)]


def to_xmpp_error(exc: Exception) -> XMPPError:
    """The one mapping from our errors to stanza errors (RFC 6120 §8.3.3)."""
    if isinstance(exc, XMPPError):
        return exc
    if isinstance(exc, StoreError):
        return XMPPError("internal-server-error", text="Temporarily unavailable, try again",
                         etype="wait")
    if isinstance(exc, XmppOAuthError):
        return XMPPError("internal-server-error", text=type(exc).__name__)
    return XMPPError("internal-server-error")


def bad_payload(text: str) -> XMPPError:
    """XEP-0050 §4.6: bad-request with the <bad-payload/> application condition."""
    return XMPPError("bad-request", text=text, etype="modify",
                     extension="bad-payload", extension_ns=NS_COMMANDS)


class CommandHandlers:
    """The handlers behind every node, bound to one :class:`Services`."""

    def __init__(self, services: Services, access: Access) -> None:
        self.services = services
        self.access = access
        self._starts: dict[Node, Handler] = {
            Node.LIST: self._list,
            Node.REVOKE: self._revoke,
            Node.REVOKE_ALL: self._revoke_all,
            Node.ADMIN_LIST: self._ask_jid,
            Node.ADMIN_REVOKE: self._ask_jid,
            Node.ADMIN_DISABLE: self._ask_jid,
            Node.ADMIN_ENABLE: self._ask_jid,
        }
        self.specs = {spec.node.value: spec for spec in COMMANDS}

    def start_handler(self, node: str) -> Handler | None:
        spec = self.specs.get(node)
        if spec is None:
            return None
        inner = self._starts[spec.node]

        async def start(iq: Any, session: Session) -> Session:
            requester = JID(iq["from"])
            if not self.access.may_run(spec, requester):
                # Foreign domains, anonymous senders and non-admins all end here.
                raise XMPPError("forbidden", text="You may not use this command")
            session["requester"] = requester.bare
            session["spec"] = spec
            return await inner(iq, session)

        return start

    # -- user commands ----------------------------------------------------------------------

    async def _list(self, iq: Any, session: Session) -> Session:
        jid = session["requester"]
        grants = await self.services.list_grants(jid)
        return _finish(session, _grants_table(grants, f"Apps with access to {jid}"),
                       None if grants else "No app has access to your account.")

    async def _revoke(self, iq: Any, session: Session) -> Session:
        grants = await self.services.list_grants(session["requester"])
        if not grants:
            return _finish(session, None, "No app has access to your account.")
        form = _form("form", "Revoke app access",
                     "Choose the apps that should lose access to your account.")
        _grant_choice(form, grants)
        return _step(session, form, self._revoke_submit, has_next=False)

    async def _revoke_submit(self, payload: Any, session: Session) -> Session:
        return await self._revoke_selected(payload, session, session["requester"], REASON_USER)

    async def _revoke_all(self, iq: Any, session: Session) -> Session:
        grants = await self.services.list_grants(session["requester"])
        if not grants:
            return _finish(session, None, "No app has access to your account.")
        form = _form("form", "Revoke access of all apps",
                     f"{len(grants)} app(s) can use your account: {_names(grants)}.")
        form.add_field(var="confirm", ftype="boolean", required=True, value=False,
                       label="Yes, revoke the access of every app")
        return _step(session, form, self._revoke_all_submit, has_next=False)

    async def _revoke_all_submit(self, payload: Any, session: Session) -> Session:
        if not _boolean(_submitted(payload), "confirm"):
            return _finish(session, None, "Nothing was revoked.")
        revoked = await self.services.revoke_all(session["requester"], reason=REASON_USER)
        return _finish(session, None, f"Revoked the access of {len(revoked)} app(s).")

    # -- admin commands ---------------------------------------------------------------------

    async def _ask_jid(self, iq: Any, session: Session) -> Session:
        spec: CommandSpec = session["spec"]
        form = _form("form", spec.name, "Which account?")
        form.add_field(var="jid", ftype="jid-single", label="Account (bare JID)", required=True)
        nexts: dict[Node, tuple[Handler, bool]] = {
            Node.ADMIN_LIST: (self._admin_list, False),
            Node.ADMIN_REVOKE: (self._admin_choose, True),
            Node.ADMIN_DISABLE: (self._admin_disable, False),
            Node.ADMIN_ENABLE: (self._admin_enable, False),
        }
        handler, has_next = nexts[spec.node]
        return _step(session, form, handler, has_next=has_next)

    def _target(self, payload: Any) -> str:
        raw = _single(_submitted(payload), "jid")
        try:
            jid = JID(raw.strip())
        except InvalidJID:
            raise bad_payload("Not a valid JID") from None
        if not jid.user or jid.resource:
            raise bad_payload("Give a bare account JID (user@domain)")
        if jid.domain not in self.access.domains:
            raise bad_payload(f"{jid.domain} is not served here")
        return jid.bare

    async def _admin_list(self, payload: Any, session: Session) -> Session:
        target = self._target(payload)
        grants = await self.services.list_grants(target)
        return _finish(session, _grants_table(grants, f"Apps with access to {target}"),
                       None if grants else f"No app has access to {target}.")

    async def _admin_choose(self, payload: Any, session: Session) -> Session:
        target = self._target(payload)
        grants = await self.services.list_grants(target)
        if not grants:
            return _finish(session, None, f"No app has access to {target}.")
        session["target"] = target
        form = _form("form", f"Revoke app access of {target}", "Choose the apps to revoke.")
        _grant_choice(form, grants)
        return _step(session, form, self._admin_revoke_submit, has_next=False)

    async def _admin_revoke_submit(self, payload: Any, session: Session) -> Session:
        return await self._revoke_selected(payload, session, session["target"], REASON_ADMIN)

    async def _admin_disable(self, payload: Any, session: Session) -> Session:
        return await self._set_disabled(payload, session, disabled=True)

    async def _admin_enable(self, payload: Any, session: Session) -> Session:
        return await self._set_disabled(payload, session, disabled=False)

    async def _set_disabled(self, payload: Any, session: Session, *, disabled: bool) -> Session:
        target = self._target(payload)
        if await self.services.account(target) is None:
            raise XMPPError("item-not-found", text=f"No local account {target}")
        await self.services.set_account_disabled(target, disabled)
        log.info("%s %s by admin", "disabled" if disabled else "enabled", target)
        what = "disabled; its app access was revoked" if disabled else "enabled"
        return _finish(session, None, f"{target} is {what}.")

    # -- shared -----------------------------------------------------------------------------

    async def _revoke_selected(self, payload: Any, session: Session, jid: str,
                               reason: str) -> Session:
        chosen = _multi(_submitted(payload), "grants")
        if not chosen:
            raise bad_payload("Choose at least one app")
        grants = {g.grant_id: g for g in await self.services.list_grants(jid)}
        if any(grant_id not in grants for grant_id in chosen):
            # Unknown, already revoked, or someone else's: all look the same, nothing revoked.
            raise XMPPError("item-not-found", text="No such app access")
        revoked = await self.services.revoke_grants(jid, chosen, reason=reason)
        names = _names(grants[g] for g in revoked)
        return _finish(session, None, f"Revoked the access of {len(revoked)} app(s): {names}.")


# -- forms --------------------------------------------------------------------------------


def _form(ftype: str, title: str, instructions: str = "") -> Form:
    form = Form()
    form["type"] = ftype
    form["title"] = title
    if instructions:
        form["instructions"] = instructions
    return form


def when(ts: float) -> str:
    """XEP-0082 DateTime in UTC, or ``never`` for 0."""
    if ts <= 0:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_name(grant: Grant) -> str:
    return grant.client_name or grant.client_id


def _names(grants: Iterable[Grant]) -> str:
    return ", ".join(app_name(g) for g in grants)


def _grants_table(grants: Sequence[Grant], title: str) -> Form | None:
    if not grants:
        return None
    form = _form("result", title)
    for var, label in (("app", "App"), ("scopes", "Scopes"), ("granted", "Granted"),
                       ("last_used", "Last used"), ("grant", "Grant id")):
        form.add_reported(var, ftype="text-single", label=label)
    for g in grants:
        form.add_item({"app": app_name(g), "scopes": " ".join(g.scopes),
                       "granted": when(g.created_at), "last_used": when(g.last_used_at),
                       "grant": g.grant_id})
    return form


def _grant_choice(form: Form, grants: Sequence[Grant]) -> None:
    options = [{"label": f"{app_name(g)} ({' '.join(g.scopes)}; granted {when(g.created_at)})",
                "value": g.grant_id} for g in grants]
    form.add_field(var="grants", ftype="list-multi", label="Apps", required=True,
                   options=options)


def _submitted(payload: Any) -> Form:
    """The one submitted data form of a later stage (XEP-0004 §3.1 type submit)."""
    forms = payload if isinstance(payload, list) else [payload]
    forms = [f for f in forms if isinstance(f, Form)]
    if len(forms) != 1:
        raise bad_payload("Expected one data form")
    form: Form = forms[0]
    if form["type"] not in ("submit", ""):
        raise bad_payload("Expected a submitted data form")
    return form


def _raw_values(form: Form, var: str) -> list[str] | None:
    for field in form.xml.findall(f"{{{NS_DATA}}}field"):
        if field.get("var") == var:
            return [v.text or "" for v in field.findall(f"{{{NS_DATA}}}value")]
    return None


def _multi(form: Form, var: str) -> list[str]:
    values = _raw_values(form, var)
    if values is None:
        raise bad_payload(f"Missing field {var}")
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _single(form: Form, var: str) -> str:
    values = _raw_values(form, var)
    if not values or len(values) != 1 or not values[0].strip():
        raise bad_payload(f"Field {var} needs exactly one value")
    return values[0]


def _boolean(form: Form, var: str) -> bool:
    # XEP-0004 §3.3: boolean values are "0"/"false" or "1"/"true".
    value = _single(form, var).strip()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise bad_payload(f"Field {var} is not a boolean")


def _step(session: Session, form: Form, handler: Handler, *, has_next: bool) -> Session:
    session["payload"] = form
    session["next"] = handler
    session["has_next"] = has_next
    session["allow_complete"] = False
    session["notes"] = None
    return session


def _finish(session: Session, form: Form | None, note: str | None) -> Session:
    session["payload"] = form
    session["next"] = None
    session["has_next"] = False
    session["notes"] = [("info", note)] if note else None
    return session


__all__ = [
    "COMMANDS",
    "NS_COMMANDS",
    "Access",
    "CommandHandlers",
    "CommandSpec",
    "Node",
    "app_name",
    "bad_payload",
    "to_xmpp_error",
    "when",
]
