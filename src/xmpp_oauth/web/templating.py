"""HTML page rendering: built-in Jinja2 templates with per-site overrides (DESIGN §6, §7).

Templates are looked up in ``oauth2_template_path`` first (when set), then among the built-in
ones, so an operator can replace any single page and keep the rest.  The built-ins live in
``xmpp_oauth/_templates`` inside a wheel and in ``<repo>/templates`` in an editable checkout.

Every page gets ``site_name``, ``style`` (the ``oauth2_template_style`` mapping) and ``base``
(the path prefix of the public URL) in its context; everything else is passed explicitly by
the caller.  Autoescaping is on for ``.html``.  The stylesheet is itself a template
(``style.css``), served from our own origin so that CSP ``default-src 'self'`` holds: the
style variables become CSS custom properties appended after the built-in defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from ..errors import ConfigError
from ..settings import Settings

HTML_CONTENT_TYPE: Final = "text/html"

# CSS custom property names and values an operator may set.  Values must not be able to
# close the declaration block or open a comment (no ``; { } < > \\`` and no ``/*``).
_STYLE_NAME = re.compile(r"[a-z][a-z0-9-]{0,63}")
_STYLE_VALUE = re.compile(r"[^;{}<>\\\r\n]{1,200}")


def builtin_template_dir() -> Path:
    """The built-in templates: ``xmpp_oauth/_templates`` (wheel) or ``<repo>/templates``."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_templates", package.parent.parent / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise ConfigError("oauth2_template_path", "the built-in templates are missing")


def style_variables(style: Mapping[str, str]) -> str:
    """``oauth2_template_style`` as a CSS ``:root`` block (validated, never raw CSS)."""
    lines = []
    for name, value in style.items():
        if not _STYLE_NAME.fullmatch(name):
            raise ConfigError(f"oauth2_template_style.{name}", "not a CSS variable name")
        if not _STYLE_VALUE.fullmatch(value) or "/*" in value:
            raise ConfigError(f"oauth2_template_style.{name}", "not an acceptable CSS value")
        lines.append(f"  --{name}: {value};")
    return ":root {\n" + "\n".join(lines) + "\n}\n" if lines else ""


def _format_time(value: float | None) -> str:
    if not value:
        return "never"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso_time(value: float | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ClientView:
    """What the pages show about a client; only http(s) links are ever rendered."""

    name: str
    uri: str = ""
    logo_uri: str = ""
    policy_uri: str = ""
    tos_uri: str = ""
    redirect_host: str = ""

    @classmethod
    def build(
        cls,
        name: str,
        *,
        uri: str = "",
        logo_uri: str = "",
        policy_uri: str = "",
        tos_uri: str = "",
        redirect_uri: str = "",
    ) -> ClientView:
        host = ""
        if redirect_uri and ":" in redirect_uri and not redirect_uri.startswith("urn:"):
            host = _destination(redirect_uri)
        return cls(
            name=name,
            uri=_web_link(uri),
            # The logo is fetched by the browser: only https, never plain http or data:.
            logo_uri=logo_uri if _web_link(logo_uri).startswith("https://") else "",
            policy_uri=_web_link(policy_uri),
            tos_uri=_web_link(tos_uri),
            redirect_host=host,
        )


def _destination(redirect_uri: str) -> str:
    """``host[:port]`` a browser will go to (or ``scheme:``); never the raw netloc, whose
    userinfo could read like a trusted host (registration refuses userinfo: a second guard)."""
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname
    if not host:
        return f"{parts.scheme}:"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


def _web_link(uri: str) -> str:
    parts = urlsplit(uri) if uri else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        return ""
    return uri


class Pages:
    """The template environment plus the context every page shares."""

    def __init__(self, settings: Settings) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if settings.oauth2_template_path:
            custom = Path(settings.oauth2_template_path)
            if not custom.is_dir():
                raise ConfigError("oauth2_template_path", f"{custom} is not a directory")
            loaders.append(jinja2.FileSystemLoader(custom))
        loaders.append(jinja2.FileSystemLoader(builtin_template_dir()))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["datetime"] = _format_time
        self.env.filters["isotime"] = _iso_time
        self.site_name = settings.site_name
        self.style = dict(settings.oauth2_template_style)
        self.style_css = style_variables(settings.oauth2_template_style)
        self.base = urlsplit(settings.issuer).path.rstrip("/")

    def context(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "site_name": self.site_name,
            "style": self.style,
            "base": self.base,
            "lang": "en",
        }
        out.update(extra)
        return out

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(self.context(context))

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """Render an HTML page; pages carry CSRF tokens and personal data, so never cached."""
        response = web.Response(
            text=self.render_text(name, context),
            status=status,
            content_type=HTML_CONTENT_TYPE,
            charset="utf-8",
        )
        response.headers["Cache-Control"] = "no-store"
        if headers:
            response.headers.update(headers)
        return response

    def stylesheet(self) -> str:
        return self.render_text("style.css", {"style_variables": self.style_css})


__all__ = ["ClientView", "Pages", "builtin_template_dir", "style_variables"]
