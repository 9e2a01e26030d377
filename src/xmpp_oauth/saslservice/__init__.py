"""The SASL service for XMPP servers: Dovecot auth protocol (Prosody), ejabberd external auth.

``start_sasl_service(runtime)`` runs the service inside another process and returns a handle
with ``async close()``; ``xmpp-oauth sasl`` runs it alone; ``xmpp-oauth extauth`` is the
ejabberd ``extauth_program``.
"""

from __future__ import annotations

from .server import SaslService, SaslServiceHandle, build_sasl_service, start_sasl_service

__all__ = ["SaslService", "SaslServiceHandle", "build_sasl_service", "start_sasl_service"]
