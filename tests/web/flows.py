"""Test drivers for the OAuth flows: register, sign in + consent through the real pages, tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from xmpp_oauth.clock import FrozenClock

ALICE = "alice@localhost"
PASSWORD = "correct horse battery staple"
REDIRECT = "https://app.example/cb"
LOOPBACK = "http://127.0.0.1/cb"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        return next((v for n, v in self.fields if n == name), None)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def find_form(html: str, action: str) -> Form:
    for form in forms_of(html):
        if form.value("xo_action") == action:
            return form
    raise AssertionError(f"no {action!r} form in page:\n{html[:2000]}")


def location_params(response: ClientResponse) -> dict[str, str]:
    """Query (or fragment) parameters of a redirect's Location."""
    loc = response.headers["Location"]
    parts = urlsplit(loc)
    return dict(parse_qsl(parts.query or parts.fragment))


@dataclass
class Flows:
    """Drives the server like a client app plus a user's browser would."""

    client: TestClient[Any, Any]
    runtime: Any
    clock: FrozenClock

    async def register(self, **metadata: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_name": "Test App",
            "client_uri": "https://app.example",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile xmpp:client:normal offline_access",
        }
        body.update(metadata)
        body = {k: v for k, v in body.items() if v is not None}
        r = await self.client.post("/register", json=body)
        assert r.status == 201, await r.text()
        reg: dict[str, Any] = await r.json()
        return reg

    async def get_authorize(self, params: dict[str, str]) -> ClientResponse:
        return await self.client.get("/authorize?" + urlencode(params), allow_redirects=False)

    async def sign_in_and_consent(self, page: ClientResponse, *, decision: str = "allow",
                                  password: str = PASSWORD) -> ClientResponse:
        """From a sign-in (or consent) page to the final response."""
        html = await page.text()
        if any(f.value("xo_action") == "login" for f in forms_of(html)):
            login = find_form(html, "login")
            fields = [(n, v) for n, v in login.fields
                      if n not in ("xo_username", "xo_password")]
            fields += [("xo_username", ALICE), ("xo_password", password)]
            page = await self.client.post(login.action, data=fields, allow_redirects=False)
            if page.status != 200:
                return page
            html = await page.text()
            if not any(f.value("xo_action") == "consent" for f in forms_of(html)):
                return page
        consent = find_form(html, "consent")
        return await self.client.post(consent.action,
                                      data=[*consent.fields, ("xo_decision", decision)],
                                      allow_redirects=False)

    async def authorize(self, reg: dict[str, Any], *, scope: str = "openid xmpp:client:normal "
                        "offline_access", redirect_uri: str = REDIRECT,
                        extra: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
        """Full code flow up to the redirect; returns (redirect params, verifier)."""
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": reg["client_id"],
                  "redirect_uri": redirect_uri, "scope": scope, "state": "st4te",
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        params.update(extra or {})
        page = await self.get_authorize(params)
        if page.status == 200:
            page = await self.sign_in_and_consent(page)
        assert page.status in (302, 303), await page.text()
        return location_params(page), verifier

    async def token(self, data: dict[str, str], *, auth: dict[str, str] | None = None,
                    ) -> ClientResponse:
        return await self.client.post("/token", data=data, headers=auth or {})

    async def tokens(self, reg: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Authorize and exchange the code; returns the token response."""
        got, verifier = await self.authorize(reg, **kw)
        r = await self.token(
            {"grant_type": "authorization_code", "code": got["code"],
             "redirect_uri": kw.get("redirect_uri", REDIRECT), "code_verifier": verifier,
             **self.client_fields(reg)},
            auth=self.auth(reg))
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body

    def auth(self, reg: dict[str, Any]) -> dict[str, str]:
        if "client_secret" in reg:
            return basic(reg["client_id"], reg["client_secret"])
        return {}

    def client_fields(self, reg: dict[str, Any]) -> dict[str, str]:
        """For public clients the client_id goes in the body."""
        return {} if "client_secret" in reg else {"client_id": reg["client_id"]}

    async def introspect(self, reg: dict[str, Any], token: str, **extra: str) -> dict[str, Any]:
        r = await self.client.post("/introspect", data={"token": token, **extra},
                                   headers=self.auth(reg))
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body

    async def sync_revocations(self) -> None:
        """Pull revocations made by the store itself (code replay) without waiting."""
        await self.runtime.revocations.refresh()


async def assert_oauth_error(r: ClientResponse, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2: JSON error with the right status and Cache-Control: no-store."""
    text = await r.text()
    assert r.status == status, text
    assert r.headers["Content-Type"].startswith("application/json"), text
    assert r.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await r.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri"}
    return body
