"""RFC 6749 §4.3 resource owner password grant: off by default, confidential clients only."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import AppFactory
from tests.web.flows import ALICE, PASSWORD, assert_oauth_error

GRANTS = ["authorization_code", "refresh_token", "password"]


async def _app(make_app: AppFactory) -> Any:
    return await make_app(allowed_oauth2_grant_types=GRANTS, accounts__max_login_failures=3)


async def test_confidential_client_gets_tokens_that_validate(make_app: AppFactory) -> None:
    _, runtime, flows = await _app(make_app)
    reg = await flows.register(grant_types=["password", "refresh_token"], redirect_uris=None)
    r = await flows.token({"grant_type": "password", "username": ALICE, "password": PASSWORD,
                           "scope": "xmpp:client:normal offline_access"}, auth=flows.auth(reg))
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    principal = runtime.validator.validate(body["access_token"], now=flows.clock.now())
    assert principal.jid == ALICE


async def test_wrong_password_then_locked_even_with_the_right_one(make_app: AppFactory) -> None:
    _, _, flows = await _app(make_app)
    reg = await flows.register(grant_types=["password"], redirect_uris=None)
    wrong = {"grant_type": "password", "username": ALICE, "password": "nope",
             "scope": "xmpp:client:normal"}
    for _ in range(3):
        await assert_oauth_error(await flows.token(wrong, auth=flows.auth(reg)), 400,
                                 "invalid_grant")
    right = {**wrong, "password": PASSWORD}
    await assert_oauth_error(await flows.token(right, auth=flows.auth(reg)), 400, "invalid_grant")


async def test_public_clients_may_not_use_it(make_app: AppFactory) -> None:
    # RFC 9700 §2.4: no password grant for clients that cannot keep a secret.
    _, _, flows = await _app(make_app)
    reg = await flows.register(grant_types=["password"], token_endpoint_auth_method="none",
                               redirect_uris=None)
    r = await flows.token({"grant_type": "password", "username": ALICE, "password": PASSWORD,
                           "client_id": reg["client_id"], "scope": "xmpp:client:normal"})
    await assert_oauth_error(r, 400, "unauthorized_client")
