"""Error rendering (RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3), security headers, client address.

One place turns exceptions into HTTP (DESIGN §7.3):

================================ ==========================================================
where                            an ``OAuthError`` becomes
================================ ==========================================================
``/authorize``                   a 302 to the client with ``error``, ``state``, ``iss`` when
                                 the redirect URI was validated, else the error page
``/userinfo`` (resource)         JSON + ``WWW-Authenticate: Bearer error="..."``
other API endpoints              JSON ``{"error", "error_description"}`` (+ the error's own
                                 ``WWW-Authenticate`` for 401 ``invalid_client``)
browser pages                    the error page
================================ ==========================================================

``StoreError`` is 503 ``temporarily_unavailable``; any other exception is logged with its
traceback and becomes ``server_error`` with no detail.  The same middleware adds the security
headers (JSON responses are built with them already).  Oversized bodies (``client_max_size``)
are 413 ``invalid_request``.  Every response gets the security headers; API responses also get
``Access-Control-Allow-Origin: *`` (they use no cookies, so browser apps may call them).
"""

from __future__ import annotations

import html
import importlib
import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from ..errors import InsufficientScopeError, OAuthError, StoreError
from ..oauth.authorize import error_redirect
from ..oauth.metadata import ENDPOINT_PATHS
from ..settings import Settings
from .keys import CLIENT_ADDRESS_KEY, RUNTIME_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

