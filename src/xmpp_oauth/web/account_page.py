"""The account page: the signed-in user's authorized apps, with revoke (DESIGN §1, §3).

Revoking marks the grant revoked in the store (its refresh tokens die with it) and adds it
to this process's in-memory revocation set at once; other processes pick it up on their
next poll (within a second), so the app's access tokens stop working for XMPP logins.
The remembered consent for that client is forgotten too: its next request asks again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import web

from ..oauth.scopes import ScopeDescription, describe_scopes
from .browser import page_kit

REVOKED_NOTICE: Final = "Access revoked. The app can no longer use your account."


@dataclass(frozen=True, slots=True)
class GrantView:
    grant_id: str
    client_name: str
    scopes: list[ScopeDescription]
    created_at: float
    last_used_at: float


async def account_get(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    session = await kit.sessions.current(request)
    if session is None:
        return await kit.login_page(
            request, action=kit.url("/login"), hidden=[("next", kit.url("/account"))]
        )
    grants = [
        GrantView(
            g.grant_id,
            g.client_name,
            describe_scopes(g.scopes, kit.settings),
            g.created_at,
            g.last_used_at,
        )
        for g in await kit.store.list_grants(session.jid)
        if g.revoked_at is None
    ]
    notice = REVOKED_NOTICE if request.query.get("done") == "revoked" else None
    return await kit.render(request, "account.html", {"grants": grants, "notice": notice})


async def revoke_post(request: web.Request) -> web.StreamResponse:
    kit = page_kit(request)
    form = await request.post()
    await kit.csrf.verify(request, form)
    session = await kit.sessions.current(request)
    if session is None:
        return await kit.login_page(
            request, action=kit.url("/login"), hidden=[("next", kit.url("/account"))], status=401
        )
    grant_id = form.get("grant_id")
    grant = await kit.store.get_grant(grant_id) if isinstance(grant_id, str) else None
    if grant is None or grant.jid != session.jid:
        # Someone else's grant looks exactly like a missing one.
        return await kit.error_page(
            request,
            status=404,
            title="App not found",
            message="This app has no access to your account (any more).",
            back=kit.url("/account"),
        )
    now = kit.clock.now()
    await kit.store.revoke_grant(grant.grant_id, reason="user", now=now)
    kit.runtime.revocations.add_local(grant.grant_id)
    await kit.store.forget_consent(session.jid, grant.client_id)
    raise web.HTTPSeeOther(kit.url("/account") + "?done=revoked")


def setup(app: web.Application) -> None:
    app.router.add_get("/account", account_get, name="account")
    app.router.add_post("/account/revoke", revoke_post, name="account_revoke")


__all__ = ["account_get", "revoke_post", "setup"]
