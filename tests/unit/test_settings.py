"""settings.py: defaults, TOML, env overrides, unknown keys, types, validation (DESIGN §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmpp_oauth.errors import ConfigError
from xmpp_oauth.settings import SaslListener, Settings, is_loopback_host


def config_error(**kw: object) -> ConfigError:
    data = kw.pop("data", {})
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(data, **kw)  # type: ignore[arg-type]
    return info.value


def test_defaults_describe_a_working_local_instance() -> None:
    s = Settings.load(env={})
    assert s.domains == ("localhost",)
    assert s.http.host == "127.0.0.1" and s.http.port == 8088
    assert s.issuer == "http://127.0.0.1:8088"
    assert s.openid_configuration_url == "http://127.0.0.1:8088/.well-known/openid-configuration"
    assert s.store_url.startswith("sqlite:///") and s.store_url.endswith("xmpp-oauth.sqlite3")
    assert s.keys.algorithm == "EdDSA"
    assert s.oauth2_access_token_ttl == 3600
    assert s.allowed_oauth2_code_challenge_methods == ("S256",)
    assert s.audience_for("localhost") == "xmpp:localhost"


def test_unknown_key_names_the_dotted_key() -> None:
    assert config_error(data={"http": {"prot": 1}}).key == "http.prot"
    assert config_error(data={"oauth2_acces_token_ttl": 5}).key == "oauth2_acces_token_ttl"
    assert "unknown key" in str(config_error(data={"keys": {"algo": "EdDSA"}}))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"http": {"port": "80"}}, "http.port"),
        ({"http": {"port": True}}, "http.port"),
        ({"dev_allow_http": "yes"}, "dev_allow_http"),
        ({"domains": "example.org"}, "domains"),
        ({"domains": ["example.org", 5]}, "domains[1]"),
        ({"site_name": 3}, "site_name"),
        ({"http": 5}, "http"),
        ({"oauth2_template_style": {"color": 1}}, "oauth2_template_style.color"),
        ({"store": {"revocation_poll_interval": "fast"}}, "store.revocation_poll_interval"),
    ],
)
def test_type_mismatch(data: dict[str, object], key: str) -> None:
    assert config_error(data=data).key == key


def test_env_override() -> None:
    s = Settings.from_mapping({"http": {"port": 9000}}, env={
        "XMPP_OAUTH_HTTP__PORT": "9100",
        "XMPP_OAUTH_SITE_NAME": "Chat Example",
        "XMPP_OAUTH_DOMAINS": "example.org, chat.example.org",
        "XMPP_OAUTH_DEV_ALLOW_HTTP": "false",
        "XMPP_OAUTH_STORE__REVOCATION_POLL_INTERVAL": "0.5",
        "XMPP_OAUTH_REQUIRE_INTEGRATION": "1",  # a test switch, not a setting
        "UNRELATED": "x",
    })
    assert s.http.port == 9100
    assert s.site_name == "Chat Example"
    assert s.domains == ("example.org", "chat.example.org")
    assert s.store.revocation_poll_interval == 0.5


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"XMPP_OAUTH_HTTP__PROT": "1"}, "http.prot"),
        ({"XMPP_OAUTH_NOPE": "1"}, "nope"),
        ({"XMPP_OAUTH_HTTP__PORT": "eighty"}, "http.port"),
        ({"XMPP_OAUTH_DEV_ALLOW_HTTP": "maybe"}, "dev_allow_http"),
        ({"XMPP_OAUTH_BOGUS__PORT": "1"}, "XMPP_OAUTH_BOGUS__PORT"),
    ],
)
def test_bad_env(env: dict[str, str], key: str) -> None:
    assert config_error(env=env).key == key


def test_cli_overrides_win_over_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('log_level = "WARNING"\n')
    s = Settings.from_toml(path, env={"XMPP_OAUTH_LOG_LEVEL": "ERROR"},
                           overrides={"log_level": "DEBUG", "http.port": 7000})
    assert s.log_level == "DEBUG" and s.http.port == 7000


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "xmpp-oauth.toml"
    path.write_text(
        """
site_name = "Example"
domains = ["example.org"]
oauth2_access_token_ttl = 900
oauth2_template_style = { background_colour = "#fff" }

[http]
host = "0.0.0.0"
port = 8443
public_url = "https://auth.example.org/"

[keys]
algorithm = "ES256"

[store]
url = "postgresql://xmpp@db/oauth"