AUTHORIZE_PATH: Final = "/authorize"
RESOURCE_PATHS: Final = frozenset({ENDPOINT_PATHS["userinfo_endpoint"]})
API_PATHS: Final = frozenset(
    {p for name, p in ENDPOINT_PATHS.items() if name != "authorization_endpoint"}
    | {"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}
)
CSP: Final = (
    "default-src 'self'; img-src 'self' https:; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
#: Everything a JSON response of an API endpoint carries, built once: RFC 6749 §5.1's
#: ``Cache-Control: no-store`` / ``Pragma: no-cache``, the security headers and CORS.
_JSON_HEADERS: Final = CIMultiDict({
    "Content-Type": "application/json; charset=utf-8",
    **_SECURITY_HEADERS,
    "Pragma": "no-cache",
    "Access-Control-Allow-Origin": "*",
})


def _relative_path(request: web.Request) -> str:
    return request.path


def endpoint_kind(request: web.Request) -> str:
    """``authorize`` | ``resource`` | ``api`` | ``page``."""
    path = _relative_path(request)
    if path == AUTHORIZE_PATH:
        return "authorize"
    if path in RESOURCE_PATHS:
        return "resource"
    if path in API_PATHS:
        return "api"
    return "page"


def json_response(body: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """JSON with RFC 6749 §5.1's ``Cache-Control: no-store`` and ``Pragma: no-cache``.

    The security and CORS headers are in it from the start (every caller is an API
    endpoint), so :func:`security_headers` has nothing left to add but HSTS.
    """
    return encoded_json_response(json.dumps(body).encode(), status=status, headers=headers)


def encoded_json_response(encoded: bytes, *, status: int = 200,
                          headers: dict[str, str] | None = None) -> web.Response:
    """:func:`json_response` for a body that is JSON already."""
    all_headers = _JSON_HEADERS
    if headers:
        all_headers = _JSON_HEADERS.copy()
        all_headers.update(headers)
    return web.Response(body=encoded, status=status, headers=all_headers)  # copies them


def _bearer_challenge(exc: OAuthError) -> str:
    # RFC 6750 §3: auth-param values are quoted strings; descriptions are our own ASCII text.
    parts = ['Bearer realm="xmpp-oauth"', f'error="{exc.error.value}"']
    if exc.description:
        parts.append('error_description="{}"'.format(exc.description.replace('"', "'")))
    if isinstance(exc, InsufficientScopeError) and exc.scope:
        parts.append(f'scope="{exc.scope}"')
    return ", ".join(parts)


async def render_error_page(request: web.Request, *, status: int, error: str,
                            description: str = "") -> web.Response:
    """The error page from the templates, or a plain fallback if the pages are unavailable."""
    if RUNTIME_KEY in request.app:
        try:
            pages = importlib.import_module("xmpp_oauth.web.pages")
            response: web.Response = await pages.render_error(
                request, status=status, error=error, description=description)
            return response
        except Exception:  # never let the error page hide the original error
            log.exception("rendering the error page failed")
    text = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Error</title>"
        f"<h1>This request cannot be completed</h1><p>{html.escape(description or error)}</p>"
        f"<p><code>{html.escape(error)}</code></p></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def _oauth_error(request: web.Request, exc: OAuthError) -> web.StreamResponse:
    kind = endpoint_kind(request)
    if kind == "authorize" or kind == "page":
        if exc.redirect_uri is not None:
            settings = request.app[SETTINGS_KEY]
            location = error_redirect(exc, issuer=settings.issuer)
            return web.Response(status=302, headers={"Location": location})
        # A page has no client to challenge: 401 invalid_client is shown as a 400.
        status = 400 if exc.status == 401 else exc.status
        return await render_error_page(request, status=status, error=exc.error.value,
                                       description=exc.description)
    headers: dict[str, str] = {}
    if kind == "resource":
        headers["WWW-Authenticate"] = _bearer_challenge(exc)
    elif exc.www_authenticate:
        headers["WWW-Authenticate"] = exc.www_authenticate
    return json_response(exc.body(), status=exc.status, headers=headers)


def _plain_error(request: web.Request, status: int, error: str,
                 description: str) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to the right wire form (table in the module docstring) and give
    every response the security headers.

    Protocol endpoints (:data:`API_PATHS`) go straight to their route's handler: the
    middlewares after this one serve the browser pages (session, CSRF, cookies), which
    these endpoints never use.  That is checked once, here, by path.
    """
    if request.path in API_PATHS:
        handler = request.match_info.handler
    try:
        response = await handler(request)
    except Exception as exc:
        try:
            response = await _failure(request, exc)
        except web.HTTPException as passed:  # redirects, and errors aiohttp renders
            security_headers(request, passed)
            raise
    security_headers(request, response)
    return response


async def _failure(request: web.Request, failure: Exception) -> web.StreamResponse:
    """The response for ``failure``, or ``failure`` raised again for aiohttp to render."""
    try:
        raise failure
    except OAuthError as exc:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.error.value)
        return await _oauth_error(request, exc)
    except web.HTTPRequestEntityTooLarge:
        if endpoint_kind(request) == "page":
            return await render_error_page(request, status=413, error="invalid_request",
                                           description="The request is too large.")
        return _plain_error(request, 413, "invalid_request", "request body too large")
    except web.HTTPException as exc:
        if exc.status >= 400 and endpoint_kind(request) in ("api", "resource"):
            response = _plain_error(request, exc.status, "invalid_request", exc.reason)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        raise
    except StoreError as exc:
        log.error("store failure on %s %s: %s", request.method, request.path, exc)
        if endpoint_kind(request) in ("page", "authorize"):
            return await render_error_page(request, status=503, error="temporarily_unavailable",
                                           description="Please try again in a moment.")
        return _plain_error(request, 503, "temporarily_unavailable", "try again later")
    except Exception:
        # Unexpected: full traceback to the log, nothing to the client.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if endpoint_kind(request) in ("page", "authorize"):
            return await render_error_page(request, status=500, error="server_error")
        return _plain_error(request, 500, "server_error", "internal error")


def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response carries (DESIGN §6)."""
    headers = response.headers
    if "Access-Control-Allow-Origin" not in headers:  # else built by json_response
        for name, value in _SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if endpoint_kind(request) in ("api", "resource"):
            headers["Access-Control-Allow-Origin"] = "*"
    if request.app[SETTINGS_KEY].issuer.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


async def preflight(request: web.Request) -> web.Response:
    """CORS preflight for the API endpoints (no cookies are involved there)."""
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
    })


def _networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p, strict=False) for p in settings.http.trusted_proxies]


def _trusted(address: str,
             networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request) -> str:
    """The client's IP: the peer, or, behind a configured proxy, from ``X-Forwarded-For``.

    Forwarded headers are believed only from ``http.trusted_proxies``; the rightmost
    address not belonging to a trusted proxy is the client (entries to its left are
    whatever the client itself claimed).
    """
    cached: str | None = request.get(CLIENT_ADDRESS_KEY)
    if cached is not None:
        return cached
    settings = request.app[SETTINGS_KEY]
    peer = request.remote or "unknown"
    address = peer
    if settings.http.trusted_proxies:
        networks = _networks(settings)
        if _trusted(peer, networks):
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                address = hop
                if not _trusted(hop, networks):
                    break
    request[CLIENT_ADDRESS_KEY] = address
    return address


__all__ = [
    "API_PATHS",
    "CSP",
    "client_address",
    "encoded_json_response",
    "endpoint_kind",
    "error_middleware",
    "json_response",
    "preflight",
    "render_error_page",
    "security_headers",
]
