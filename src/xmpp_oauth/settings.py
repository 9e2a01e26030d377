"""Typed, frozen settings loaded from one TOML file plus environment overrides.

Sources, later wins: built-in defaults, the TOML file, environment variables
``XMPP_OAUTH_<KEY>`` (top level) and ``XMPP_OAUTH_<SECTION>__<KEY>`` (sections), then explicit
overrides passed by the CLI.  Unknown keys and type mismatches raise :class:`ConfigError`
naming the dotted key.  Option names follow Prosody's ``mod_http_oauth2`` where one exists.

With no file at all the defaults describe a working local instance: domain ``localhost``,
SQLite under ``data_dir``, generated keys, HTTP on loopback only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigError

ENV_PREFIX: Final = "XMPP_OAUTH_"
SIGNING_ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "RS256", "HS256"})
GRANT_TYPES: Final = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "implicit",
    }
)
RESPONSE_TYPES: Final = frozenset({"code", "token"})


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The web server (authorization server endpoints and pages)."""

    host: str = "127.0.0.1"
    port: int = 8088
    #: Externally visible base URL; the issuer.  Default: ``http://<host>:<port>``.
    public_url: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: Addresses of reverse proxies whose X-Forwarded-* headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    max_body_size: int = 64 * 1024
    session_ttl: int = 8 * 3600
    #: Secret for signing session cookies and CSRF tokens; generated into data_dir if empty.
    cookie_secret_file: str = ""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Persistence.  ``sqlite:///path`` (default, under data_dir) or ``postgresql://...``."""

    url: str = ""
    #: How often validators poll for newly revoked grants (SQLite; PostgreSQL also listens).
    revocation_poll_interval: float = 0.25
    housekeeping_interval: float = 300.0


@dataclass(frozen=True, slots=True)
class KeySettings:
    """Token signing keys (kept in the store, shared by every process)."""

    algorithm: str = "EdDSA"
    #: Retired keys stay published this long after rotation (must exceed every token TTL).
    retire_after: int = 0


@dataclass(frozen=True, slots=True)
class SaslListener:
    """One Dovecot-protocol listener serving exactly one XMPP domain."""

    domain: str = "localhost"
    socket: str = ""
    socket_mode: int = 0o660
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True, slots=True)
class SaslSettings:
    """The SASL service spoken to by XMPP servers (Dovecot auth protocol v1)."""

    listeners: tuple[SaslListener, ...] = ()
    mechanisms: tuple[str, ...] = ("OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")
    #: Failed logins per account per minute before answering FAIL at once.
    max_failures_per_minute: int = 10
    max_line_length: int = 65536


@dataclass(frozen=True, slots=True)
class ComponentSettings:
    """The XEP-0114 external component."""

    jid: str = "oauth.localhost"
    host: str = "127.0.0.1"
    port: int = 5347
    secret_file: str = ""
    admins: tuple[str, ...] = ()
    notify_new_grants: bool = True


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """How users prove who they are: ``local`` (our store) or ``xmpp`` (upstream server)."""

    backend: str = "local"
    xmpp_host: str = "127.0.0.1"
    xmpp_port: int = 5222
    xmpp_timeout: float = 10.0
    xmpp_ca_file: str = ""
    xmpp_require_tls: bool = True
    max_login_failures: int = 5
    login_failure_window: int = 300


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings.  Build with :meth:`load` / :meth:`from_toml` / :meth:`from_mapping`."""

    site_name: str = "xmpp-oauth"
    domains: tuple[str, ...] = ("localhost",)
    data_dir: str = "xmpp-oauth-data"
    #: Plain HTTP on a non-loopback address; never needed for loopback.
    dev_allow_http: bool = False
    log_level: str = "INFO"

    # Prosody mod_http_oauth2 names.
    oauth2_access_token_ttl: int = 3600
    oauth2_refresh_token_ttl: int = 14 * 24 * 3600
    oauth2_id_token_ttl: int = 3600
    oauth2_code_ttl: int = 120
    oauth2_device_code_ttl: int = 600
    oauth2_device_poll_interval: int = 5
    oauth2_registration_key: str = ""
    oauth2_registration_key_file: str = ""
    oauth2_registration_algorithm: str = "HS256"
    oauth2_registration_ttl: int = 0
    oauth2_registration_options: Mapping[str, Any] = field(default_factory=dict)
    allowed_oauth2_grant_types: tuple[str, ...] = (
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    )
    allowed_oauth2_response_types: tuple[str, ...] = ("code",)
    oauth2_require_code_challenge: bool = True
    allowed_oauth2_code_challenge_methods: tuple[str, ...] = ("S256",)
    oauth2_template_path: str = ""
    oauth2_template_style: Mapping[str, str] = field(default_factory=dict)
    #: Extra scopes an operator defines: name -> human description.
    oauth2_extra_scopes: Mapping[str, str] = field(default_factory=dict)
    #: Advertise and honour ejabberd's ``jid`` claim (auth_method: jwt).
    oauth2_jid_claim: bool = True

    http: HttpSettings = field(default_factory=HttpSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    sasl: SaslSettings = field(default_factory=SaslSettings)
    component: ComponentSettings = field(default_factory=ComponentSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)

    def __post_init__(self) -> None:
        _validate(self)

    # -- derived values -------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """RFC 8414 §2 issuer: the public base URL without a trailing slash."""
        if self.http.public_url:
            return self.http.public_url.rstrip("/")
        host = self.http.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.http.tls_cert_file else "http"
        return f"{scheme}://{host}:{self.http.port}"

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{Path(self.data_dir) / 'xmpp-oauth.sqlite3'}"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def audience_for(self, domain: str) -> str:
        """The ``aud`` an access token for an account on ``domain`` carries."""
        return f"xmpp:{domain}"

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                     overrides: Mapping[str, Any] | None = None) -> Settings:
        """Build from a parsed TOML mapping, then env, then dotted-key ``overrides``."""
        merged = _deep_copy(data)
        if env is not None:
            _apply_env(merged, env)
        for dotted, value in (overrides or {}).items():
            _set_dotted(merged, dotted, value)
        built: Settings = _build(cls, merged, "")
        return built

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(str(path), "config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
        return cls.from_mapping(data, env=env, overrides=overrides)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *,
             env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults, then ``path`` (if any), then ``os.environ``, then overrides."""
        environ = os.environ if env is None else env
        if path is None:
            return cls.from_mapping({}, env=environ, overrides=overrides)
        return cls.from_toml(path, env=environ, overrides=overrides)

    def to_mapping(self) -> dict[str, Any]:
        """Plain data (for ``check-config``); secrets are masked."""
        out = _to_plain(self)
        assert isinstance(out, dict)
        if out.get("oauth2_registration_key"):
            out["oauth2_registration_key"] = "***"
        return out


