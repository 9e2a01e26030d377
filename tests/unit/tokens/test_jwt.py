"""Access and ID tokens: round trips per algorithm and every rejection path (RFC 9068 §4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from xmpp_oauth.errors import InvalidTokenError
from xmpp_oauth.tokens.jwt import (
    MAX_TOKEN_LENGTH,
    IssuedToken,
    TokenService,
    at_hash,
)
from xmpp_oauth.tokens.keys import KeyRing, SigningKey

from .conftest import ISSUER, NOW

AUD = "xmpp:example.org"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(service: TokenService, **kw: Any) -> IssuedToken:
    args: dict[str, Any] = {
        "subject": "alice@example.org",
        "client_id": "client-1",
        "scopes": ["xmpp:client:normal", "openid"],
        "grant_id": "grant-1",
        "audience": [AUD],
        "auth_time": NOW - 50,
        "ttl": 3600,
        "now": NOW,
    }
    args.update(kw)
    return service.issue_access_token(**args)


def reason(
    service: TokenService, token: str, *, now: float = NOW, audience: str | None = AUD
) -> str:
    with pytest.raises(InvalidTokenError) as info:
        service.verify_access_token(token, audience=audience, now=now)
    return info.value.reason


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, payload, sig = token.split(".")
    return json.loads(unb64(head)), json.loads(unb64(payload)), sig


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Any) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


# -- round trips ---------------------------------------------------------------------------


def test_access_token_round_trip(service: TokenService, alg: str) -> None:
    issued = issue(service)
    claims = service.verify_access_token(issued.token, audience=AUD, now=NOW + 10)
    assert claims == issued.claims
    assert claims.sub == claims.jid == "alice@example.org"
    assert claims.scopes == frozenset({"xmpp:client:normal", "openid"})
    assert claims.aud == (AUD,)
    assert claims.exp == issued.expires_at == int(NOW) + 3600
    assert claims.iat == int(NOW) and claims.auth_time == int(NOW) - 50
    assert claims.grant_id == "grant-1" and claims.client_id == "client-1"
    header, payload, _sig = parts(issued.token)
    # RFC 9068 §2.1 header; the kid names the signing key.
    assert header == {"alg": alg, "typ": "at+jwt", "kid": service.keyring.active.kid}
    assert payload["scope"] == "openid xmpp:client:normal"
    assert payload["gid"] == "grant-1" and payload["jid"] == payload["sub"]
    assert payload["jti"] == issued.jti and len(issued.jti) >= 16
    assert payload["aud"] == AUD


@pytest.mark.parametrize(("scopes", "has_jid"), [
    (["xmpp:client:normal", "openid"], True),
    (["xmpp"], True),
    (["openid"], False),
    (["openid", "profile", "offline_access"], False),
    (["xmpp:client:other"], False),
])
def test_jid_claim_only_with_a_login_scope(signing_keys: dict[str, SigningKey],
                                           scopes: list[str], has_jid: bool) -> None:
    """ejabberd's auth_method: jwt reads only the signature, exp and ``jid``, never the scope:
    a token without a login scope must not carry the claim it logs in with."""
    service = TokenService(KeyRing([signing_keys["EdDSA"]]), issuer=ISSUER, jid_claim=True)
    issued = issue(service, scopes=scopes)
    payload = parts(issued.token)[1]
    assert ("jid" in payload) is has_jid
    if has_jid:
        assert payload["jid"] == payload["sub"] == "alice@example.org"
    claims = service.verify_access_token(issued.token, audience=AUD, now=NOW)
    assert claims.sub == claims.jid == "alice@example.org"


@pytest.mark.parametrize("scopes", [["xmpp:client:normal", "openid"], ["openid"]])
def test_jid_claim_setting_off(signing_keys: dict[str, SigningKey], scopes: list[str]) -> None:
    service = TokenService(KeyRing([signing_keys["EdDSA"]]), issuer=ISSUER, jid_claim=False)
    issued = issue(service, scopes=scopes)
    assert "jid" not in parts(issued.token)[1]
    claims = service.verify_access_token(issued.token, audience=AUD, now=NOW)
    assert claims.jid == "alice@example.org"


@pytest.mark.parametrize("flag", [True, False])
async def test_runtime_wires_the_jid_claim_setting(settings_factory: Any, flag: bool) -> None:
    from xmpp_oauth.clock import FrozenClock
    from xmpp_oauth.runtime import open_runtime

    settings = settings_factory(oauth2_jid_claim=flag)
    async with open_runtime(settings, clock=FrozenClock(NOW), background=False) as rt:
        assert rt.tokens.jid_claim is flag


def test_several_audiences_are_a_list(service: TokenService) -> None:
    issued = issue(service, audience=[AUD, "https://api.example.org"])
    assert parts(issued.token)[1]["aud"] == [AUD, "https://api.example.org"]
    claims = service.verify_access_token(issued.token, audience="https://api.example.org", now=NOW)
    assert claims.aud == (AUD, "https://api.example.org")


def test_audience_check_can_be_left_to_the_caller(service: TokenService) -> None:
    issued = issue(service)
    assert service.verify_access_token(issued.token, audience=None, now=NOW).aud == (AUD,)


def test_jtis_are_unique(service: TokenService) -> None:
    assert issue(service).jti != issue(service).jti


def test_issue_needs_audience_and_positive_ttl(service: TokenService) -> None:
    with pytest.raises(ValueError):
        issue(service, audience=[])
    with pytest.raises(ValueError):
        issue(service, ttl=0)


# -- time ----------------------------------------------------------------------------------


def test_expired(service: TokenService) -> None:
    token = issue(service, ttl=60).token
    # Within the 30 s leeway it still passes; at exp + leeway it is expired.
    service.verify_access_token(token, audience=AUD, now=NOW + 60 + 29)
    assert reason(service, token, now=NOW + 60 + 30) == "expired"


def test_issued_in_the_future(service: TokenService) -> None:
    token = issue(service, now=NOW + 100).token
    service.verify_access_token(token, audience=AUD, now=NOW + 70)  # leeway
    assert reason(service, token, now=NOW) == "not_yet_valid"


def test_nbf_in_the_future(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    payload["nbf"] = int(NOW) + 300
    token = pyjwt.encode(payload, key.private_key, algorithm="EdDSA",  # type: ignore[arg-type]
                         headers={"typ": "at+jwt", "kid": key.kid})
    assert reason(service, token) == "not_yet_valid"
    assert service.verify_access_token(token, audience=AUD, now=NOW + 300).nbf == int(NOW) + 300


def test_custom_leeway(signing_keys: dict[str, SigningKey]) -> None:
    service = TokenService(KeyRing([signing_keys["EdDSA"]]), issuer=ISSUER, leeway=0)
    token = issue(service, ttl=60).token
    assert reason(service, token, now=NOW + 60) == "expired"


# -- claims --------------------------------------------------------------------------------


def test_wrong_issuer(signing_keys: dict[str, SigningKey], alg: str) -> None:
    ring = KeyRing([signing_keys[alg]])
    token = issue(TokenService(ring, issuer="https://evil.example")).token
    assert reason(TokenService(ring, issuer=ISSUER), token) == "issuer"


def test_wrong_audience(service: TokenService) -> None:
    assert reason(service, issue(service).token, audience="xmpp:other.org") == "audience"


def resign(key: SigningKey, payload: dict[str, Any], typ: str = "at+jwt") -> str:
    return pyjwt.encode(payload, key.private_key, algorithm=key.alg,  # type: ignore[arg-type]
                        headers={"typ": typ, "kid": key.kid})


@pytest.mark.parametrize(
    "change",
    [
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"gid": None},
        {"client_id": None},
        {"jti": None},
        {"exp": "tomorrow"},
        {"exp": True},
        {"aud": 5},
        {"aud": []},
        {"scope": ["xmpp"]},
        {"jid": "mallory@example.org"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_malformed_claims(signing_keys: dict[str, SigningKey], change: dict[str, Any]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    for name, value in change.items():
        if value is None:
            del payload[name]
        else:
            payload[name] = value
    assert reason(service, resign(key, payload)) == "malformed"


def test_payload_not_an_object(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    token = pyjwt.api_jws.encode(b"[1, 2]", key.private_key, algorithm="EdDSA",  # type: ignore[arg-type]
                                 headers={"typ": "at+jwt", "kid": key.kid})
    assert reason(service, token) == "malformed"


# -- type confusion (RFC 9068 §4, RFC 8725 §3.11) -------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "dpop+jwt", None])
def test_wrong_typ(signing_keys: dict[str, SigningKey], typ: str | None) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    headers: dict[str, Any] = {"kid": key.kid, "typ": typ}
    token = pyjwt.encode(payload, key.private_key, algorithm="EdDSA",  # type: ignore[arg-type]
                         headers=headers)
    assert reason(service, token) == "type"


def test_media_type_form_of_typ_is_accepted(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    token = resign(key, payload, typ="application/at+jwt")
    assert service.verify_access_token(token, audience=AUD, now=NOW).sub == "alice@example.org"


def test_id_token_is_not_an_access_token(service: TokenService) -> None:
    id_token = service.issue_id_token(subject="alice@example.org", client_id=AUD, nonce=None,
                                      access_token=None, auth_time=NOW, amr=(), ttl=60, now=NOW)
    assert reason(service, id_token) == "type"


def test_access_token_is_not_an_id_token(service: TokenService) -> None:
    token = issue(service).token
    with pytest.raises(InvalidTokenError) as info:
        service.verify_id_token(token, client_id=AUD, now=NOW)
    assert info.value.reason == "type"


# -- signature and key selection -------------------------------------------------------------


def test_tampered_payload(service: TokenService) -> None:
    head, _payload, sig = issue(service).token.split(".")
    _h, claims, _s = parts(issue(service).token)
    claims["sub"] = "mallory@example.org"
    claims["jid"] = "mallory@example.org"
    forged = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    assert reason(service, forged) == "signature"


def test_tampered_signature(service: TokenService) -> None:
    head, payload, sig = issue(service).token.split(".")
    raw = bytearray(unb64(sig))
    raw[len(raw) // 2] ^= 0x01
    assert reason(service, f"{head}.{payload}.{b64(bytes(raw))}") == "signature"


def test_unknown_kid(service: TokenService, alg: str) -> None:
    other = TokenService(KeyRing([SigningKey.generate("EdDSA", now=NOW)]), issuer=ISSUER)
    assert reason(service, issue(other).token) == "unknown_key"


def test_missing_kid(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    token = pyjwt.encode(payload, key.private_key, algorithm="EdDSA",  # type: ignore[arg-type]
                         headers={"typ": "at+jwt"})
    assert reason(service, token) == "malformed"


def test_alg_none_is_rejected(service: TokenService) -> None:
    header, payload, _sig = parts(issue(service).token)
    for hdr in ({**header, "alg": "none"}, {"alg": "none", "typ": "at+jwt"}):
        token = forge(hdr, payload, lambda _msg: b"")
        assert reason(service, token) in {"signature", "malformed"}
    # With our kid the key is found and its pinned algorithm refuses "none".
    assert reason(service, forge({**header, "alg": "none"}, payload, lambda _m: b"")) == "signature"


@pytest.mark.parametrize("asym", ["RS256", "ES256", "EdDSA"])
def test_hs256_signed_with_public_key_is_rejected(
    signing_keys: dict[str, SigningKey], asym: str
) -> None:
    """The classic confusion: HMAC keyed with the (public) PEM of an asymmetric key."""
    key = signing_keys[asym]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    header, payload, _sig = parts(issue(service).token)
    assert not isinstance(key.public_key, bytes)
    pem = key.public_key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = json.dumps(key.public_jwk()).encode()
    for secret in (pem, jwk):
        token = forge({**header, "alg": "HS256"}, payload,
                      lambda msg, s=secret: hmac.new(s, msg, hashlib.sha256).digest())
        assert reason(service, token) == "signature"


def test_token_signed_by_a_different_alg_for_the_same_kid(
    signing_keys: dict[str, SigningKey],
) -> None:
    ed = signing_keys["EdDSA"]
    es = signing_keys["ES256"]
    service = TokenService(KeyRing([ed]), issuer=ISSUER)
    _h, payload, _s = parts(issue(service).token)
    token = pyjwt.encode(payload, es.private_key, algorithm="ES256",  # type: ignore[arg-type]
                         headers={"typ": "at+jwt", "kid": ed.kid})
    assert reason(service, token) == "signature"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "!!!.b.c", "eyJ9.e30.", "e30.e30.", "W10.e30.e30",
     "x" * (MAX_TOKEN_LENGTH + 1)],
)
def test_garbage(service: TokenService, token: str) -> None:
    assert reason(service, token) in {"malformed", "unknown_key"}


def test_bad_framing_after_a_known_header(service: TokenService) -> None:
    head, _payload, sig = issue(service).token.split(".")
    assert reason(service, f"{head}.!!!!.{sig}") == "malformed"


def test_header_cache_follows_key_ring_swaps(signing_keys: dict[str, SigningKey]) -> None:
    ed, es = signing_keys["EdDSA"], signing_keys["ES256"]
    service = TokenService(KeyRing([ed]), issuer=ISSUER)
    token = issue(service).token
    service.verify_access_token(token, audience=AUD, now=NOW)  # caches the header
    service.keyring = KeyRing([es])
    assert reason(service, token) == "unknown_key"


def test_only_verified_headers_are_cached(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    header, payload, sig = parts(issue(service).token)
    for i in range(100):
        forged_head = b64(json.dumps({**header, "x": i}).encode())
        forged = f"{forged_head}.{b64(json.dumps(payload).encode())}.{sig}"
        assert reason(service, forged) == "signature"
    assert service.jws.remembered_keys() == []
    service.verify_access_token(issue(service).token, audience=AUD, now=NOW)
    assert service.jws.remembered_keys() == [key]


def test_retired_key_still_verifies(signing_keys: dict[str, SigningKey]) -> None:
    old = signing_keys["EdDSA"]
    token = issue(TokenService(KeyRing([old]), issuer=ISSUER)).token
    new = SigningKey.generate("ES256", now=NOW)
    service = TokenService(KeyRing([old.retired(NOW), new]), issuer=ISSUER)
    assert service.keyring.active is new
    assert service.verify_access_token(token, audience=AUD, now=NOW).sub == "alice@example.org"
    assert parts(issue(service).token)[0]["kid"] == new.kid


# -- ID tokens (OIDC Core §2, §3.1.3.6-7) -----------------------------------------------------


def test_id_token(service: TokenService, alg: str) -> None:
    access = issue(service).token
    token = service.issue_id_token(
        subject="alice@example.org", client_id="client-1", nonce="n-0S6_WzA2Mj",
        access_token=access, auth_time=NOW - 50, amr=["pwd"], ttl=300, now=NOW,
        extra={"name": "Alice"},
    )
    header, _payload, _sig = parts(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": service.keyring.active.kid}
    claims = service.verify_id_token(token, client_id="client-1", now=NOW + 1)
    assert claims["iss"] == ISSUER and claims["sub"] == "alice@example.org"
    assert claims["aud"] == "client-1" and claims["azp"] == "client-1"
    assert claims["exp"] == int(NOW) + 300 and claims["iat"] == int(NOW)
    assert claims["auth_time"] == int(NOW) - 50
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["amr"] == ["pwd"]
    assert claims["name"] == "Alice"
    # §3.1.3.6: left-most half of the hash of the ASCII access token, base64url.
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(access.encode()).digest()
    assert claims["at_hash"] == b64(digest[: len(digest) // 2])
    with pytest.raises(InvalidTokenError) as info:
        service.verify_id_token(token, client_id="client-2", now=NOW)
    assert info.value.reason == "audience"
    with pytest.raises(InvalidTokenError) as info:
        service.verify_id_token(token, client_id="client-1", now=NOW + 400)
    assert info.value.reason == "expired"


def test_id_token_without_optional_claims(service: TokenService) -> None:
    token = service.issue_id_token(subject="alice@example.org", client_id="c", nonce=None,
                                   access_token=None, auth_time=NOW, amr=(), ttl=60, now=NOW)
    claims = service.verify_id_token(token, client_id="c", now=NOW)
    assert not {"nonce", "at_hash", "amr"} & claims.keys()


def test_id_token_extra_cannot_override(service: TokenService) -> None:
    with pytest.raises(ValueError):
        service.issue_id_token(subject="a@b", client_id="c", nonce=None, access_token=None,
                               auth_time=NOW, amr=(), ttl=60, now=NOW, extra={"sub": "x@y"})


def test_at_hash_vector() -> None:
    # OIDC Core Appendix A.3 example: RS256 over "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y".
    assert at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256") == (
        "77QmUPtjPfzWtF2AnpK9RQ"
    )


def test_id_token_azp_must_match_with_several_audiences(
    signing_keys: dict[str, SigningKey],
) -> None:
    key = signing_keys["EdDSA"]
    service = TokenService(KeyRing([key]), issuer=ISSUER)
    payload = {"iss": ISSUER, "sub": "a@b", "aud": ["c", "d"], "exp": int(NOW) + 60,
               "iat": int(NOW)}
    with pytest.raises(InvalidTokenError):
        service.verify_id_token(resign(key, payload, typ="JWT"), client_id="c", now=NOW)
    payload["azp"] = "c"
    assert service.verify_id_token(resign(key, payload, typ="JWT"), client_id="c", now=NOW)
