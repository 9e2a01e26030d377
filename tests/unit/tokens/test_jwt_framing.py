"""Issuing frames tokens exactly as ``PyJWS.encode`` would (the header segment is built once
per key and token type; only payload, signature and base64url are per token)."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS

from xmpp_oauth.errors import InvalidTokenError
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


# -- verification accepts nothing PyJWS would refuse ---------------------------------------------
#
# Verification frames tokens itself (one regex instead of PyJWT 2.15's per-character alphabet
# check) and calls PyJWT's algorithm object for the key's own alg.  Whatever string it is
# given, it may only accept what ``PyJWS.decode_complete`` with the key's pinned algorithm
# accepts too (it is allowed to be stricter: padding, non-canonical signatures).

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _pyjws_accepts(token: str, key: SigningKey) -> bool:
    try:
        PyJWS(algorithms=list(ALGORITHMS)).decode_complete(token, key.public_key,
                                                           algorithms=[key.alg])
    except Exception:  # noqa: BLE001 - any refusal counts as a refusal
        return False
    return True


def _we_accept(service: TokenService, token: str) -> bool:
    try:
        service.verify_access_token(token, audience=None, now=NOW)
    except InvalidTokenError:
        return False
    return True


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_tokens_are_never_accepted_beyond_pyjws(service: TokenService,
                                                        data: st.DataObject) -> None:
    original = service.issue_access_token(
        subject="alice@example.org", client_id="c", scopes=["xmpp"], grant_id="g",
        audience=["xmpp:example.org"], auth_time=NOW, ttl=600, now=NOW).token
    assert _we_accept(service, original) and _pyjws_accepts(original, service.keyring.active)
    token = original
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(token)))
        edit = data.draw(st.sampled_from(["replace", "insert", "delete", "pad", "truncate"]))
        char = data.draw(st.sampled_from(_B64URL + ".=+/ \n\x00é"))
        if edit == "replace" and pos < len(token):
            token = token[:pos] + char + token[pos + 1:]
        elif edit == "insert":
            token = token[:pos] + char + token[pos:]
        elif edit == "delete":
            token = token[:pos] + token[pos + 1:]
        elif edit == "pad":
            token += "=" * data.draw(st.integers(1, 3))
        else:
            token = token[:pos]
    if _we_accept(service, token):
        assert _pyjws_accepts(token, service.keyring.active)


def test_non_canonical_signature_encoding_is_refused(service: TokenService) -> None:
    token = service.issue_access_token(
        subject="alice@example.org", client_id="c", scopes=["xmpp"], grant_id="g",
        audience=["xmpp:example.org"], auth_time=NOW, ttl=600, now=NOW).token
    signing_input, sig = token.rsplit(".", 1)
    # The last character of a 64- or 32-byte signature carries unused low bits: setting one
    # keeps the decoded bytes but changes the string.
    last = _B64URL.index(sig[-1])
    twin = sig[:-1] + _B64URL[last ^ 1]
    twin_token = f"{signing_input}.{twin}"
    # Every one of our signature sizes (32, 64, 256 bytes) leaves such bits.
    assert twin != sig
    assert base64.urlsafe_b64decode(twin + "=" * (-len(twin) % 4)) == base64.urlsafe_b64decode(
        sig + "=" * (-len(sig) % 4))
    assert not _we_accept(service, twin_token)
    assert _we_accept(service, token)
    assert not _we_accept(service, token + "=")