# -- loading machinery ---------------------------------------------------------------------


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _section_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _apply_env(merged: dict[str, Any], env: Mapping[str, str]) -> None:
    top = _section_fields(Settings)
    hints = typing.get_type_hints(Settings)
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if rest.startswith("require_integration") or rest.startswith("test_"):
            continue  # test-suite switches, not settings
        if "__" in rest:
            section, key = rest.split("__", 1)
            if section not in top or not dataclasses.is_dataclass(hints[section]):
                raise ConfigError(f"{name}", f"unknown section {section!r}")
            cls = hints[section]
            sub_hints = typing.get_type_hints(cls)
            if key not in sub_hints:
                raise ConfigError(f"{section}.{key}", f"unknown key (from {name})")
            dotted = f"{section}.{key}"
            merged.setdefault(section, {})[key] = _parse_env(raw, sub_hints[key], dotted)
        else:
            if rest not in hints or dataclasses.is_dataclass(hints[rest]):
                raise ConfigError(rest, f"unknown key (from {name})")
            merged[rest] = _parse_env(raw, hints[rest], rest)


def _parse_env(raw: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        low = raw.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(key, f"expected a boolean, got {raw!r}")
    if hint is int:
        try:
            return int(raw, 0)
        except ValueError:
            raise ConfigError(key, f"expected an integer, got {raw!r}") from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(key, f"expected a number, got {raw!r}") from None
    if origin is tuple:
        return [p.strip() for p in raw.split(",") if p.strip()]
    if hint is str:
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(key, f"expected a TOML value, got {raw!r}") from None


def _set_dotted(merged: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = merged
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix.rstrip(".") or "<root>", "expected a table")
    hints = typing.get_type_hints(cls)
    fields = _section_fields(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(dotted, "unknown key")
        kwargs[key] = _coerce(value, hints[key], dotted)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except TypeError as exc:  # pragma: no cover - guarded by _coerce
        raise ConfigError(prefix.rstrip(".") or "<root>", str(exc)) from None


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, f"{key}.")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected a boolean, got {type(value).__name__}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {type(value).__name__}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {type(value).__name__}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {type(value).__name__}")
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"expected an array, got {type(value).__name__}")
        return tuple(_coerce(v, item_hint, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"expected a table, got {type(value).__name__}")
        args = typing.get_args(hint)
        val_hint = args[1] if args else Any
        if val_hint is str:
            for k, v in value.items():
                if not isinstance(v, str):
                    raise ConfigError(f"{key}.{k}", "expected a string")
        return types.MappingProxyType(dict(value))
    return value


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


def is_loopback_host(host: str) -> bool:
    if host in {"localhost", ""}:
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _validate(s: Settings) -> None:
    if not s.domains:
        raise ConfigError("domains", "at least one XMPP domain is required")
    for d in s.domains:
        if not d or "/" in d or "@" in d or d != d.strip().lower():
            raise ConfigError("domains", f"{d!r} is not a lowercase domain name")
    for name in ("oauth2_access_token_ttl", "oauth2_refresh_token_ttl", "oauth2_id_token_ttl",
                 "oauth2_code_ttl", "oauth2_device_code_ttl", "oauth2_device_poll_interval"):
        value = getattr(s, name)
        if value <= 0:
            raise ConfigError(name, "must be a positive number of seconds")
    if s.oauth2_code_ttl > 600:
        # RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED".
        raise ConfigError("oauth2_code_ttl", "must be at most 600 seconds (RFC 6749 §4.1.2)")
    if s.oauth2_registration_ttl < 0:
        raise ConfigError("oauth2_registration_ttl", "must be 0 (no expiry) or positive")
    if s.keys.algorithm not in SIGNING_ALGORITHMS:
        raise ConfigError("keys.algorithm", f"must be one of {sorted(SIGNING_ALGORITHMS)}")
    if s.oauth2_registration_algorithm not in {"HS256", "HS384", "HS512"}:
        raise ConfigError("oauth2_registration_algorithm", "must be HS256, HS384 or HS512")
    for gt in s.allowed_oauth2_grant_types:
        if gt not in GRANT_TYPES:
            raise ConfigError("allowed_oauth2_grant_types", f"unknown grant type {gt!r}")
    for rt in s.allowed_oauth2_response_types:
        if rt not in RESPONSE_TYPES:
            raise ConfigError("allowed_oauth2_response_types", f"unknown response type {rt!r}")
    for m in s.allowed_oauth2_code_challenge_methods:
        if m not in {"S256", "plain"}:
            raise ConfigError("allowed_oauth2_code_challenge_methods", f"unknown method {m!r}")
    if not s.allowed_oauth2_code_challenge_methods and s.oauth2_require_code_challenge:
        raise ConfigError("allowed_oauth2_code_challenge_methods",
                          "empty while oauth2_require_code_challenge is true")
    if not 0 <= s.http.port <= 65535:
        raise ConfigError("http.port", "must be 0-65535")
    if bool(s.http.tls_cert_file) != bool(s.http.tls_key_file):
        raise ConfigError("http.tls_key_file", "tls_cert_file and tls_key_file go together")
    if s.http.max_body_size < 1024:
        raise ConfigError("http.max_body_size", "must be at least 1024 bytes")
    if s.http.public_url:
        parts = urlsplit(s.http.public_url)
        # RFC 8414 §2: issuer is an https URL with no query or fragment.
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise ConfigError("http.public_url", "must be an absolute https URL")
        if parts.query or parts.fragment:
            raise ConfigError("http.public_url", "must have no query or fragment (RFC 8414 §2)")
        loopback = is_loopback_host(parts.hostname or "")
        if parts.scheme == "http" and not (s.dev_allow_http or loopback):
            raise ConfigError("http.public_url",
                              "plain http only on loopback or with dev_allow_http")
    elif not s.http.tls_cert_file and not (s.dev_allow_http or is_loopback_host(s.http.host)):
        raise ConfigError("http.host", "plain HTTP on a non-loopback address needs TLS, a "
                          "public_url behind a proxy, or dev_allow_http = true")
    for proxy in s.http.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError("http.trusted_proxies", f"{proxy!r} is not an address") from None
    url = s.store_url
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        raise ConfigError("store.url", "must start with sqlite:/// or postgresql://")
    if not 0 < s.store.revocation_poll_interval <= 0.5:
        # A revocation must reach every process within 1 s: one poll period plus the poll
        # itself must fit, whatever the phase of the poll.
        raise ConfigError("store.revocation_poll_interval", "must be in (0, 0.5] seconds")
    if s.accounts.backend not in {"local", "xmpp"}:
        raise ConfigError("accounts.backend", "must be 'local' or 'xmpp'")
    for i, lst in enumerate(s.sasl.listeners):
        if lst.domain not in s.domains:
            raise ConfigError(f"sasl.listeners[{i}].domain", f"{lst.domain!r} is not in domains")
        if not lst.socket and not lst.port:
            raise ConfigError(f"sasl.listeners[{i}]", "needs a socket path or a port")
    known = {"OAUTHBEARER", "PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"}
    for mech in s.sasl.mechanisms:
        if mech not in known:
            raise ConfigError("sasl.mechanisms", f"unknown mechanism {mech!r}")
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("log_level", "must be DEBUG, INFO, WARNING or ERROR")


__all__ = [
    "AccountSettings",
    "ComponentSettings",
    "HttpSettings",
    "KeySettings",
    "SaslListener",
    "SaslSettings",
    "Settings",
    "StoreSettings",
    "is_loopback_host",
]
