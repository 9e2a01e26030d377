"""Signing keys: RFC 7638 thumbprints, RFC 7517 JWK/JWKS shape, storage, rotation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from xmpp_oauth.settings import Settings
from xmpp_oauth.store.base import StoredKey
from xmpp_oauth.tokens.keys import (
    ALGORITHMS,
    DEFAULT_LEEWAY,
    KeyRing,
    SigningKey,
    jwk_thumbprint,
    key_retention,
    load_keyring,
    rotate_keys,
    select_live_keys,
)

from .conftest import NOW

# RFC 7638 §3.1 example key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
    "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
    "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


class FakeKeyStore:
    """In-memory stand-in for the four signing-key methods of the Store protocol."""

    name = "fake"

    def __init__(self) -> None:
        self.keys: dict[str, StoredKey] = {}
        self.deleted: list[str] = []

    async def add_signing_key(self, key: StoredKey) -> None:
        assert key.kid not in self.keys
        self.keys[key.kid] = key

    async def list_signing_keys(self) -> list[StoredKey]:
        return list(self.keys.values())

    async def retire_signing_key(self, kid: str, *, now: float) -> None:
        self.keys[kid] = replace(self.keys[kid], retired_at=now)

    async def delete_signing_key(self, kid: str) -> None:
        del self.keys[kid]
        self.deleted.append(kid)


# -- thumbprints -----------------------------------------------------------------------------


def test_rfc7638_example_vector() -> None:
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == RFC7638_THUMBPRINT


def test_rfc7638_vector_through_a_loaded_key() -> None:
    # The same key as a cryptography object: our JWK export must reproduce the members.
    public = RSAAlgorithm.from_jwk({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    assert jwk_thumbprint(jwk) == RFC7638_THUMBPRINT


def test_thumbprint_ignores_optional_members_and_order() -> None:
    a = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    b = {"x": a["x"], "use": "sig", "crv": "Ed25519", "kty": "OKP", "kid": "whatever"}
    assert jwk_thumbprint(a) == jwk_thumbprint(b)
    # RFC 8037 Appendix A.3 thumbprint of that Ed25519 public key.
    assert jwk_thumbprint(a) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_thumbprint_unknown_kty() -> None:
    with pytest.raises(ValueError):
        jwk_thumbprint({"kty": "weird"})


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_stored_round_trip(signing_keys: dict[str, SigningKey], alg: str) -> None:
    key = signing_keys[alg]
    stored = key.to_stored()
    assert stored.kid == key.kid and stored.alg == alg and stored.retired_at is None
    if alg != "HS256":
        assert stored.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    again = SigningKey.from_stored(stored)
    assert again == key
    assert "PRIVATE" not in repr(again) and "private_key" not in repr(again)


def test_from_stored_rejects_a_mismatched_kid(signing_keys: dict[str, SigningKey]) -> None:
    stored = replace(signing_keys["EdDSA"].to_stored(), kid="not-the-thumbprint")
    with pytest.raises(ValueError):
        SigningKey.from_stored(stored)


def test_from_stored_rejects_a_mismatched_alg(signing_keys: dict[str, SigningKey]) -> None:
    stored = replace(signing_keys["EdDSA"].to_stored(), alg="ES256")
    with pytest.raises(ValueError):
        SigningKey.from_stored(stored)
    with pytest.raises(ValueError):
        SigningKey.from_stored(replace(stored, alg="PS256"))


def test_short_hs256_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        SigningKey.from_stored(StoredKey(kid="x", alg="HS256", private_pem=b"short",
                                         created_at=NOW))


def test_generate_unknown_alg() -> None:
    with pytest.raises(ValueError):
        SigningKey.generate("none", now=NOW)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_public_jwk_shape(signing_keys: dict[str, SigningKey], alg: str) -> None:
    key = signing_keys[alg]
    jwk = key.public_jwk()
    # RFC 7517 §4: kty, use=sig, alg, kid; RFC 7638: kid is the thumbprint.
    assert jwk["kid"] == key.kid == jwk_thumbprint(jwk)
    assert jwk["alg"] == alg and jwk["use"] == "sig"
    assert "key_ops" not in jwk  # §4.3: not together with "use"
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
    assert not private_members & jwk.keys()
    expected = {"EdDSA": {"kty": "OKP", "crv": "Ed25519"}, "ES256": {"kty": "EC", "crv": "P-256"},
                "RS256": {"kty": "RSA"}}[alg]
    assert expected.items() <= jwk.items()
    loader = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm}[alg]
    loaded = loader.from_jwk(jwk)  # a consumer can load what we publish
    assert loader.to_jwk(loaded, as_dict=True)["kty"] == jwk["kty"]


def test_hs256_is_never_published(signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys["HS256"]
    with pytest.raises(ValueError):
        key.public_jwk()
    secret = key.secret_jwk()
    assert secret["kty"] == "oct" and secret["kid"] == key.kid and secret["alg"] == "HS256"
    with pytest.raises(ValueError):
        signing_keys["EdDSA"].secret_jwk()
    ring = KeyRing([key.retired(NOW), signing_keys["EdDSA"]])
    assert [k["kid"] for k in ring.jwks()["keys"]] == [signing_keys["EdDSA"].kid]


def test_keyring_active_and_jwks(signing_keys: dict[str, SigningKey]) -> None:
    old = replace(signing_keys["ES256"], created_at=NOW - 1000)
    new = replace(signing_keys["EdDSA"], created_at=NOW)
    retired_newer = replace(signing_keys["RS256"], created_at=NOW + 5, retired_at=NOW + 6)
    ring = KeyRing([old, retired_newer, new])
    assert ring.active is new  # newest *unretired* key
    assert ring.get(old.kid) is old and ring.get("nope") is None
    assert len(ring) == 3 and set(ring) == {old, new, retired_newer}
    jwks = ring.jwks()
    assert list(jwks) == ["keys"]  # RFC 7517 §5
    assert [k["kid"] for k in jwks["keys"]][0] == new.kid
    assert {k["kid"] for k in jwks["keys"]} == {old.kid, new.kid, retired_newer.kid}


def test_keyring_needs_an_unretired_key(signing_keys: dict[str, SigningKey]) -> None:
    with pytest.raises(ValueError):
        KeyRing([signing_keys["EdDSA"].retired(NOW)])
    with pytest.raises(ValueError):
        KeyRing([])


# -- retention and rotation ----------------------------------------------------------------


def test_retention_covers_the_longest_token(settings_factory: Callable[..., Settings]) -> None:
    s = settings_factory(oauth2_access_token_ttl=600, oauth2_id_token_ttl=900)
    assert key_retention(s) == 900 + DEFAULT_LEEWAY
    s = settings_factory(keys__retire_after=86400)
    assert key_retention(s) == 86400 + DEFAULT_LEEWAY


def test_select_live_keys() -> None:
    live_active = StoredKey(kid="a", alg="EdDSA", private_pem=b"", created_at=0)
    live_retired = StoredKey(kid="b", alg="EdDSA", private_pem=b"", created_at=0,
                             retired_at=NOW - 100)
    dead = StoredKey(kid="c", alg="EdDSA", private_pem=b"", created_at=0, retired_at=NOW - 101)
    live, gone = select_live_keys([live_active, live_retired, dead], retention=100, now=NOW)
    assert live == [live_active, live_retired] and gone == [dead]


async def test_load_keyring_generates_the_first_key(
    settings_factory: Callable[..., Settings],
) -> None:
    store = FakeKeyStore()
    settings = settings_factory(keys__algorithm="ES256")
    ring = await load_keyring(store, settings, now=NOW)  # type: ignore[arg-type]
    assert len(ring) == 1 and ring.active.alg == "ES256"
    assert list(store.keys) == [ring.active.kid]
    again = await load_keyring(store, settings, now=NOW + 10)  # type: ignore[arg-type]
    assert again.active == ring.active and len(store.keys) == 1


async def test_rotation_keeps_old_keys_until_their_tokens_expire(
    settings_factory: Callable[..., Settings],
) -> None:
    store = FakeKeyStore()
    settings = settings_factory(oauth2_access_token_ttl=3600, oauth2_id_token_ttl=600)
    first = (await load_keyring(store, settings, now=NOW)).active  # type: ignore[arg-type]

    second = await rotate_keys(store, settings, now=NOW + 100)  # type: ignore[arg-type]
    assert second.kid != first.kid and second.alg == "EdDSA"
    assert store.keys[first.kid].retired_at == NOW + 100
    ring = await load_keyring(store, settings, now=NOW + 100)  # type: ignore[arg-type]
    assert ring.active.kid == second.kid
    assert ring.get(first.kid) is not None  # still verifies
    assert {k["kid"] for k in ring.jwks()["keys"]} == {first.kid, second.kid}

    # Just before retired_at + retention the old key is still there ...
    limit = NOW + 100 + key_retention(settings)
    ring = await load_keyring(store, settings, now=limit)  # type: ignore[arg-type]
    assert ring.get(first.kid) is not None
    # ... after it the key is dropped from the ring and deleted from the store.
    ring = await load_keyring(store, settings, now=limit + 1)  # type: ignore[arg-type]
    assert ring.get(first.kid) is None and store.deleted == [first.kid]
    assert [k.kid for k in ring] == [second.kid]


async def test_rotation_to_another_algorithm(settings_factory: Callable[..., Settings]) -> None:
    store = FakeKeyStore()
    await load_keyring(store, settings_factory(), now=NOW)  # type: ignore[arg-type]
    rs = settings_factory(keys__algorithm="RS256")
    new = await rotate_keys(store, rs, now=NOW + 1)  # type: ignore[arg-type]
    ring = await load_keyring(store, rs, now=NOW + 2)  # type: ignore[arg-type]
    assert ring.active.kid == new.kid and ring.active.alg == "RS256"
    assert sum(1 for k in store.keys.values() if k.retired_at is None) == 1
