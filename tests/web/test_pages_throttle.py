"""Sign-in throttling per account and per address; wording that reveals no account."""

from __future__ import annotations

from typing import Any

from xmpp_oauth.web.browser import LOGIN_FAILED
from xmpp_oauth.web.throttle import ADDRESS_FACTOR

from .flows import ALICE, PASSWORD, Flows, find_form
from .test_pages_session import params

MAX = 3
WINDOW = 300


async def attempt(flows: Flows, username: str, password: str) -> tuple[int, str, Any]:
    r = await flows.client.get("/login")
    login = find_form(await r.text(), "login")
    fields = [(n, v) for n, v in login.fields if n not in ("xo_username", "xo_password")]
    r = await flows.client.post(
        "/login",
        data=[*fields, ("xo_username", username), ("xo_password", password)],
        allow_redirects=False,
    )
    return r.status, await r.text(), r


async def throttled_app(make_app: Any) -> Flows:
    _client, _runtime, flows = await make_app(
        accounts__max_login_failures=MAX, accounts__login_failure_window=WINDOW
    )
    return flows


async def test_wrong_password_then_locked(make_app: Any) -> None:
    flows = await throttled_app(make_app)
    for _ in range(MAX):
        status, text, _ = await attempt(flows, ALICE, "wrong")
        assert status == 400
        assert LOGIN_FAILED in text
        assert 'value="alice@localhost"' in text  # the name is kept, the password is not
    status, text, r = await attempt(flows, ALICE, PASSWORD)
    assert status == 429
    assert "Too many failed sign-in attempts" in text and "5 minutes" in text
    assert r.headers["Retry-After"] == str(WINDOW)
    flows.clock.advance(WINDOW + 1)
    status, _, _ = await attempt(flows, ALICE, PASSWORD)
    assert status == 303


async def test_unknown_account_reads_exactly_like_a_wrong_password(make_app: Any) -> None:
    flows = await throttled_app(make_app)
    _, wrong_password, _ = await attempt(flows, ALICE, "wrong")
    _, no_account, _ = await attempt(flows, "nobody@localhost", "wrong")
    _, bad_domain, _ = await attempt(flows, "alice@elsewhere.example", "wrong")
    for text in (wrong_password, no_account, bad_domain):
        assert LOGIN_FAILED in text
    # Unknown names are throttled the same way, so locking reveals nothing either.
    for _ in range(MAX - 1):
        await attempt(flows, "nobody@localhost", "wrong")
    status, text, _ = await attempt(flows, "nobody@localhost", "wrong")
    assert status == 429 and "Too many failed sign-in attempts" in text


async def test_success_clears_the_account_counter(make_app: Any) -> None:
    flows = await throttled_app(make_app)
    for _ in range(MAX - 1):
        await attempt(flows, ALICE, "wrong")
    status, _, _ = await attempt(flows, ALICE, PASSWORD)
    assert status == 303
    for _ in range(MAX - 1):
        status, _, _ = await attempt(flows, ALICE, "wrong")
        assert status == 400


async def test_address_limit_across_accounts(make_app: Any) -> None:
    flows = await throttled_app(make_app)
    # Spread over many names, one address may fail ADDRESS_FACTOR times the account limit.
    for i in range(MAX * ADDRESS_FACTOR):
        status, _, _ = await attempt(flows, f"user{i}@localhost", "wrong")
        assert status == 400
    status, text, _ = await attempt(flows, ALICE, PASSWORD)
    assert status == 429 and "Too many failed sign-in attempts" in text


async def test_authorize_login_is_throttled_too(make_app: Any) -> None:
    flows = await throttled_app(make_app)
    reg = await flows.register()
    for _ in range(MAX):
        await attempt(flows, ALICE, "wrong")
    page = await flows.get_authorize(params(reg))
    r = await flows.sign_in_and_consent(page)
    assert r.status == 429
    assert "Too many failed sign-in attempts" in await r.text()
