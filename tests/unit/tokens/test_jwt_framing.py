"""Issuing frames tokens exactly as ``PyJWS.encode`` would (the header segment is built once
per key and token type; only payload, signature and base64url are per token)."""

from __future__ import annotations

import json

from jwt.api_jws import PyJWS

from xmpp_oauth.tokens.jwt import ACCESS_TOKEN_TYP, ID_TOKEN_TYP, TokenService
from xmpp_oauth.tokens.keys import ALGORITHMS, KeyRing, SigningKey

from .conftest import ISSUER, NOW

CLAIMS = {"iss": ISSUER, "sub": "alice@example.org", "name": "Ålice", "n": [1, 2]}


def _reference(key: SigningKey, typ: str) -> str:
    payload = json.dumps(CLAIMS, separators=(",", ":"), ensure_ascii=False).encode()
    return PyJWS(algorithms=list(ALGORITHMS)).encode(
        payload, key.private_key, algorithm=key.alg, headers={"typ": typ, "kid": key.kid})


def test_tokens_are_pyjws_output(service: TokenService, alg: str) -> None:
    key = service.keyring.active
    for typ in (ACCESS_TOKEN_TYP, ID_TOKEN_TYP, ACCESS_TOKEN_TYP):  # cached the second time
        ours = service._sign(CLAIMS, typ, key)
        reference = _reference(key, typ)
        if alg == "ES256":  # ECDSA signatures are randomised: compare what is signed
            assert ours.rsplit(".", 1)[0] == reference.rsplit(".", 1)[0]
            PyJWS(algorithms=["ES256"]).decode_complete(ours, key.public_key,
                                                          algorithms=["ES256"])
        else:
            assert ours == reference


def test_a_new_key_ring_forgets_the_old_headers(signing_keys: dict[str, SigningKey]) -> None:
    service = TokenService(KeyRing([signing_keys["EdDSA"]]), issuer=ISSUER)
    first = service._sign(CLAIMS, ACCESS_TOKEN_TYP, service.keyring.active)
    fresh = SigningKey.generate("EdDSA", now=NOW)
    service.keyring = KeyRing([fresh])
    second = service._sign(CLAIMS, ACCESS_TOKEN_TYP, service.keyring.active)
    assert first.split(".")[0] != second.split(".")[0]
    assert second == _reference(fresh, ACCESS_TOKEN_TYP)
