"""The Store protocol: every piece of state the product keeps, and nothing else.

Records are frozen dataclasses.  Secrets (refresh tokens, codes, session ids) are stored only
as hashes (``tokens.secrets.hash_secret``): the store never sees a usable secret.  Every method
is one transaction; failures raise :class:`~xmpp_oauth.errors.StoreError` naming the store.

Two implementations pass one contract suite (``tests/store``): SQLite (``sqlite.py``, the
embedded default) and PostgreSQL (``postgres.py``, asyncpg).

Times are float seconds since the epoch, always passed in (``now=``), never read inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Account:
    """A local account.  ``jid`` is the bare JID, lowercase."""

    jid: str
    password_hash: str  # argon2id (argon2-cffi encoded string)
    scram_sha1: str  # scramp stored-key format: "salt,stored_key,server_key,iterations" (b64)
    scram_sha256: str
    disabled: bool
    created_at: float
    password_changed_at: float


@dataclass(frozen=True, slots=True)
class Grant:
    """One authorization a user gave one client; every token names its grant."""

    grant_id: str
    jid: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    created_at: float
    last_used_at: float
    revoked_at: float | None = None
    revoke_reason: str = ""
    auth_time: float = 0.0


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token (by hash).  ``consumed_at`` is set when it was rotated away."""

    token_hash: str
    grant_id: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float
    consumed_at: float | None = None


class RefreshUse(StrEnum):
    """What :meth:`Store.use_refresh_token` made of a presented refresh token."""

    ROTATED = "rotated"  # consumed; the new token is stored
    UNKNOWN = "unknown"  # no such token (never issued, purged, or its grant was revoked)
    WRONG_CLIENT = "wrong_client"  # another client's token: the grant is revoked
    REUSED = "reused"  # consumed before (RFC 9700 §4.14.2): the grant is revoked
    INVALID = "invalid"  # expired, or its grant is revoked; nothing changed
    SCOPE = "scope"  # more scopes asked than the token carries; nothing changed


@dataclass(frozen=True, slots=True)
class RefreshRotation:
    """The outcome of :meth:`Store.use_refresh_token`.

    ``token`` is the presented token as stored (with ``consumed_at`` set when rotated), for
    every outcome but ``UNKNOWN``; ``grant`` is its grant when ``ROTATED``."""

    outcome: RefreshUse
    token: RefreshToken | None = None
    grant: Grant | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code (by hash), single use (RFC 6749 §4.1.2)."""

    code_hash: str
    client_id: str
    client_name: str
    jid: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str
    code_challenge_method: str
    nonce: str
    auth_time: float
    created_at: float
    expires_at: float
    used_at: float | None = None
    grant_id: str | None = None  # the grant created when it was redeemed
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. resource indicators, amr


class DeviceStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """RFC 8628 device authorization (device code by hash, user code in the clear)."""

    device_code_hash: str
    user_code: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float
    interval: int
    status: DeviceStatus = DeviceStatus.PENDING
    last_polled_at: float = 0.0
    jid: str = ""
    auth_time: float = 0.0
    grant_id: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """Remembered consent: ``jid`` allowed ``client_id`` these scopes."""

    jid: str
    client_id: str
    scopes: tuple[str, ...]
    granted_at: float


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A browser login session (by hash of the cookie's session id)."""

    session_hash: str
    jid: str
    auth_time: float
    created_at: float
    expires_at: float
    amr: tuple[str, ...] = ("pwd",)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key.  ``private_pem`` is PKCS#8 PEM (or the raw secret for HS256)."""

    kid: str
    alg: str
    private_pem: bytes
    created_at: float
    retired_at: float | None = None


@dataclass(frozen=True, slots=True)
class StoredClient:
    """An admin-registered client (dynamic clients are stateless signed ids)."""

    client_id: str
    client_secret_hash: str | None
    metadata: dict[str, Any]
    created_at: float


