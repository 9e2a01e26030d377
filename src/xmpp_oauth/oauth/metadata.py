"""RFC 8414 §2 authorization server metadata and OIDC Discovery 1.0 §3 provider metadata.

Theory of operation
-------------------
One document, built from the settings once, served at both
``/.well-known/oauth-authorization-server`` (RFC 8414 §3) and
``/.well-known/openid-configuration`` (OIDC Discovery §4): identical content, so a client
reading either learns the same thing.  Every value states what this server really does:

* grant and response types are exactly the operator's ``allowed_oauth2_*`` lists;
* ``code_challenge_methods_supported`` is ``allowed_oauth2_code_challenge_methods``;
* ``device_authorization_endpoint`` appears only when the device grant is enabled;
* ``request_uri_parameter_supported`` is stated as false (its OIDC default is true);
* ``authorization_response_iss_parameter_supported`` is true (RFC 9207 §3).

:func:`validate_metadata_document` re-checks the RFC 8414 §2 invariants (issuer https or
loopback http, no query/fragment, endpoints under the issuer), and the tests run it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ..settings import is_loopback_host
from .clients import AuthMethod
from .requests import GrantType, ResponseMode, ResponseType
from .scopes import known_scopes

if TYPE_CHECKING:
    from ..settings import Settings

#: Path of each endpoint under the issuer (``web.routes`` mounts these).
ENDPOINT_PATHS: Final = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "jwks_uri": "/jwks",
    "registration_endpoint": "/register",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "userinfo_endpoint": "/userinfo",
    "device_authorization_endpoint": "/device_authorization",
}
_SECRET_METHODS: Final = [AuthMethod.CLIENT_SECRET_BASIC.value, AuthMethod.CLIENT_SECRET_POST.value]


def build_metadata(settings: Settings) -> dict[str, Any]:
    """The metadata document (RFC 8414 §2 + OIDC Discovery §3 members)."""
    issuer = settings.issuer
    grants = list(settings.allowed_oauth2_grant_types)
    response_types = [rt for rt in settings.allowed_oauth2_response_types
                      if rt in ResponseType.__members__.values()]
    modes = [ResponseMode.QUERY.value, ResponseMode.FRAGMENT.value]
    all_methods = [*_SECRET_METHODS, AuthMethod.NONE.value]
    doc: dict[str, Any] = {"issuer": issuer}
    for name, path in ENDPOINT_PATHS.items():
        if name == "device_authorization_endpoint" and GrantType.DEVICE_CODE not in grants:
            continue
        doc[name] = issuer + path
    doc.update({
        "scopes_supported": list(known_scopes(settings)),
        "response_types_supported": response_types,
        "response_modes_supported": modes,
        "grant_types_supported": grants,
        "token_endpoint_auth_methods_supported": all_methods,
        "revocation_endpoint_auth_methods_supported": all_methods,
        "introspection_endpoint_auth_methods_supported": list(_SECRET_METHODS),
        "code_challenge_methods_supported": list(settings.allowed_oauth2_code_challenge_methods),
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [settings.keys.algorithm],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr",
                             "at_hash", "azp", "preferred_username", "name", "jid"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "ui_locales_supported": ["en"],
    })
    return doc


def validate_metadata_document(doc: dict[str, Any]) -> None:
    """Raise ``ValueError`` if the document breaks an RFC 8414 §2 rule."""
    issuer = doc.get("issuer")
    if not isinstance(issuer, str):
        raise ValueError("issuer missing")
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ValueError("issuer has a query or fragment")
    if parts.scheme != "https" and not is_loopback_host(parts.hostname or ""):
        raise ValueError("issuer must be https (plain http only on loopback)")
    for required in ("authorization_endpoint", "token_endpoint", "response_types_supported"):
        if required not in doc:
            raise ValueError(f"{required} missing")
    for name in ENDPOINT_PATHS:
        if name in doc and not str(doc[name]).startswith(issuer + "/"):
            raise ValueError(f"{name} is not under the issuer")


__all__ = ["ENDPOINT_PATHS", "build_metadata", "validate_metadata_document"]
