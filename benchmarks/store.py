"""Store cost per operation for a user holding 10 grants vs. one holding 10,000 (DESIGN §8).

One store per backend holding two users side by side: ``small`` with 10 grants, ``large`` with
10,000 (each grant with a live refresh token; a tenth of them revoked), as in a deployment
where both live in one database.  Measurements alternate between the two users sample by
sample, so drift on a shared machine and cache state hit both alike.  Medians of:

* ``rotation``: ``rotate_refresh_token`` (one transaction: consume, insert, touch the grant);
* ``listing``: ``list_grants(jid, limit=8)``, one page of the user's active grants (both users
  get 8 rows: a page costs the same however many grants there are; the full listing is
  linear by nature and printed for information only, as ``listing_all``);
* ``revocation_check``: ``StoreRevocationSet.is_revoked`` (what every login pays; in memory),
  timed over batches of lookups of freshly built id strings (as decoded from a token);
* ``revocation_poll`` (information): one ``revoked_grants_since`` poll with nothing new.

Backends: SQLite (a file in a temp dir) and PostgreSQL when ``XMPP_OAUTH_TEST_PG_DSN`` (or
``--pg-dsn``) names one (a private schema, dropped afterwards).  Each figure is printed as
``name: value``; the last line is ``ratio=<worst large/small ratio of rotation, listing and
revocation_check over both backends>`` (target <= 1.3: flat cost).

    python benchmarks/store.py                # about 30 s
    python benchmarks/store.py --samples 1000 # steadier figures, longer
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from xmpp_oauth.store import connect_store
from xmpp_oauth.store.base import Grant, RefreshToken
from xmpp_oauth.store.revocation import StoreRevocationSet
from xmpp_oauth.store.sql import SqlStore

T0 = 1_800_000_000.0
SCOPES = ("xmpp:client:normal", "offline_access")
PAGE = 8
RATIO_OPS = ("rotation", "listing", "revocation_check")


@dataclass
class Side:
    """One store holding one user with ``n`` grants."""

    name: str
    n: int
    store: SqlStore
    revoked: StoreRevocationSet
    jid: str
    heads: list[str]  # the live refresh token of each grant
    step: int = 0


def _gid(jid: str, i: int) -> str:
    # Same length for every user (real grant ids are random strings of one length).
    return f"{jid.split('@')[0]:>9}-{i:08d}"


def _grant(i: int, jid: str) -> Grant:
    return Grant(grant_id=_gid(jid, i), jid=jid, client_id=f"client-{i % 7}",
                 client_name="Bench", scopes=SCOPES, created_at=T0 + i, last_used_at=T0 + i)


def _token(token_hash: str, grant_id: str, now: float) -> RefreshToken:
    return RefreshToken(token_hash=token_hash, grant_id=grant_id, client_id="client-0",
                        scopes=SCOPES, created_at=now, expires_at=now + 10**8)


async def _fill(store: SqlStore, jid: str, n: int, parallel: int) -> list[str]:
    heads = [f"{jid}-r{i}-0" for i in range(n)]

    async def one(i: int) -> None:
        await store.create_grant(_grant(i, jid))
        await store.add_refresh_token(_token(heads[i], _gid(jid, i), T0 + i))

    for start in range(0, n, parallel):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + parallel))))
    # A tenth revoked (never the ones we rotate: the first half stays live).
    for i in range(n - 1, n - 1 - max(1, n // 10), -1):
        await store.revoke_grant(_gid(jid, i), reason="bench", now=T0 + n)
    return heads


async def _side(name: str, n: int, store: SqlStore, revoked: StoreRevocationSet,
                parallel: int) -> Side:
    jid = f"user{n}@localhost"
    heads = await _fill(store, jid, n, parallel)
    return Side(name=name, n=n, store=store, revoked=revoked, jid=jid, heads=heads)


async def _rotation(side: Side) -> None:
    i = side.step % max(1, side.n // 2)  # only live grants
    side.step += 1
    old = side.heads[i]
    new = f"{side.jid}-r{i}-{side.step}"
    now = T0 + 10 * side.n + side.step
    if await side.store.rotate_refresh_token(old, _token(new, _gid(side.jid, i), now),
                                             now=now) is None:
        raise RuntimeError(f"rotation failed on {side.name}")
    side.heads[i] = new


async def _listing(side: Side) -> None:
    await side.store.list_grants(side.jid, limit=PAGE)


async def _listing_all(side: Side) -> None:
    await side.store.list_grants(side.jid)


async def _poll(side: Side) -> None:
    await side.revoked.refresh()


def _check_batch(side: Side, lookups: int) -> float:
    ids = [_gid(side.jid, k % side.n) for k in range(lookups)]  # fresh str objects
    is_revoked = side.revoked.is_revoked
    start = time.perf_counter()
    for gid in ids:
        is_revoked(gid)
    return (time.perf_counter() - start) / lookups


async def _timed(op: Callable[[Side], Awaitable[None]], side: Side) -> float:
    start = time.perf_counter()
    await op(side)
    return time.perf_counter() - start


async def measure(small: Side, large: Side, samples: int) -> dict[str, tuple[float, float]]:
    ops: dict[str, Callable[[Side], Awaitable[None]]] = {
        "rotation": _rotation, "listing": _listing, "revocation_poll": _poll,
    }
    results: dict[str, tuple[float, float]] = {}
    for name, op in ops.items():
        for side in (small, large):  # warm up caches and prepared statements
            for _ in range(10):
                await op(side)
        a: list[float] = []
        b: list[float] = []
        for k in range(samples):
            first, second = (small, large) if k % 2 == 0 else (large, small)
            t1 = await _timed(op, first)
            t2 = await _timed(op, second)
            (a if first is small else b).append(t1)
            (b if first is small else a).append(t2)
        results[name] = (statistics.median(a), statistics.median(b))
    a_checks: list[float] = []
    b_checks: list[float] = []
    for _ in range(max(20, samples // 10)):
        a_checks.append(_check_batch(small, 5000))
        b_checks.append(_check_batch(large, 5000))
    results["revocation_check"] = (statistics.median(a_checks), statistics.median(b_checks))
    full = max(5, samples // 20)
    results["listing_all"] = (
        statistics.median([await _timed(_listing_all, small) for _ in range(full)]),
        statistics.median([await _timed(_listing_all, large) for _ in range(full)]),
    )
    return results


async def _pg_schema(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_backend(backend: str, url: str, samples: int,
                      large_n: int) -> dict[str, tuple[float, float]]:
    parallel = 16 if backend == "postgresql" else 1
    store = await connect_store(url)
    revoked = StoreRevocationSet(store, poll_interval=1.0)
    try:
        small = await _side("small", 10, store, revoked, parallel)
        large = await _side("large", large_n, store, revoked, parallel)
        await revoked.start()
        return await measure(small, large, samples)
    finally:
        await revoked.stop()
        await store.close()


def _unit(seconds: float) -> str:
    return f"{seconds * 1e6:.3f}" if seconds < 1e-5 else f"{seconds * 1e6:.1f}"


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="samples per operation")
    parser.add_argument("--grants", type=int, default=10_000, help="grants of the large user")
    parser.add_argument("--pg-dsn", default=os.environ.get("XMPP_OAUTH_TEST_PG_DSN", ""))
    args = parser.parse_args(argv)

    worst = 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")]
        schemas: list[str] = []
        if args.pg_dsn:
            sep = "&" if "?" in args.pg_dsn else "?"
            schemas.append(f"xo_bench_{secrets.token_hex(5)}")
            await _pg_schema(args.pg_dsn, f"CREATE SCHEMA {schemas[-1]}")
            backends.append(("postgresql", f"{args.pg_dsn}{sep}search_path={schemas[-1]}"))
        else:
            print("postgresql: skipped (set XMPP_OAUTH_TEST_PG_DSN or --pg-dsn)")
        try:
            for backend, url in backends:
                results = await run_backend(backend, url, args.samples, args.grants)
                for op, (small, large) in results.items():
                    ratio = large / small
                    print(f"{backend}_{op}_10_grants_us: {_unit(small)}")
                    print(f"{backend}_{op}_{args.grants}_grants_us: {_unit(large)}")
                    print(f"{backend}_{op}_ratio: {ratio:.2f}")
                    if op in RATIO_OPS:
                        worst = max(worst, ratio)
        finally:
            for schema in schemas:
                await _pg_schema(args.pg_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    print(f"seconds: {time.monotonic() - started:.1f}")
    print(f"ratio={worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
