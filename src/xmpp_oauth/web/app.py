"""The aiohttp application: protocol endpoints, browser pages, middlewares, runtime lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ..oauth.clients import ClientRegistry
from ..oauth.context import OAuthContext
from ..oauth.device import RateLimiter
from ..oauth.introspection import IntrospectionAnswers
from ..oauth.metadata import build_metadata
from ..settings import Settings
from . import pages
from .keys import (
    DEVICE_LIMITER_KEY,
    INTROSPECTION_CACHE_KEY,
    METADATA_KEY,
    OAUTH_KEY,
    REGISTRATION_LIMITER_KEY,
    RUNTIME_KEY,
    SETTINGS_KEY,
)
from .middlewares import error_middleware
from .routes import setup_routes

if TYPE_CHECKING:
    from ..runtime import Runtime

#: Device authorizations per client address: a burst of 10, then one every 2 s.
DEVICE_RATE = (0.5, 10)
#: Registrations per client address: a burst of 20, then one every 5 s.
REGISTRATION_RATE = (0.2, 20)


def oauth_context(runtime: Runtime) -> OAuthContext:
    """The protocol services over an opened runtime."""
    return OAuthContext(
        settings=runtime.settings,
        store=runtime.store,
        tokens=runtime.tokens,
        clients=ClientRegistry(runtime.store, runtime.clients),
        codec=runtime.clients,
        revocations=runtime.revocations,
        accounts=runtime.accounts,
        validator=runtime.validator,
    )


def _lifecycle(
    settings: Settings, runtime: Runtime | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if runtime is not None:
            app[RUNTIME_KEY] = runtime
            app[OAUTH_KEY] = oauth_context(runtime)
            yield
            return
        from ..runtime import open_runtime

        async with open_runtime(settings) as opened:
            app[RUNTIME_KEY] = opened
            app[OAUTH_KEY] = oauth_context(opened)
            yield

    return lifecycle


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> web.Application:
    """Build the application; the runtime is opened at startup unless one is given."""
    app = web.Application(middlewares=[error_middleware],
                          client_max_size=settings.http.max_body_size)
    app[SETTINGS_KEY] = settings
    app[METADATA_KEY] = build_metadata(settings)
    app[INTROSPECTION_CACHE_KEY] = IntrospectionAnswers()
    app[DEVICE_LIMITER_KEY] = RateLimiter(rate=DEVICE_RATE[0], burst=DEVICE_RATE[1])
    app[REGISTRATION_LIMITER_KEY] = RateLimiter(rate=REGISTRATION_RATE[0],
                                                burst=REGISTRATION_RATE[1])
    app.cleanup_ctx.append(_lifecycle(settings, runtime))
    setup_routes(app)
    pages.setup(app)
    return app


__all__ = ["create_app", "oauth_context"]
