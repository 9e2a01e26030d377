"""RFC 7591 dynamic client registration (§2 metadata, §3.1 request, §3.2 responses).

Theory of operation
-------------------
The request body is a JSON object of client metadata.  :func:`validate_metadata` keeps only
the fields we understand (§2: "The authorization server MUST ignore any client metadata sent
by the client that it does not understand"), checks each, and returns the cleaned metadata;
:func:`register_client` signs it into a stateless client id (``tokens.clients``) and builds
the §3.2.1 response.

Redirect URI rules (as in Prosody's ``mod_http_oauth2``, plus RFC 8252 for native apps):

============================== ============================================================
redirect URI                   accepted when
============================== ============================================================
``https://host/...``           ``host`` is the ``client_uri`` host or a subdomain of it
``http://127.0.0.1|[::1]|``    always (RFC 8252 §7.3 loopback; any port matches later)
``localhost[:port]/...``
``com.example.app:/cb``        private-use scheme with a dot (RFC 8252 §7.1), not a
                               scheme a browser would act on by itself (javascript, data...)
``urn:ietf:wg:oauth:2.0:oob``  always (the code is shown on a page)
anything with a fragment       never (RFC 6749 §3.1.2)
============================== ============================================================

``application_type: "web"`` (OIDC Registration §2) additionally allows only https.  The
``logo_uri``, ``policy_uri`` and ``tos_uri`` shown on the consent page must be https on the
``client_uri`` host (or a subdomain), so a client cannot make the page link elsewhere.

Every URI (redirect, ``client_uri`` and the links) must be plain printable ASCII of at most
:data:`MAX_URI` characters, without whitespace or backslash, and its authority must be exactly
``host[:port]``: no userinfo, no ``%``. Parsers disagree on the rest: browsers read a backslash as
``/`` in https URLs while :func:`urllib.parse.urlsplit` leaves it in the userinfo, so
``https://evil<backslash>@app.example/`` would pass the host rule here yet lead to ``evil``. An
authority this strict reads the same everywhere. A registration whose signed client id would be
longer than :data:`~xmpp_oauth.tokens.clients.MAX_CLIENT_ID_LENGTH` is refused: the client registry
would refuse that id later.
Errors: ``invalid_redirect_uri`` and ``invalid_client_metadata`` (§3.2.2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ..errors import InvalidClientMetadataError, InvalidRedirectUriError, InvalidScopeError
from ..settings import is_loopback_host
from ..tokens.clients import MAX_CLIENT_ID_LENGTH
from .clients import OOB_URI, AuthMethod
from .requests import GrantType, ResponseType
from .scopes import known_scopes, parse_scope

if TYPE_CHECKING:
    from ..settings import Settings
    from ..tokens.clients import ClientIdCodec

MAX_REDIRECT_URIS: Final = 20
MAX_STRING: Final = 500
#: Bound on each URI in the metadata (they are echoed in redirects and pages).
MAX_URI: Final = 2048
#: Printable ASCII without space (and, below, without ``\``): the only URI characters we take.
_URI_CHARS: Final = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"\\"}
_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.\-]*")
#: Schemes that are not private-use: browsers and OSes act on them by themselves.
_FORBIDDEN_SCHEMES: Final = frozenset(
    {"javascript", "data", "vbscript", "file", "about", "blob", "filesystem", "ftp", "ws",
     "wss", "mailto", "tel", "sms", "xmpp", "intent", "chrome", "view-source"}
)
_GRANT_FOR_RESPONSE: Final = {
    ResponseType.CODE.value: GrantType.AUTHORIZATION_CODE.value,
    ResponseType.TOKEN.value: GrantType.IMPLICIT.value,
}
_STRING_FIELDS: Final = ("client_name", "software_id", "software_version")
_LINK_FIELDS: Final = ("logo_uri", "policy_uri", "tos_uri")


def _string(metadata: Mapping[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_STRING:
        raise InvalidClientMetadataError(f"{name} must be a string of at most {MAX_STRING}")
    if any(not c.isprintable() for c in value):
        raise InvalidClientMetadataError(f"{name} contains control characters")
    return value


def _string_list(metadata: Mapping[str, Any], name: str, *,
                 error: type[InvalidClientMetadataError | InvalidRedirectUriError]
                 = InvalidClientMetadataError) -> list[str] | None:
    value = metadata.get(name)
    if value is None:
        return None
    if (not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            or len(value) > MAX_REDIRECT_URIS):
        raise error(f"{name} must be an array of strings")
    return list(dict.fromkeys(value))


def _check_uri_text(uri: str, *, error: type[InvalidClientMetadataError | InvalidRedirectUriError],
                    name: str) -> None:
    """Length and characters of any metadata URI (see the module docstring)."""
    if len(uri) > MAX_URI:
        raise error(f"{name} must be at most {MAX_URI} characters")
    if not _URI_CHARS.issuperset(uri):
        raise error(f"{name} may contain only printable ASCII without spaces or backslashes")


def _check_authority(uri: str, *, error: type[InvalidClientMetadataError | InvalidRedirectUriError],
                     name: str) -> None:
    """The authority, if any, must be exactly ``host[:port]`` (no userinfo, no escapes)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise error(f"{name} has an invalid authority") from None
    if not parts.netloc:
        return
    host = parts.hostname or ""
    expected = f"[{host}]" if ":" in host else host
    if port is not None:
        expected += f":{port}"
    if "@" in parts.netloc or "%" in parts.netloc or parts.netloc.lower() != expected:
        raise error(f"{name} must have a plain host[:port] authority")