[[sasl.listeners]]
domain = "example.org"
socket = "/run/xmpp-oauth/auth.sock"
""",
        encoding="utf-8",
    )
    s = Settings.load(path, env={})
    assert s.site_name == "Example" and s.domains == ("example.org",)
    assert s.oauth2_access_token_ttl == 900
    assert s.oauth2_template_style["background_colour"] == "#fff"
    assert s.issuer == "https://auth.example.org"  # no trailing slash (RFC 8414 §2)
    assert s.keys.algorithm == "ES256"
    assert s.store_url == "postgresql://xmpp@db/oauth"
    assert s.sasl.listeners == (
        SaslListener(domain="example.org", socket="/run/xmpp-oauth/auth.sock"),
    )
    assert s.to_mapping()["http"]["port"] == 8443


def test_toml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Settings.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.from_toml(bad)
    nested = tmp_path / "nested.toml"
    nested.write_text("[http]\nprot = 1\n")
    with pytest.raises(ConfigError) as info:
        Settings.from_toml(nested, env={})
    assert info.value.key == "http.prot"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"http": {"public_url": "https://auth.example.org/?tenant=1"}}, "http.public_url"),
        ({"http": {"public_url": "https://auth.example.org/#frag"}}, "http.public_url"),
        ({"http": {"public_url": "ftp://auth.example.org"}}, "http.public_url"),
        ({"http": {"public_url": "http://auth.example.org"}}, "http.public_url"),
        ({"http": {"host": "0.0.0.0"}}, "http.host"),
        ({"http": {"host": "192.0.2.1"}}, "http.host"),
        ({"http": {"port": 70000}}, "http.port"),
        ({"http": {"tls_cert_file": "cert.pem"}}, "http.tls_key_file"),
        ({"http": {"trusted_proxies": ["not-an-ip"]}}, "http.trusted_proxies"),
        ({"domains": []}, "domains"),
        ({"domains": ["Example.org"]}, "domains"),
        ({"oauth2_access_token_ttl": 0}, "oauth2_access_token_ttl"),
        ({"oauth2_code_ttl": 601}, "oauth2_code_ttl"),
        ({"keys": {"algorithm": "none"}}, "keys.algorithm"),
        ({"keys": {"algorithm": "HS512"}}, "keys.algorithm"),
        ({"oauth2_registration_algorithm": "RS256"}, "oauth2_registration_algorithm"),
        ({"allowed_oauth2_grant_types": ["client_magic"]}, "allowed_oauth2_grant_types"),
        ({"store": {"url": "mysql://x"}}, "store.url"),
        ({"store": {"revocation_poll_interval": 5.0}}, "store.revocation_poll_interval"),
        ({"accounts": {"backend": "ldap"}}, "accounts.backend"),
        ({"sasl": {"listeners": [{"domain": "elsewhere.org", "port": 1}]}},
         "sasl.listeners[0].domain"),
        ({"sasl": {"listeners": [{"domain": "localhost"}]}}, "sasl.listeners[0]"),
        ({"sasl": {"mechanisms": ["X-MAGIC"]}}, "sasl.mechanisms"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_validation_errors(data: dict[str, object], key: str) -> None:
    assert config_error(data=data).key == key


def test_plain_http_allowed_on_loopback_or_when_asked() -> None:
    assert Settings.from_mapping({"http": {"public_url": "http://localhost:8088"}}).issuer == (
        "http://localhost:8088"
    )
    assert Settings.from_mapping({"http": {"host": "::1"}}).issuer == "http://[::1]:8088"
    s = Settings.from_mapping({"dev_allow_http": True, "http": {"host": "0.0.0.0"}})
    assert s.issuer == "http://0.0.0.0:8088"
    s = Settings.from_mapping({"http": {"host": "0.0.0.0", "tls_cert_file": "c.pem",
                                        "tls_key_file": "k.pem"}})
    assert s.issuer.startswith("https://")


def test_secrets_are_masked_in_to_mapping() -> None:
    s = Settings.from_mapping({"oauth2_registration_key": "hunter2" * 6})
    assert s.to_mapping()["oauth2_registration_key"] == "***"


def test_settings_are_frozen() -> None:
    s = Settings.load(env={})
    with pytest.raises(AttributeError):
        s.site_name = "x"  # type: ignore[misc]


def test_is_loopback_host() -> None:
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.5")
    assert is_loopback_host("::1") and is_loopback_host("[::1]")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("example.org")
    assert not is_loopback_host("")
