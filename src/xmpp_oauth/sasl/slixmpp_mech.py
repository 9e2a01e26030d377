"""RFC 7628 OAUTHBEARER for slixmpp clients (RFC 6120 §6.4 stream-level SASL), XEP-0493 discovery.

Theory of operation
-------------------
slixmpp (1.17) keeps a global registry of SASL mechanisms (``slixmpp.util.sasl.client``):
a ``Mech`` subclass declares the credentials it needs and answers ``process(challenge)``
calls.  ``feature_mechanisms`` calls ``process(b"")`` for the ``<auth>`` initial response,
``process(data)`` for each ``<challenge>``, and ``process(value)`` again on ``<success>``.

:class:`OAuthBearerMech` is a thin adapter over :class:`~.oauthbearer.OAuthBearerClient`:

* credentials come from ``xmpp.credentials``: ``access_token`` (required; ``""`` performs
  the XEP-0493 discovery request) and ``authzid`` (optional).  ``host`` is filled in by
  slixmpp from the requested JID's domain.  ``port`` is deliberately *not* requested:
  slixmpp would turn the integer into NUL bytes.
* the RFC 7628 §3.2.2 error challenge is parsed into ``mech.error_challenge`` and answered
  with ``%x01`` (§3.2.3); a challenge that is not such JSON is answered with ``<abort/>``.
* RFC 7628 §3 requires TLS: the mechanism cancels itself on an unencrypted stream unless
  ``feature_mechanisms`` is configured with ``unencrypted_oauthbearer: True`` (tests).

Nothing happens on import: :func:`register_slixmpp_mechanism` must be called.  Passing the
client to it also makes the client fire ``oauthbearer_error_challenge`` (with the
:class:`~.oauthbearer.ErrorChallenge`) when the server fails the exchange after a
challenge, which is how a client discovers the ``openid-configuration`` URL.
"""

from __future__ import annotations

import weakref
from typing import Any, Final

from slixmpp.basexmpp import BaseXMPP
from slixmpp.util.sasl import client as sasl_client
from slixmpp.util.sasl.client import Mech, SASLCancelled, SASLFailed, SASLMutualAuthFailed

from xmpp_oauth.errors import SaslError
from xmpp_oauth.sasl.oauthbearer import (
    MECHANISM,
    ClientState,
    ErrorChallenge,
    OAuthBearerClient,
)

#: Above SCRAM (60-81) and GSSAPI (75), below EXTERNAL (100): a configured access token
#: wins over the (possibly empty) password; without one the mechanism cancels itself.
SCORE: Final = 90
#: Event fired on the client passed to :func:`register_slixmpp_mechanism`.
ERROR_CHALLENGE_EVENT: Final = "oauthbearer_error_challenge"

_hooked: weakref.WeakSet[BaseXMPP] = weakref.WeakSet()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value) if value is not None else ""


def _ascii_host(host: str) -> str | None:
    """The host kvpair must be VCHARs (RFC 7628 §3.1): IDNs go as A-labels, or not at all."""
    if not host:
        return None
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


class OAuthBearerMech(Mech):  # type: ignore[misc]
    """slixmpp ``Mech`` for OAUTHBEARER; see the module docstring."""

    name = MECHANISM
    required_credentials = {"access_token"}
    optional_credentials = {"authzid", "host"}
    security = {"encrypted", "unencrypted_oauthbearer"}

    client: OAuthBearerClient
    error_challenge: ErrorChallenge | None

    def setup(self, name: str) -> None:
        # RFC 7628 §3: "TLS MUST be used for OAUTHBEARER to protect the bearer token".
        settings = self.security_settings
        if not settings.get("encrypted") and not settings.get("unencrypted_oauthbearer"):
            raise SASLCancelled("OAUTHBEARER without encryption")  # type: ignore[no-untyped-call]
        self.client = OAuthBearerClient()
        self.error_challenge = None

    def process(self, challenge: bytes = b"") -> bytes:
        client = self.client
        try:
            if client.state is ClientState.INITIAL:
                return client.initial_response(
                    _text(self.credentials.get("access_token")),
                    authzid=_text(self.credentials.get("authzid")) or None,
                    host=_ascii_host(_text(self.credentials.get("host"))),
                )
        except SaslError as exc:
            raise SASLCancelled(f"OAUTHBEARER: {exc}") from None  # type: ignore[no-untyped-call]
        if not challenge:
            # feature_mechanisms calls process(b"") on <success/>.
            if client.state is ClientState.SUCCEEDED:
                return b""
            try:
                client.receive_success()
            except SaslError as exc:
                raise SASLMutualAuthFailed(f"OAUTHBEARER: {exc}") from None  # type: ignore[no-untyped-call]
            return b""
        try:
            self.error_challenge = client.receive_challenge(challenge)
        except SaslError as exc:
            raise SASLFailed(f"OAUTHBEARER: {exc}") from None  # type: ignore[no-untyped-call]
        return self.error_challenge.reply


def register_slixmpp_mechanism(xmpp: BaseXMPP | None = None) -> type[OAuthBearerMech]:
    """Add OAUTHBEARER to slixmpp's mechanism registry (idempotent).

    With ``xmpp``, also fire ``oauthbearer_error_challenge`` on that client when a failure
    follows an error challenge (before slixmpp moves on to another mechanism).
    """
    sasl_client.sasl_mech(SCORE)(OAuthBearerMech)
    if xmpp is not None and xmpp not in _hooked:
        _hooked.add(xmpp)

        def on_failed_auth(stanza: Any) -> None:
            # Runs synchronously inside feature_mechanisms' failure handler, while its
            # ``mech`` is still ours.
            plugin = xmpp.plugin.get("feature_mechanisms", None)
            mech = getattr(plugin, "mech", None)
            if isinstance(mech, OAuthBearerMech) and mech.error_challenge is not None:
                if mech.client.state is ClientState.CHALLENGED:
                    mech.client.receive_failure(str(stanza["condition"]))
                xmpp.event(ERROR_CHALLENGE_EVENT, mech.error_challenge)

        xmpp.add_event_handler("failed_auth", on_failed_auth)
    return OAuthBearerMech


def unregister_slixmpp_mechanism() -> None:
    """Remove OAUTHBEARER from slixmpp's registry again (tests, embedding applications)."""
    sasl_client.MECHANISMS.pop(MECHANISM, None)
    sasl_client.MECH_SEC_SCORES.pop(MECHANISM, None)


__all__ = [
    "ERROR_CHALLENGE_EVENT",
    "SCORE",
    "OAuthBearerMech",
    "register_slixmpp_mechanism",
    "unregister_slixmpp_mechanism",
]