def _host_within(host: str, site: str) -> bool:
    return host == site or host.endswith("." + site)


def _site_host(client_uri: str | None) -> str | None:
    if client_uri is None:
        return None
    _check_uri_text(client_uri, error=InvalidClientMetadataError, name="client_uri")
    _check_authority(client_uri, error=InvalidClientMetadataError, name="client_uri")
    parts = urlsplit(client_uri)
    if parts.fragment or not parts.hostname:
        raise InvalidClientMetadataError("client_uri must be an absolute URL without fragment")
    if parts.scheme != "https" and not (parts.scheme == "http"
                                        and is_loopback_host(parts.hostname)):
        raise InvalidClientMetadataError("client_uri must be https")
    return parts.hostname


def _check_redirect_uri(uri: str, *, site: str | None, web_only: bool) -> str:
    """One redirect URI per the table in the module docstring; returns its kind."""
    _check_uri_text(uri, error=InvalidRedirectUriError, name="redirect URI")
    if uri == OOB_URI:
        if web_only:
            raise InvalidRedirectUriError("the OOB URN is for native clients")
        return "native"
    _check_authority(uri, error=InvalidRedirectUriError, name="redirect URI")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidRedirectUriError("redirect URIs must not contain a fragment")
    scheme = parts.scheme
    if not scheme or not _SCHEME.fullmatch(scheme):
        raise InvalidRedirectUriError("redirect URIs must be absolute")
    if scheme == "https":
        if not parts.hostname:
            raise InvalidRedirectUriError("https redirect URI without a host")
        if site is None:
            raise InvalidRedirectUriError("https redirect URIs need a client_uri")
        if not _host_within(parts.hostname, site):
            raise InvalidRedirectUriError("redirect URI is not on the client_uri host")
        return "web"
    if web_only:
        raise InvalidRedirectUriError("web clients must use https redirect URIs")
    if scheme == "http":
        if not is_loopback_host(parts.hostname or ""):
            raise InvalidRedirectUriError("http redirect URIs must use a loopback address")
        return "native"
    if "." not in scheme or scheme in _FORBIDDEN_SCHEMES:
        # RFC 8252 §7.1: private-use schemes are reverse domain names.
        raise InvalidRedirectUriError(f"scheme {scheme!r} is not a private-use scheme")
    return "native"


