"""RFC 6749 §3.1 authorization endpoint: validate, let the pages interact, complete.

An invalid request is normally answered by redirecting to the (validated) redirect URI
(§4.1.2.1).  Without any user interaction that turns the endpoint into an open redirector for
anyone who registers a client (RFC 9700 §4.11.2), so such errors are redirected only for a
client the server trusts (:func:`~xmpp_oauth.web.pages.redirect_trusted`), and shown as the
error page otherwise.  Errors after interaction (``access_denied``) and ``prompt=none``
answers (OIDC Core §3.1.2.6) are redirected as before.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from ...errors import InvalidRequestError, OAuthError
from ...oauth.authorize import Approval, complete_authorization, validate_authorization
from ...oauth.requests import Params
from .. import pages
from ._common import FORM_TYPE, context, now

#: The pages' own form fields; never part of the OAuth request.
_OWN_PREFIX = "xo_"


async def _params(request: web.Request) -> tuple[Params, str]:
    """GET query or (OIDC Core §3.1.2.1) POST form; returns the params and a query string."""
    if request.method == "GET":
        return Params.from_pairs(request.query.items()), request.query_string
    if request.content_type != FORM_TYPE:
        raise InvalidRequestError(f"the body must be {FORM_TYPE}")
    form = await request.post()  # cached: the pages read the same form
    pairs: list[tuple[str, str]] = []
    for name, value in form.items():
        if not isinstance(value, str):
            raise InvalidRequestError("unexpected file upload")
        pairs.append((name, value))
    params = Params.from_pairs(pairs)
    return params, urlencode([(k, v) for k, v in pairs if not k.startswith(_OWN_PREFIX)])


async def authorize(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    params, query_string = await _params(request)
    try:
        authz = await validate_authorization(params, query_string=query_string,
                                             registry=ctx.clients, settings=ctx.settings,
                                             now=now(request))
    except OAuthError as exc:
        client_id = params.get("client_id")
        if exc.redirect_uri is not None and client_id is not None and not (
                await pages.redirect_trusted(request, client_id)):
            exc.redirect_uri = None  # RFC 9700 §4.11.2: the error page, no automatic redirect
        raise
    outcome = await pages.interact(request, authz)
    if not isinstance(outcome, Approval):
        response: web.StreamResponse = outcome
        return response
    result = await complete_authorization(authz, outcome, store=ctx.store, tokens=ctx.tokens,
                                          settings=ctx.settings, now=now(request))
    if result.code is not None:
        oob: web.StreamResponse = await pages.render_oob(request, result.code)
        return oob
    assert result.redirect_to is not None
    # 303 after a form POST, so the browser does not re-post to the client (RFC 9700 §4.12).
    status = 303 if request.method == "POST" else 302
    return web.Response(status=status, headers={"Location": result.redirect_to})


__all__ = ["authorize"]
