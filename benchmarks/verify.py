"""Server-side OAUTHBEARER login step vs. a bare Ed25519 signature check, side by side.

What one "full step" is, per login with a token never seen before (everything a SASL service
does on the CPU; a token seen before is answered from the verified-token cache instead):

* a fresh sans-IO ``OAuthBearerServer`` parses the RFC 7628 §3.1 client message (GS2 header,
  kvpairs, ``auth=Bearer <token>``);
* ``Validator.validate`` checks the token (JWS signature with the pinned key, typ, iss, exp,
  iat, aud, domain), looks the grant up in the revoked set (pre-filled with many grants), and
  checks the authzid binding and the login scope;
* the server machine accepts the subject.

The baseline is a bare libsodium (PyNaCl) Ed25519 check of the same token's signature over
its signing input, with everything precomputed: the arithmetic the full step uses too
(``tokens/sodium.py``), so the ratio measures everything around it.  OpenSSL's check of the
same signature (``cryptography``'s ``Ed25519PublicKey.verify``, what PyJWT would use) is timed
alongside for information.  Both are timed in alternating rounds in one process so
machine load hits both alike; the reported ratio is the median of the per-round ratios
(full steps per second / bare verifies per second).  Target: ratio >= 0.5.

Output: ``name: value`` lines, the last line ``ratio=<value>``.

    python benchmarks/verify.py            # about 8 s
    python benchmarks/verify.py --quick    # about 2 s
    python benchmarks/verify.py --long     # about 60 s
"""

from __future__ import annotations

import os
import sys

# benchmarks/http.py would shadow the stdlib ``http`` package (PyJWT imports http.client):
# run as a script, this directory comes first on sys.path.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import base64  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import nacl.signing  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from xmpp_oauth.sasl.oauthbearer import (  # noqa: E402
    InitialResponse,
    OAuthBearerClient,
    OAuthBearerServer,
)
from xmpp_oauth.tokens.jwt import TokenService  # noqa: E402
from xmpp_oauth.tokens.keys import KeyRing, SigningKey  # noqa: E402
from xmpp_oauth.tokens.secrets import new_secret  # noqa: E402
from xmpp_oauth.validate import InMemoryRevocationSet, Validator  # noqa: E402

DOMAIN = "example.org"
JID = f"alice@{DOMAIN}"
ISSUER = "https://auth.example.org"
REVOKED_GRANTS = 10_000


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _time_loop(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def run(rounds: int, per_round: int) -> dict[str, float | int | str]:
    now = time.time()
    key = SigningKey.generate("EdDSA", now=now)
    tokens = TokenService(KeyRing([key]), issuer=ISSUER)
    revoked = InMemoryRevocationSet(new_secret(16) for _ in range(REVOKED_GRANTS))
    validator = Validator(tokens, revoked, domains=[DOMAIN])
    # Every login presents a token never seen before: a repeated token would be answered
    # from the verified-token cache (tokens/verified.py) and measure a dictionary lookup.
    needed = 1 + 4 * (per_round // 4 or 1) + rounds * per_round
    issued = [
        tokens.issue_access_token(
            subject=JID, client_id=new_secret(16), scopes=["xmpp:client:normal", "openid"],
            grant_id=new_secret(16), audience=[f"xmpp:{DOMAIN}"], auth_time=now, ttl=3600,
            now=now,
        ).token
        for _ in range(needed)
    ]
    messages = iter([OAuthBearerClient().initial_response(t, authzid=JID, host=DOMAIN, port=5222)
                     for t in issued])

    def full_step() -> None:
        server = OAuthBearerServer()
        response = server.receive_data(next(messages))
        assert isinstance(response, InitialResponse)
        principal = validator.validate(
            response.token, authzid=response.authzid, domain=DOMAIN, now=now
        )
        server.accept(principal.jid)

    public = key.public_key
    assert isinstance(public, ed25519.Ed25519PublicKey)
    sodium_key = nacl.signing.VerifyKey(public.public_bytes(Encoding.Raw, PublicFormat.Raw))
    # The same tokens' signatures, cycled (a bare check has nothing to remember).
    signed = [(t.rpartition(".")[0].encode("ascii"), _unb64(t.rpartition(".")[2]))
              for t in issued[:per_round]]
    cycle = itertools.cycle(signed)

    def bare_verify() -> None:
        msg, sig = next(cycle)
        sodium_key.verify(msg, sig)

    def openssl_verify() -> None:
        msg, sig = next(cycle)
        public.verify(sig, msg)

    full_step()  # sanity: it logs in
    bare_verify()
    openssl_verify()
    for _ in range(2):  # warm up caches and the allocator
        _time_loop(full_step, per_round // 4 or 1)
        _time_loop(bare_verify, per_round // 4 or 1)

    full_times: list[float] = []
    bare_times: list[float] = []
    openssl_times: list[float] = []
    ratios: list[float] = []
    for i in range(rounds):
        # Alternate the order so neither side always runs first in a round.
        if i % 2:
            b = _time_loop(bare_verify, per_round)
            f = _time_loop(full_step, per_round)
        else:
            f = _time_loop(full_step, per_round)
            b = _time_loop(bare_verify, per_round)
        full_times.append(f)
        bare_times.append(b)
        ratios.append(b / f)
        openssl_times.append(_time_loop(openssl_verify, per_round // 4 or 1))

    full = statistics.median(full_times)
    bare = statistics.median(bare_times)
    return {
        "algorithm": "EdDSA (Ed25519)",
        "token_bytes": len(issued[0]),
        "client_message_bytes": len(OAuthBearerClient().initial_response(
            issued[0], authzid=JID, host=DOMAIN, port=5222)),
        "revoked_grants_in_set": REVOKED_GRANTS,
        "rounds": rounds,
        "calls_per_round": per_round,
        "full_step_per_s": round(1 / full),
        "bare_ed25519_verify_per_s": round(1 / bare),
        "full_step_us": round(full * 1e6, 1),
        "bare_ed25519_verify_us": round(bare * 1e6, 1),
        "openssl_ed25519_verify_us": round(statistics.median(openssl_times) * 1e6, 1),
        "overhead_us": round((full - bare) * 1e6, 1),
        "ratio_min_round": round(min(ratios), 3),
        "ratio_max_round": round(max(ratios), 3),
        "ratio": round(statistics.median(ratios), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about 2 seconds")
    size.add_argument("--long", action="store_true", help="about a minute")
    args = parser.parse_args(argv)
    if args.quick:
        rounds, per_round = 5, 1000
    elif args.long:
        rounds, per_round = 41, 3500
    else:
        rounds, per_round = 11, 2000
    started = time.perf_counter()
    results = run(rounds, per_round)
    ratio = results.pop("ratio")
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"wall_seconds: {time.perf_counter() - started:.1f}")
    print(f"ratio={ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