def validate_metadata(metadata: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Check RFC 7591 §2 metadata; returns only the fields we keep, cleaned."""
    out: dict[str, Any] = {}
    for name in _STRING_FIELDS:
        value = _string(metadata, name)
        if value is not None:
            out[name] = value
    client_uri = _string(metadata, "client_uri")
    site = _site_host(client_uri)
    if client_uri is not None:
        out["client_uri"] = client_uri
    for name in _LINK_FIELDS:
        link = _string(metadata, name)
        if link is None:
            continue
        _check_uri_text(link, error=InvalidClientMetadataError, name=name)
        _check_authority(link, error=InvalidClientMetadataError, name=name)
        parts = urlsplit(link)
        if (site is None or parts.scheme != "https" or not parts.hostname
                or not _host_within(parts.hostname, site)):
            raise InvalidClientMetadataError(f"{name} must be https on the client_uri host")
        out[name] = link

    allowed = set(settings.allowed_oauth2_grant_types)
    grant_types = _string_list(metadata, "grant_types") or [GrantType.AUTHORIZATION_CODE.value]
    for gt in grant_types:
        if gt not in allowed:
            raise InvalidClientMetadataError(f"grant type {gt[:60]!r} is not supported")
    response_types = _string_list(metadata, "response_types")
    if response_types is None:
        response_types = [rt for rt, gt in _GRANT_FOR_RESPONSE.items() if gt in grant_types]
    for rt in response_types:
        if rt not in settings.allowed_oauth2_response_types or rt not in _GRANT_FOR_RESPONSE:
            raise InvalidClientMetadataError(f"response type {rt[:20]!r} is not supported")
        if _GRANT_FOR_RESPONSE[rt] not in grant_types:
            # RFC 7591 §2.1: response_types and grant_types must agree.
            raise InvalidClientMetadataError(f"response type {rt} needs its grant type")
    for rt, gt in _GRANT_FOR_RESPONSE.items():
        if gt in grant_types and rt not in response_types:
            raise InvalidClientMetadataError(f"grant type {gt} needs response type {rt}")
    out["grant_types"] = grant_types
    out["response_types"] = response_types

    application_type = _string(metadata, "application_type")
    if application_type not in (None, "web", "native"):
        raise InvalidClientMetadataError("application_type must be web or native")
    redirect_uris = _string_list(metadata, "redirect_uris", error=InvalidRedirectUriError)
    if response_types:
        if not redirect_uris:
            raise InvalidRedirectUriError("redirect_uris is required")
        kinds = {_check_redirect_uri(u, site=site, web_only=application_type == "web")
                 for u in redirect_uris}
        out["redirect_uris"] = redirect_uris
        out["application_type"] = application_type or ("web" if kinds == {"web"} else "native")
    elif redirect_uris:
        raise InvalidRedirectUriError("redirect_uris given without a redirect-based grant")

    method = _string(metadata, "token_endpoint_auth_method") or AuthMethod.CLIENT_SECRET_BASIC
    if method not in AuthMethod.__members__.values():
        raise InvalidClientMetadataError(f"token_endpoint_auth_method {method[:40]!r} "
                                         "is not supported")
    out["token_endpoint_auth_method"] = method

    scope = _string(metadata, "scope")
    if scope is not None:
        try:
            requested = parse_scope(scope)
        except InvalidScopeError:
            raise InvalidClientMetadataError("malformed scope") from None
        known = known_scopes(settings)
        kept = [s for s in requested if s in known]
        if not kept:
            raise InvalidClientMetadataError("none of the scopes is supported")
        out["scope"] = " ".join(kept)
    contacts = _string_list(metadata, "contacts")
    if contacts:
        out["contacts"] = [c[:MAX_STRING] for c in contacts]
    return out


def register_client(
    metadata: Mapping[str, Any], *, codec: ClientIdCodec, settings: Settings, now: float
) -> dict[str, Any]:
    """Validate and sign; returns the RFC 7591 §3.2.1 response body."""
    cleaned = validate_metadata(metadata, settings)
    client_id, secret = codec.issue(cleaned, now=now)
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        # The client registry refuses longer ids: never hand out one that cannot be used.
        raise InvalidClientMetadataError("client metadata too large")
    body: dict[str, Any] = {"client_id": client_id, "client_id_issued_at": int(now)}
    if cleaned["token_endpoint_auth_method"] != AuthMethod.NONE:
        body["client_secret"] = secret
        ttl = settings.oauth2_registration_ttl
        # §3.2.1: REQUIRED with a secret; 0 means it does not expire.
        body["client_secret_expires_at"] = int(now) + ttl if ttl else 0
    body.update(cleaned)
    return body


__all__ = ["MAX_REDIRECT_URIS", "MAX_URI", "register_client", "validate_metadata"]