class Store(Protocol):
    """Everything the product persists.  Implementations: SQLite, PostgreSQL."""

    name: str  # "sqlite" / "postgresql", used in StoreError messages

    # -- lifecycle --------------------------------------------------------------------------
    async def close(self) -> None: ...

    # -- accounts ---------------------------------------------------------------------------
    async def create_account(self, account: Account) -> None:
        """Raise ``StoreError`` if the JID exists already."""
        ...

    async def get_account(self, jid: str) -> Account | None: ...
    async def list_accounts(self) -> list[Account]: ...

    async def update_account_credentials(
        self, jid: str, *, password_hash: str, scram_sha1: str, scram_sha256: str, now: float
    ) -> None:
        """Change the password; revokes every grant of the account in the same transaction."""
        ...

    async def set_account_disabled(self, jid: str, disabled: bool, *, now: float) -> None:
        """Disabling also revokes every grant of the account (same transaction)."""
        ...

    async def delete_account(self, jid: str, *, now: float) -> None:
        """Removes the account; its grants are revoked first."""
        ...

    # -- grants and revocation --------------------------------------------------------------
    async def create_grant(self, grant: Grant) -> None: ...
    async def get_grant(self, grant_id: str) -> Grant | None: ...

    async def list_grants(
        self, jid: str, *, include_revoked: bool = False, limit: int | None = None
    ) -> list[Grant]:
        """A user's grants, newest first (indexed by jid: cost does not grow with others').

        ``limit`` returns one page (the newest ``limit``): its cost stays flat however many
        grants the user holds; without it the cost is proportional to the user's grants."""
        ...

    async def touch_grant(self, grant_id: str, *, now: float) -> None:
        """Record use (last_used_at); cheap, may be batched."""
        ...

    async def revoke_grant(self, grant_id: str, *, reason: str, now: float) -> bool:
        """Revoke one grant and its refresh tokens.  False if unknown or already revoked."""
        ...

    async def revoke_grants(
        self, jid: str, *, client_id: str | None = None, reason: str, now: float
    ) -> list[str]:
        """Revoke all of a user's grants (optionally one client's).  Returns their ids."""
        ...

    async def revoked_grants_since(self, cursor: int) -> tuple[list[str], int]:
        """Grant ids revoked after ``cursor`` (0 = all still relevant) and the new cursor.

        The revocation set of every process polls this; it must be cheap when nothing changed.
        Grants whose tokens all expired may be omitted (housekeeping drops them).
        """
        ...

    async def grants_created_since(
        self, cursor: int, *, limit: int = 200
    ) -> tuple[list[Grant], int]:
        """Grants created after ``cursor``, oldest first, at most ``limit``, and the next cursor.

        Every path that creates a grant numbers it in commit order, so paging with the
        returned cursor never skips or repeats one, whichever process created it.  Grants
        revoked since are still reported (they were created); purged ones are not.
        ``cursor < 0`` means "from now on": no grants, just the current end.  Cursors are
        opaque integers, comparable only within one store.
        """
        ...

    # -- refresh tokens (RFC 6749 §6, RFC 9700 §4.14) ----------------------------------------
    async def add_refresh_token(self, token: RefreshToken) -> None: ...
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    async def rotate_refresh_token(
        self, old_hash: str, new: RefreshToken, *, now: float
    ) -> RefreshToken | None:
        """Atomically consume ``old_hash`` and store ``new`` (same grant).

        Returns the consumed record.  If ``old_hash`` was already consumed this is reuse:
        the grant is revoked (reason ``refresh_reuse``) and ``None`` is returned.  Unknown,
        expired, or belonging to a revoked grant: ``None`` without side effects.  Of two
        concurrent rotations of one token exactly one succeeds.
        """
        ...

    async def use_refresh_token(
        self,
        token_hash: str,
        *,
        client_id: str,
        new_hash: str,
        expires_at: float,
        scopes_within: frozenset[str] | None = None,
        now: float,
    ) -> RefreshRotation:
        """The refresh_token grant's whole store side in one transaction (RFC 6749 §6).

        Checked in this order: known; issued to ``client_id`` (else the grant is revoked,
        reason ``refresh_wrong_client``); not consumed (else reuse: the grant is revoked,
        reason ``refresh_reuse``); unexpired with a live grant; ``scopes_within`` (when given)
        a subset of the token's scopes.  Only when all pass is the token consumed and
        ``new_hash`` stored for the same grant, client and scopes (created ``now``, expiring
        ``expires_at``), and the grant's ``last_used_at`` touched.  Of two concurrent uses of
        one token exactly one is ``ROTATED``; the other is ``REUSED``.
        """
        ...

    # -- authorization codes (RFC 6749 §4.1.2) -----------------------------------------------
    async def add_authorization_code(self, code: AuthorizationCode) -> None: ...

    async def redeem_authorization_code(
        self, code_hash: str, *, grant_id: str, now: float
    ) -> AuthorizationCode | None:
        """Atomically mark the code used and create its grant (``grant_id``) from its fields.

        Returns the code record (with ``used_at``/``grant_id`` set).  A code used before:
        the grant created from it is revoked (reason ``code_replay``), ``None`` returned.
        Unknown or expired: ``None``.
        """
        ...

    # -- device codes (RFC 8628) -------------------------------------------------------------
    async def add_device_code(self, device: DeviceCode) -> None: ...
    async def get_device_code_by_user_code(self, user_code: str) -> DeviceCode | None: ...

    async def decide_device_code(
        self, user_code: str, *, approve: bool, jid: str, auth_time: float, now: float
    ) -> bool:
        """Approve or deny a pending, unexpired device code.  False if not pending."""
        ...

    async def poll_device_code(self, device_code_hash: str, *, now: float) -> DeviceCode | None:
        """Return the record as it was and set ``last_polled_at = now`` (for slow_down)."""
        ...

    async def redeem_device_code(
        self, device_code_hash: str, *, grant_id: str, now: float
    ) -> DeviceCode | None:
        """Approved -> consumed, creating the grant; anything else -> None."""
        ...

    # -- consent -----------------------------------------------------------------------------
    async def remember_consent(self, consent: Consent) -> None: ...
    async def get_consent(self, jid: str, client_id: str) -> Consent | None: ...
    async def forget_consent(self, jid: str, client_id: str | None = None) -> None: ...

    # -- login sessions ----------------------------------------------------------------------
    async def create_session(self, session: LoginSession) -> None: ...
    async def get_session(self, session_hash: str, *, now: float) -> LoginSession | None: ...
    async def delete_session(self, session_hash: str) -> None: ...
    async def delete_sessions(self, jid: str) -> None: ...

    # -- signing keys ------------------------------------------------------------------------
    async def add_signing_key(self, key: StoredKey) -> None: ...
    async def list_signing_keys(self) -> list[StoredKey]: ...
    async def retire_signing_key(self, kid: str, *, now: float) -> None: ...
    async def delete_signing_key(self, kid: str) -> None: ...

    # -- clients -----------------------------------------------------------------------------
    async def add_client(self, client: StoredClient) -> None: ...
    async def get_client(self, client_id: str) -> StoredClient | None: ...
    async def list_clients(self) -> list[StoredClient]: ...
    async def delete_client(self, client_id: str) -> None: ...
    async def revoke_client(
        self, client_id: str, *, now: float, reason: str = "client_revoked"
    ) -> None:
        """Deny-list a (possibly stateless) client id and revoke every grant it holds."""
        ...

    async def is_client_revoked(self, client_id: str) -> bool: ...

    # -- throttling --------------------------------------------------------------------------
    async def record_login_failure(self, key: str, *, now: float, window: float) -> int:
        """Count a failure for ``key`` (``acct:<jid>`` / ``addr:<ip>``); returns the failures
        in the current window (a fixed window of ``window`` seconds from the first failure)."""
        ...

    async def login_failures(self, key: str, *, now: float, window: float) -> int: ...
    async def clear_login_failures(self, key: str) -> None: ...

    # -- housekeeping ------------------------------------------------------------------------
    async def purge_expired(self, *, now: float, retention: float = 86400.0) -> dict[str, int]:
        """Delete expired codes, device codes, sessions, refresh tokens, old failures and
        revoked grants whose tokens can no longer be valid.  Never anything still valid.

        Something is valid while ``now < expires_at``.  Revoked grants (with their revocation
        entries), used codes and grants with no refresh token left stay ``retention`` seconds
        after their revocation / use / last use: pass at least the access-token lifetime.
        Returns counts per kind."""
        ...


__all__ = [
    "Account",
    "AuthorizationCode",
    "Consent",
    "DeviceCode",
    "DeviceStatus",
    "Grant",
    "LoginSession",
    "RefreshRotation",
    "RefreshToken",
    "RefreshUse",
    "Store",
    "StoredClient",
    "StoredKey",
]
