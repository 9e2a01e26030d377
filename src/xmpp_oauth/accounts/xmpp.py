"""The ``xmpp`` account backend: the upstream XMPP server checks the password.

For deployments whose XMPP server keeps the passwords.  A login is checked by opening a c2s
connection to ``accounts.xmpp_host:xmpp_port`` with slixmpp, upgrading it with STARTTLS
(RFC 6120 §5; the certificate is verified, against ``xmpp_ca_file`` if given) and running SASL
(RFC 6120 §6) with the user's credentials.  The first SASL ``<failure/>`` means a wrong
password; ``<success/>`` means right, and we hang up before binding a resource.  Without TLS
the password is never sent unless ``xmpp_require_tls = false``.

An unreachable or silent server is a :class:`~xmpp_oauth.errors.StoreError` naming it
(``xmpp host:port: ...``) within ``xmpp_timeout``: the login page answers "temporarily
unavailable" instead of "wrong password".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Final

from scramp.utils import saslprep
from slixmpp import ClientXMPP

from ..errors import InvalidCredentialsError, StoreError
from ..settings import AccountSettings
from .local import normalize_jid

log = logging.getLogger(__name__)

_OK: Final = "ok"
_WRONG: Final = "wrong"


class XmppAccounts:
    """Verify passwords by logging in to the upstream XMPP server."""

    def __init__(self, settings: AccountSettings, *,
                 domains: tuple[str, ...] | None = None) -> None:
        self._settings = settings
        self._domains = domains
        self.label = f"xmpp {settings.xmpp_host}:{settings.xmpp_port}"

    async def exists(self, jid: str) -> bool:
        """The server does not tell without a password: any well-formed JID of ours may."""
        try:
            normalize_jid(jid, self._domains)
        except ValueError:
            return False
        return True

    async def authenticate(self, jid: str, password: str) -> None:
        try:
            bare = normalize_jid(jid, self._domains)
            saslprep(password)
        except Exception:  # a JID or password no server could accept
            raise InvalidCredentialsError("invalid username or password") from None
        if not password or "\x00" in password:
            raise InvalidCredentialsError("invalid username or password")
        outcome = await self._try_login(bare, password)
        if outcome != _OK:
            raise InvalidCredentialsError("invalid username or password")

    def _client(self, jid: str, password: str) -> ClientXMPP:
        s = self._settings
        client = ClientXMPP(jid, password)
        client.enable_direct_tls = False  # the c2s port speaks STARTTLS
        client.enable_starttls = True
        client.enable_plaintext = not s.xmpp_require_tls
        if s.xmpp_ca_file:
            client.ca_certs = Path(s.xmpp_ca_file)
        mechanisms = client.plugin["feature_mechanisms"]
        if not s.xmpp_require_tls:
            mechanisms.config["unencrypted_plain"] = True
            mechanisms.config["unencrypted_scram"] = True
        return client

    async def _try_login(self, jid: str, password: str) -> str:
        loop = asyncio.get_running_loop()
        result: asyncio.Future[str] = loop.create_future()
        client = self._client(jid, password)

        def settle(value: str | BaseException) -> None:
            if result.done():
                return
            if isinstance(value, BaseException):
                result.set_exception(value)
            else:
                result.set_result(value)

        def down(problem: str) -> None:
            settle(StoreError(self.label, problem))

        def on_connection_failed(err: Any) -> None:
            down(f"cannot connect ({err})")

        def on_disconnected(reason: Any) -> None:
            down(f"connection closed before authentication ({reason or 'no reason'})")

        def on_no_auth(_event: Any) -> None:
            down("no usable SASL mechanism (is STARTTLS offered?)")

        def on_bad_cert(_event: Any) -> None:
            down("TLS certificate not trusted (set accounts.xmpp_ca_file)")

        def on_stream_error(err: Any) -> None:
            down(f"stream error ({err['condition']})")

        client.add_event_handler("auth_success", lambda _e: settle(_OK))
        client.add_event_handler("failed_auth", lambda _e: settle(_WRONG))
        client.add_event_handler("failed_all_auth", lambda _e: settle(_WRONG))
        client.add_event_handler("no_auth", on_no_auth)
        client.add_event_handler("connection_failed", on_connection_failed)
        client.add_event_handler("disconnected", on_disconnected)
        client.add_event_handler("stream_error", on_stream_error)
        client.add_event_handler("ssl_invalid_chain", on_bad_cert)
        client.add_event_handler("ssl_invalid_cert", on_bad_cert)
        try:
            client.connect(self._settings.xmpp_host, self._settings.xmpp_port)
            try:
                return await asyncio.wait_for(result, timeout=self._settings.xmpp_timeout)
            except TimeoutError:
                raise StoreError(self.label, f"no answer within {self._settings.xmpp_timeout:g} s"
                                 ) from None
        finally:
            await _hang_up(client)


async def _hang_up(client: ClientXMPP) -> None:
    """Stop reconnect attempts, drop the connection and slixmpp's background task."""
    client.cancel_connection_attempt()
    if client.transport is not None:
        client.abort()
    filters = getattr(client, "_run_out_filters", None)
    if filters is not None:
        filters.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await filters
    # Let the transport's close callbacks run before the caller moves on.
    await asyncio.sleep(0)


__all__ = ["XmppAccounts"]
