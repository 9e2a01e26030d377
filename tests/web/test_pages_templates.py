"""Template environment: every built-in page renders, escapes, and can be overridden."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmpp_oauth.errors import ConfigError
from xmpp_oauth.oauth.scopes import describe_scopes
from xmpp_oauth.web.templating import ClientView, Pages, builtin_template_dir, style_variables

EVIL = '<script>alert("x")</script>'


def _contexts(settings) -> dict[str, dict]:
    client = ClientView.build(
        EVIL,
        uri="https://app.example/",
        logo_uri="https://app.example/logo.png",
        policy_uri="javascript:alert(1)",
        redirect_uri="http://127.0.0.1:5000/cb",
    )
    scopes = describe_scopes(("xmpp:client:normal", "openid"), settings)
    common = {"user": "alice@localhost", "csrf_token": "tok", "domain": "localhost"}
    return {
        "login.html": {
            **common,
            "user": None,
            "action": "/authorize",
            "hidden": [("client_id", EVIL)],
            "error": "Sign-in failed.",
            "username": "",
            "client": client,
            "current_user": None,
        },
        "consent.html": {
            **common,
            "client": client,
            "scopes": scopes,
            "new_scopes": ["openid"],
            "action": "/authorize",
            "hidden": [("state", EVIL)],
        },
        "device.html": {**common, "user_code": "", "error": None},
        "device_confirm.html": {
            **common,
            "client": client,
            "user_code": "BCDF-GHJK",
            "scopes": scopes,
        },
        "device_done.html": {**common, "approved": True, "client_name": EVIL},
        "oob.html": {**common, "code": "abc"},
        "error.html": {**common, "title": "Oops", "message": EVIL, "error": "csrf", "back": None},
        "account.html": {**common, "grants": [], "notice": None},
        "logout.html": common,
        "logged_out.html": {**common, "user": None},
    }


def test_builtin_templates_found() -> None:
    assert (builtin_template_dir() / "base.html").is_file()


def test_every_page_renders_and_escapes(settings_factory) -> None:
    settings = settings_factory(site_name="Example Chat")
    pages = Pages(settings)
    for name, context in _contexts(settings).items():
        html = pages.render_text(name, context)
        assert html.startswith("<!doctype html>"), name
        assert '<html lang="en">' in html, name
        assert "<main" in html and "<h1>" in html, name
        assert "Example Chat" in html, name
        assert "<script" not in html, name
        assert 'href="/static/style.css"' in html, name
        assert "style=" not in html, name  # CSP default-src 'self' forbids inline styles
        assert "javascript:" not in html, name


def test_consent_lists_scopes_and_client(settings_factory) -> None:
    settings = settings_factory()
    html = Pages(settings).render_text("consent.html", _contexts(settings)["consent.html"])
    assert "Log in to your XMPP account" in html
    assert "xmpp:client:normal" in html
    assert "https://app.example/logo.png" in html
    assert "127.0.0.1:5000" in html
    assert 'name="xo_csrf" value="tok"' in html


def test_custom_directory_overrides_one_page(settings_factory, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "logged_out.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Bye from {{ site_name }}</h1>'
        "{% endblock %}"
    )
    settings = settings_factory(oauth2_template_path=str(custom), site_name="Custom")
    pages = Pages(settings)
    assert "Bye from Custom" in pages.render_text("logged_out.html", {})
    ctx = _contexts(settings)["logout.html"]
    assert "Sign out?" in pages.render_text("logout.html", ctx)


def test_missing_custom_directory_is_a_config_error(settings_factory, tmp_path: Path) -> None:
    settings = settings_factory(oauth2_template_path=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="oauth2_template_path"):
        Pages(settings)


def test_style_variables_become_css_custom_properties(settings_factory) -> None:
    settings = settings_factory(oauth2_template_style={"accent": "#7a2e8c", "font": "Georgia"})
    css = Pages(settings).stylesheet()
    assert "--accent: #7a2e8c;" in css
    assert "--font: Georgia;" in css
    # Operator values come after the built-in defaults, so they win.
    assert css.index("--accent: #7a2e8c;") > css.index("--accent: #1a56b8;")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("accent", "red; } body { display: none"),
        ("accent", "red</style>"),
        ("accent", "red /* x"),
        ("Bad Name", "red"),
        ("accent", ""),
    ],
)
def test_style_variables_refuse_injection(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match="oauth2_template_style"):
        style_variables({name: value})


def test_client_view_drops_unsafe_links() -> None:
    view = ClientView.build(
        "App",
        uri="javascript:alert(1)",
        logo_uri="http://app.example/logo.png",
        tos_uri="https://app.example/tos",
        redirect_uri="com.example.app:/cb",
    )
    assert view.uri == ""
    assert view.logo_uri == ""  # only https logos are fetched
    assert view.tos_uri == "https://app.example/tos"
    assert view.redirect_host == "com.example.app:"


@pytest.mark.parametrize(("redirect_uri", "host"), [
    ("https://trusted.example@evil.example/cb", "evil.example"),
    ("https://a\\@app.example:8443/cb", "app.example:8443"),
    ("http://[::1]:5000/cb", "[::1]:5000"),
])
def test_client_view_shows_the_host_a_browser_goes_to(redirect_uri: str, host: str) -> None:
    assert ClientView.build("App", redirect_uri=redirect_uri).redirect_host == host
