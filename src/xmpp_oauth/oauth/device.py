"""RFC 8628 device authorization (§3.1 request, §3.2 response, §6.1 user code entropy).

Theory of operation
-------------------
A device with no browser asks for a pair of codes: the ``device_code`` (a 256-bit secret it
polls the token endpoint with; stored hashed) and the ``user_code`` the user types on
``<issuer>/device`` (the browser pages' job).  Polling itself is in ``grants``.

User codes follow §6.1: 8 characters from 20 consonants (``BCDFGHJKLMNPQRSTVWXZ``: no vowels,
so no words; no digits, so nothing to confuse with O/0 or I/1), shown as ``XXXX-XXXX``.  That
is 20^8 ≈ 2^34.6 codes; with a 10-minute lifetime and throttled entry that is out of reach of
guessing.  :func:`normalize_user_code` accepts what a person types (lower case, spaces, any
dashes) and returns the canonical form the store keys on.

The endpoint is rate limited per client address (§5.2 "brute forcing" of the device flow and
plain resource exhaustion) by :class:`RateLimiter`, a token bucket kept in memory.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any, Final

from ..errors import StoreError, UnauthorizedClientError
from ..store.base import DeviceCode
from ..tokens.secrets import hash_secret, new_secret
from .clients import authenticate_client
from .context import OAuthContext
from .requests import GrantType, Params
from .scopes import format_scope, resolve_scopes

USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH: Final = 8


def new_user_code() -> str:
    """A fresh user code, ``XXXX-XXXX``."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(text: str) -> str | None:
    """The canonical ``XXXX-XXXX`` form of what a user typed, or ``None`` if it cannot be one."""
    cleaned = "".join(c for c in text.upper() if c not in " -\t\u2010\u2011\u2012\u2013\u2014")
    if len(cleaned) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:]}"


class RateLimiter:
    """Token bucket per key: ``burst`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, *, rate: float, burst: int, max_keys: int = 10000) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, *, now: float) -> bool:
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed


async def device_authorization(ctx: OAuthContext, params: Params, *,
                               authorization: str | None, now: float) -> dict[str, Any]:
    """RFC 8628 §3.1-§3.2: issue a device code and a user code."""
    client = await authenticate_client(ctx.clients, authorization=authorization, params=params,
                                       now=now)
    if GrantType.DEVICE_CODE not in client.grant_types:
        raise UnauthorizedClientError("client did not register the device_code grant")
    s = ctx.settings
    scopes = resolve_scopes(params.get("scope"), registered=client.scope, settings=s)
    device_code = new_secret()
    user_code = new_user_code()
    record = DeviceCode(
        device_code_hash=hash_secret(device_code), user_code=user_code,
        client_id=client.client_id, client_name=client.client_name, scopes=scopes,
        created_at=now, expires_at=now + s.oauth2_device_code_ttl,
        interval=s.oauth2_device_poll_interval,
    )
    try:
        await ctx.store.add_device_code(record)
    except StoreError:
        # A user code collision (unique key) is possible, if rare: try once more.
        user_code = new_user_code()
        record = DeviceCode(**{**_fields(record), "user_code": user_code})
        await ctx.store.add_device_code(record)
    verification_uri = f"{s.issuer}/device"
    return {
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
        "expires_in": s.oauth2_device_code_ttl,
        "interval": s.oauth2_device_poll_interval,
        "scope": format_scope(scopes),
    }


def _fields(record: DeviceCode) -> dict[str, Any]:
    return {name: getattr(record, name) for name in DeviceCode.__dataclass_fields__}


__all__ = [
    "USER_CODE_ALPHABET",
    "USER_CODE_LENGTH",
    "RateLimiter",
    "device_authorization",
    "new_user_code",
    "normalize_user_code",
]
