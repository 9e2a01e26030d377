"""Every ``web.AppKey`` / ``web.RequestKey`` of the application, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

if TYPE_CHECKING:
    from ..oauth.context import OAuthContext
    from ..oauth.device import RateLimiter
    from ..oauth.introspection import IntrospectionAnswers
    from ..runtime import Runtime
    from ..settings import Settings

#: The settings the app was created with (available before startup).
SETTINGS_KEY: Final[web.AppKey[Settings]] = web.AppKey("xmpp_oauth_settings")
#: The opened runtime (store, keys, tokens, validator, accounts, clock); set at startup.
RUNTIME_KEY: Final[web.AppKey[Runtime]] = web.AppKey("xmpp_oauth_runtime")
#: The protocol services built from the runtime; set at startup.
OAUTH_KEY: Final[web.AppKey[OAuthContext]] = web.AppKey("xmpp_oauth_oauth")
#: Verified access-token claims for introspection.
INTROSPECTION_CACHE_KEY: Final[web.AppKey[IntrospectionAnswers]] = (
    web.AppKey("xmpp_oauth_introspect"))
#: Per-address limiter of the device authorization endpoint.
DEVICE_LIMITER_KEY: Final[web.AppKey[RateLimiter]] = web.AppKey("xmpp_oauth_device_limiter")
#: Per-address limiter of the registration endpoint.
REGISTRATION_LIMITER_KEY: Final[web.AppKey[RateLimiter]] = web.AppKey("xmpp_oauth_reg_limiter")
#: The discovery document (built once from the settings).
METADATA_KEY: Final = web.AppKey("xmpp_oauth_metadata", dict[str, Any])

#: The client's address as seen through trusted proxies (set by the headers middleware).
CLIENT_ADDRESS_KEY: Final = web.RequestKey("xmpp_oauth_client_address", str)

__all__ = [
    "CLIENT_ADDRESS_KEY",
    "DEVICE_LIMITER_KEY",
    "INTROSPECTION_CACHE_KEY",
    "METADATA_KEY",
    "OAUTH_KEY",
    "REGISTRATION_LIMITER_KEY",
    "RUNTIME_KEY",
    "SETTINGS_KEY",
]
