"""The protocol endpoints' route table (the browser pages add theirs in ``pages.setup``)."""

from __future__ import annotations

from aiohttp import web

from ..oauth.metadata import ENDPOINT_PATHS
from .handlers.authorize import authorize
from .handlers.device import device_authorization
from .handlers.introspect import introspect
from .handlers.register import register
from .handlers.revoke import revoke
from .handlers.token import token
from .handlers.userinfo import userinfo
from .handlers.wellknown import jwks, metadata
from .middlewares import preflight

WELL_KNOWN_OAUTH = "/.well-known/oauth-authorization-server"
WELL_KNOWN_OIDC = "/.well-known/openid-configuration"


def setup_routes(app: web.Application) -> None:
    p = ENDPOINT_PATHS
    r = app.router
    r.add_get(WELL_KNOWN_OIDC, metadata, name="openid_configuration")
    r.add_get(WELL_KNOWN_OAUTH, metadata, name="oauth_metadata")
    r.add_get(p["jwks_uri"], jwks, name="jwks")
    r.add_post(p["registration_endpoint"], register, name="register")
    r.add_get(p["authorization_endpoint"], authorize, name="authorize")
    r.add_post(p["authorization_endpoint"], authorize)
    r.add_post(p["token_endpoint"], token, name="token")
    r.add_post(p["revocation_endpoint"], revoke, name="revoke")
    r.add_post(p["introspection_endpoint"], introspect, name="introspect")
    r.add_get(p["userinfo_endpoint"], userinfo, name="userinfo")
    r.add_post(p["userinfo_endpoint"], userinfo)
    r.add_post(p["device_authorization_endpoint"], device_authorization,
               name="device_authorization")
    for path in (WELL_KNOWN_OIDC, WELL_KNOWN_OAUTH, p["jwks_uri"], p["registration_endpoint"],
                 p["token_endpoint"], p["revocation_endpoint"], p["introspection_endpoint"],
                 p["userinfo_endpoint"], p["device_authorization_endpoint"]):
        r.add_route("OPTIONS", path, preflight)


__all__ = ["WELL_KNOWN_OAUTH", "WELL_KNOWN_OIDC", "setup_routes"]
