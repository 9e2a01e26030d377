"""xmpp-oauth: OAuth 2.0 / OpenID Connect for XMPP accounts."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
