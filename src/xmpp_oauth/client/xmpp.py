"""XEP-0493 on the wire: discovery through the OAUTHBEARER error challenge, and token login.

An app that knows only a JID sends OAUTHBEARER with an empty token; the server answers with
the RFC 7628 §3.2.2 JSON error whose ``openid-configuration`` member names the authorization
server.  Later logins send the real token.  Both use the project's slixmpp mechanism.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slixmpp import ClientXMPP

from ..sasl.oauthbearer import ErrorChallenge
from ..sasl.slixmpp_mech import ERROR_CHALLENGE_EVENT, register_slixmpp_mechanism


class XmppLoginError(Exception):
    """The XMPP server refused the login or could not be reached."""

    def __init__(self, message: str, challenge: ErrorChallenge | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge


@dataclass(frozen=True, slots=True)
class XmppEndpoint:
    """Where and how to reach the XMPP server (defaults: DNS SRV of the JID's domain, TLS)."""

    host: str | None = None
    port: int = 5222
    ca_file: str | None = None
    #: Plaintext c2s: only for tests against a loopback server.
    insecure_plaintext: bool = False


def _client(jid: str, token: str, endpoint: XmppEndpoint, authzid: str | None) -> ClientXMPP:
    xmpp = ClientXMPP(jid, "", sasl_mech="OAUTHBEARER")
    xmpp.credentials["access_token"] = token
    if authzid:
        xmpp.credentials["authzid"] = authzid
    register_slixmpp_mechanism(xmpp)
    xmpp.enable_direct_tls = False
    if endpoint.ca_file:
        xmpp.ca_certs = Path(endpoint.ca_file)
    if endpoint.insecure_plaintext:
        xmpp.enable_starttls = False
        xmpp.enable_plaintext = True
        xmpp.plugin["feature_mechanisms"].config["unencrypted_oauthbearer"] = True
    return xmpp


async def _run(jid: str, token: str, endpoint: XmppEndpoint, *, authzid: str | None,
               timeout: float, keep: bool) -> tuple[ClientXMPP | None, ErrorChallenge | None]:
    xmpp = _client(jid, token, endpoint, authzid)
    done: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()

    def finish(ok: bool, value: Any) -> None:
        if not done.done():
            done.set_result((ok, value))

    xmpp.add_event_handler("session_start", lambda _e: finish(True, None))
    xmpp.add_event_handler(ERROR_CHALLENGE_EVENT, lambda ch: finish(False, ch))
    xmpp.add_event_handler("failed_all_auth", lambda _e: finish(False, None))
    xmpp.add_event_handler("connection_failed", lambda e: finish(False, f"connection failed: {e}"))
    xmpp.add_event_handler("disconnected", lambda _e: finish(False, "disconnected"))
    if endpoint.host:
        xmpp.connect(endpoint.host, endpoint.port)
    else:
        xmpp.connect()
    try:
        ok, value = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        xmpp.disconnect()
        raise XmppLoginError(f"no answer from the XMPP server within {timeout:g} s") from None
    if ok and keep:
        return xmpp, None
    await _disconnect(xmpp)
    if ok:
        return None, None
    if isinstance(value, ErrorChallenge):
        return None, value
    if isinstance(value, str):
        raise XmppLoginError(value)
    return None, None


async def _disconnect(xmpp: ClientXMPP) -> None:
    xmpp.disconnect()
    try:
        await asyncio.wait_for(xmpp.disconnected, 5)
    except (TimeoutError, ssl.SSLError):
        pass


async def discover_metadata_url(jid: str, endpoint: XmppEndpoint = XmppEndpoint(), *,
                                timeout: float = 20.0) -> str:
    """XEP-0493 discovery: the ``openid-configuration`` URL from an empty-token challenge."""
    _xmpp, challenge = await _run(jid, "", endpoint, authzid=None, timeout=timeout, keep=False)
    if challenge is None or not challenge.openid_configuration:
        raise XmppLoginError("the server did not announce an OAuth authorization server "
                             "(no openid-configuration in the OAUTHBEARER challenge)", challenge)
    return challenge.openid_configuration


async def login_with_token(jid: str, token: str, endpoint: XmppEndpoint = XmppEndpoint(), *,
                           authzid: str | None = None, timeout: float = 20.0) -> ClientXMPP:
    """Log in with OAUTHBEARER; returns the connected client (caller disconnects)."""
    xmpp, challenge = await _run(jid, token, endpoint, authzid=authzid, timeout=timeout,
                                 keep=True)
    if xmpp is None:
        status = challenge.status if challenge else "not-authorized"
        raise XmppLoginError(f"the server refused the token ({status})", challenge)
    return xmpp


__all__ = ["XmppEndpoint", "XmppLoginError", "discover_metadata_url", "login_with_token"]
