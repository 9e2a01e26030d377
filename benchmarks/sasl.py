"""The SASL service under load: Dovecot AUTH round trips, and XMPP logins through Prosody.

Part 1, the service alone.  The service runs in its own process (``--serve``), the load
generator here (a separate process, as DESIGN §10 asks: a Python generator in the same process
would under-report).  Two services, identical but for the token check: real OAUTHBEARER
validation (signature, claims, revocation set, binding) vs. a stub that answers OK for any
well-formed message without validating.  Each gets a never-seen token per request (so
every validation verifies a signature: verified tokens are remembered, see
``tokens/verified.py``):

* ``single``: one connection, one request in flight (Prosody's pattern): round trips/s, p50/p99;
* ``pipelined``: 8 connections with 16 requests in flight each: round trips/s, p99;
* ``single_reused`` (validating service only): 100 tokens cycled, as when clients reconnect
  with their token: signatures come from the cache, expiry/revocation/binding are checked.

Part 2, a real Prosody 0.12 with three VirtualHosts in one process: ``localhost``
authenticating through the service (OAUTHBEARER, ``authentication = "dovecot"``),
``plain.localhost`` with Prosody's own ``internal_plain`` (PLAIN), and a control,
``control.localhost``, whose Dovecot socket is the stub service that answers OK without
validating (what Prosody's synchronous Dovecot client costs by itself).  20 concurrent raw XMPP
clients (plaintext stream, SASL, stream restart, resource binding, close) run against each host
in turn, after a warm-up to Prosody's steady rate, in alternating order; logins/s each,
OAUTHBEARER with never-seen tokens and with reused tokens.
Skipped with a note when Prosody is not installed.

Output: ``name: value`` lines; the last line is
``ratio=<validating / non-validating round trips per second, single connection>``.

    python benchmarks/sasl.py               # about 45 s
    python benchmarks/sasl.py --quick       # about 20 s
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/http.py would shadow the stdlib "http" package: drop this script's directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from xmpp_oauth.accounts.local import LocalAccounts  # noqa: E402
from xmpp_oauth.runtime import open_runtime  # noqa: E402
from xmpp_oauth.saslservice.exchanges import TokenCheck  # noqa: E402
from xmpp_oauth.saslservice.server import SaslService, build_sasl_service  # noqa: E402
from xmpp_oauth.settings import SaslListener, Settings  # noqa: E402
from xmpp_oauth.store.base import Grant  # noqa: E402
from xmpp_oauth.tokens.secrets import new_secret  # noqa: E402
from xmpp_oauth.validate import Principal  # noqa: E402

DOMAIN = "localhost"
PLAIN_DOMAIN = "plain.localhost"
CONTROL_DOMAIN = "control.localhost"
#: Upper bounds of the rates seen here, to size the never-seen token pools of the cold runs.
SINGLE_MAX_RATE = 8_000
PIPELINED_MAX_RATE = 16_000
XMPP_MAX_RATE = 1_500
REUSED = 100
PIPELINE_CONNECTIONS = 8
PIPELINE_DEPTH = 16
XMPP_CLIENTS = 20
WARMUP_PASSES = 3
WARMUP_SECONDS = 1.0


def settings_for(data_dir: Path, alg: str = "EdDSA") -> Settings:
    return Settings.from_mapping({"data_dir": str(data_dir), "domains": [DOMAIN],
                                  "log_level": "WARNING", "keys": {"algorithm": alg}}, env={})


# -- the service process -------------------------------------------------------------------------


def no_validation(token: str, authzid: str | None, domain: str, now: float) -> Principal:
    """The stub: no signature, no claims, no revocation check."""
    return Principal(jid=f"alice@{domain}", client_id="bench", scopes=frozenset({"xmpp"}),
                     grant_id="bench", expires_at=int(now) + 3600, jti="bench")


async def serve(data_dir: Path, sockets: list[str], validate: bool, domain: str) -> None:
    async with open_runtime(settings_for(data_dir)) as rt:
        check: TokenCheck | None = None if validate else no_validation
        service: SaslService = build_sasl_service(
            rt, listeners=[SaslListener(domain=domain, socket=s) for s in sockets],
            token_check=check)
        await service.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await service.close()


def start_service(data_dir: Path, sockets: list[str], validate: bool,
                  domain: str = DOMAIN) -> subprocess.Popen[bytes]:
    argv = [sys.executable, __file__, "--serve", str(data_dir), "--domain", domain,
            "--validate" if validate else "--no-validate", *sockets]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not all(os.path.exists(s) for s in sockets):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"service did not start: {argv}")
        time.sleep(0.05)
    return proc


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- tokens and accounts -------------------------------------------------------------------------


async def prepare(data_dir: Path, n_tokens: int, alg: str) -> list[str]:
    """``n_tokens`` distinct access tokens for alice (one grant: signing is the only cost)."""
    async with open_runtime(settings_for(data_dir, alg), background=False) as rt:
        await LocalAccounts(rt.store, clock=rt.clock, domains=[DOMAIN]).create(
            f"alice@{DOMAIN}", "alice-pw")
        now = time.time()
        jid = f"alice@{DOMAIN}"
        grant = Grant(grant_id=new_secret(16), jid=jid, client_id="bench", client_name="bench",
                      scopes=("xmpp:client:normal",), created_at=now, last_used_at=now,
                      auth_time=now)
        await rt.store.create_grant(grant)
        return [
            rt.tokens.issue_access_token(
                subject=jid, client_id="bench", scopes=grant.scopes, grant_id=grant.grant_id,
                audience=[f"xmpp:{DOMAIN}"], auth_time=now, ttl=3600, now=now,
            ).token
            for _ in range(n_tokens)
        ]


def auth_lines(tokens: list[str]) -> list[bytes]:
    """``AUTH`` lines without the id prefix: ``\\tOAUTHBEARER\\tservice=xmpp\\tresp=...``."""
    out = []
    for token in tokens:
        msg = f"n,,\x01auth=Bearer {token}\x01\x01".encode()
        out.append(b"\tOAUTHBEARER\tservice=xmpp\tresp=" + base64.b64encode(msg) + b"\n")
    return out


# -- the Dovecot-protocol load generator ---------------------------------------------------------


async def open_dovecot(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
    writer.write(b"VERSION\t1\t1\nCPID\t1\n")
    while not (await reader.readline()).startswith(b"DONE"):
        pass
    return reader, writer


async def run_connection(path: str, lines: Iterator[bytes], depth: int, until: float,
                         latencies: list[float]) -> int:
    """Keep ``depth`` AUTH requests in flight until ``until`` (or the lines run out)."""
    reader, writer = await open_dovecot(path)
    sent_at: dict[int, float] = {}
    next_id = 1
    done = 0

    def send() -> None:
        nonlocal next_id
        if time.perf_counter() >= until:
            return
        line = next(lines, None)
        if line is None:  # a starved run would report a rate it never measured
            raise SystemExit("ran out of never-seen tokens: raise the *_MAX_RATE budgets")
        sent_at[next_id] = time.perf_counter()
        writer.write(b"AUTH\t%d" % next_id + line)
        next_id += 1

    for _ in range(depth):
        send()
    while sent_at:
        reply = await reader.readline()
        if not reply.startswith(b"OK\t"):
            raise SystemExit(f"unexpected reply {reply[:80]!r}")
        req_id = int(reply.split(b"\t", 2)[1])
        latencies.append(time.perf_counter() - sent_at.pop(req_id))
        done += 1
        send()
    writer.close()
    return done


async def load(path: str, lines: Iterator[bytes], *, connections: int, depth: int,
               seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    start = time.perf_counter()
    until = start + seconds
    counts = await asyncio.gather(*(
        run_connection(path, lines, depth, until, latencies) for _ in range(connections)))
    return sum(counts) / (time.perf_counter() - start), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 10 else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


async def part1(tmp: Path, single: list[bytes], pipelined: list[bytes], reused: list[bytes],
                rounds: int, seconds: float) -> dict[str, float]:
    """Both services run side by side; short runs alternate between them, ``rounds`` times,
    so that the (shared, noisy) machine's load hits both alike.  Rates are medians over the
    rounds, latency percentiles over all requests of a kind, ratios medians of per-round
    ratios."""
    cold_single, cold_pipe = iter(single), iter(pipelined)
    socks = {v: str(tmp / f"{'validate' if v else 'novalidate'}.sock") for v in (True, False)}
    procs = [start_service(tmp / "data", [socks[v]], v) for v in (True, False)]
    kinds = {
        # name: (validating?, connections, depth, request source)
        "single_validate": (True, 1, 1, cold_single),
        "single_novalidate": (False, 1, 1, itertools.cycle(reused)),
        "single_reused_validate": (True, 1, 1, itertools.cycle(reused)),
        "pipelined_validate": (True, PIPELINE_CONNECTIONS, PIPELINE_DEPTH, cold_pipe),
        "pipelined_novalidate": (False, PIPELINE_CONNECTIONS, PIPELINE_DEPTH,
                                 itertools.cycle(reused)),
    }
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    lats: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for v in (True, False):  # warm-up, not measured
            await load(socks[v], itertools.cycle(reused), connections=1, depth=1,
                       seconds=0.3)
        for _ in range(rounds):
            for name, (v, conns, depth, source) in kinds.items():
                rate, lat = await load(socks[v], source, connections=conns, depth=depth,
                                       seconds=seconds)
                rates[name].append(rate)
                lats[name] += lat
    finally:
        for proc in procs:
            stop_process(proc)
    results: dict[str, float] = {}
    for name in kinds:
        results[f"{name}_rps"] = median(rates[name])
        results[f"{name}_p50_ms"] = pct(lats[name], 50) * 1000
        results[f"{name}_p99_ms"] = pct(lats[name], 99) * 1000

    def ratio(a: str, b: str) -> float:
        return median([x / y for x, y in zip(rates[a], rates[b], strict=True) if y])

    results["ratio_single"] = ratio("single_validate", "single_novalidate")
    results["ratio_single_reused"] = ratio("single_reused_validate", "single_novalidate")
    results["ratio_pipelined"] = ratio("pipelined_validate", "pipelined_novalidate")
    return results


# -- part 2: raw XMPP logins through Prosody -----------------------------------------------------

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"


def stream_header(domain: str) -> bytes:
    return (f"<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").encode()


async def read_until(reader: asyncio.StreamReader, *markers: bytes) -> bytes:
    buf = b""
    while not any(m in buf for m in markers):
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError(f"closed while waiting for {markers}: {buf[-200:]!r}")
        buf += chunk
    return buf


async def xmpp_login(port: int, domain: str, mechanism: str, payload: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(stream_header(domain))
        await read_until(reader, b"</stream:features>")
        writer.write(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>".encode()
                     + base64.b64encode(payload) + b"</auth>")
        answer = await read_until(reader, b"<success", b"<failure")
        if b"<success" not in answer:
            raise SystemExit(f"login failed on {domain}: {answer[-300:]!r}")
        writer.write(stream_header(domain))
        await read_until(reader, b"</stream:features>")
        writer.write(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'/></iq>".encode())
        await read_until(reader, b"</iq>", b"/>")
        writer.write(b"</stream:stream>")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def login_rate(port: int, domain: str, mechanism: str, payloads: Iterator[bytes],
                     seconds: float) -> float:
    """Logins/s with XMPP_CLIENTS concurrent clients."""
    counter = 0
    start = time.perf_counter()
    until = start + seconds

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < until:
            payload = next(payloads, None)
            if payload is None:
                raise SystemExit("ran out of never-seen tokens: raise XMPP_MAX_RATE")
            await xmpp_login(port, domain, mechanism, payload)
            counter += 1

    await asyncio.gather(*(worker() for _ in range(XMPP_CLIENTS)))
    return counter / (time.perf_counter() - start)


async def part2(tmp: Path, tokens: list[str], rounds: int,
                seconds: float) -> dict[str, float | str]:
    if shutil.which("prosody") is None:
        return {"prosody": "not installed (apt-get install prosody prosody-modules)"}
    from tests.integration.servers import ProsodyHost, ProsodyServer

    sock = str(tmp / "prosody-sasl.sock")
    control_sock = str(tmp / "prosody-control.sock")
    procs = [start_service(tmp / "data", [sock], True),
             start_service(tmp / "data", [control_sock], False, CONTROL_DOMAIN)]
    prosody = ProsodyServer(
        tmp / "prosody", log_level="warn",
        hosts=[ProsodyHost(DOMAIN, auth="dovecot", dovecot_socket=sock),
               ProsodyHost(CONTROL_DOMAIN, auth="dovecot", dovecot_socket=control_sock),
               ProsodyHost(PLAIN_DOMAIN, auth="internal_plain")],
        users=[(f"alice@{PLAIN_DOMAIN}", "alice-pw")],
    )
    bearer = [f"n,,\x01auth=Bearer {t}\x01\x01".encode() for t in tokens]
    kinds = {
        "prosody_oauthbearer_via_service": (DOMAIN, "OAUTHBEARER", iter(bearer)),
        "prosody_oauthbearer_reused_tokens": (DOMAIN, "OAUTHBEARER",
                                              itertools.cycle(bearer[-100:])),
        # The control: Prosody's Dovecot client talking to the service stub that answers OK
        # without validating.  It measures what Prosody's synchronous Dovecot path costs by
        # itself, so the gap between it and the rows above is what validation adds.
        "prosody_oauthbearer_no_validation_control": (CONTROL_DOMAIN, "OAUTHBEARER",
                                                      itertools.cycle(bearer[-100:])),
        "prosody_internal_plain": (PLAIN_DOMAIN, "PLAIN",
                                   itertools.cycle([b"\0alice\0alice-pw"])),
    }
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        prosody.start()
        # A fresh Prosody logs in up to twice as fast as after a few thousand logins, with any
        # auth backend (measured here: 800/s falling to a plateau near 350-450/s within
        # ≈ 5 s); warm it up to the plateau, not measured, without spending cold tokens.
        for _ in range(WARMUP_PASSES):
            for name in ("prosody_oauthbearer_reused_tokens",
                         "prosody_oauthbearer_no_validation_control", "prosody_internal_plain"):
                domain, mech, source = kinds[name]
                await login_rate(prosody.c2s_port, domain, mech, source, WARMUP_SECONDS)
        for i in range(rounds):
            # What drift remains hits the kinds alike: every other round runs them in reverse.
            order = list(kinds.items()) if i % 2 == 0 else list(reversed(kinds.items()))
            for name, (domain, mech, source) in order:
                rates[name].append(await login_rate(prosody.c2s_port, domain, mech, source,
                                                    seconds))
    finally:
        prosody.stop()
        for proc in procs:
            stop_process(proc)
    results: dict[str, float | str] = {f"{k}_logins_per_s": median(v) for k, v in rates.items()}
    own = rates["prosody_internal_plain"]
    for name, label in (("prosody_oauthbearer_via_service", "prosody_login_ratio"),
                        ("prosody_oauthbearer_reused_tokens",
                         "prosody_login_ratio_reused_tokens"),
                        ("prosody_oauthbearer_no_validation_control",
                         "prosody_login_ratio_no_validation_control")):
        results[label] = median([x / y for x, y in zip(rates[name], own, strict=True)])
    # What validation costs Prosody logins: the service against the stub, same Dovecot path.
    results["prosody_login_ratio_vs_no_validation_control"] = median([
        x / y for x, y in zip(rates["prosody_oauthbearer_via_service"],
                              rates["prosody_oauthbearer_no_validation_control"], strict=True)])
    return results


async def main(quick: bool, alg: str) -> None:
    # Part 1 takes more, shorter rounds than part 2: its ratio is a median of per-round
    # ratios, and on shared cores single rounds swing by ±0.1.
    rounds, seconds, xmpp_rounds, xmpp_seconds = (4, 0.3, 2, 1.0) if quick else (8, 0.5, 4, 1.5)
    with tempfile.TemporaryDirectory(prefix="xmpp-oauth-bench-") as tmpdir:
        tmp = Path(tmpdir)
        # Enough distinct tokens that no cold run sees a token twice (and none runs dry).
        n_single = int(rounds * seconds * SINGLE_MAX_RATE)
        n_pipe = int(rounds * seconds * PIPELINED_MAX_RATE)
        n_xmpp = int((xmpp_rounds * xmpp_seconds + 1) * XMPP_MAX_RATE)
        tokens = await prepare(tmp / "data", n_single + n_pipe + REUSED + n_xmpp, alg)
        lines = auth_lines(tokens)
        print("load_generator: separate process (asyncio over a UNIX socket; raw XMPP over TCP)")
        print(f"signing_algorithm: {alg}")
        print(f"rounds: {rounds} x {seconds} s per kind (part 2: {xmpp_rounds} x {xmpp_seconds} s),"
              " alternating kinds")
        split = n_single + n_pipe + REUSED
        one = await part1(tmp, lines[:n_single], lines[n_single:n_single + n_pipe],
                          lines[n_single + n_pipe:split], rounds, seconds)
        for key, value in one.items():
            if not key.startswith("ratio"):
                print(f"{key}: {value:.3f}" if "ms" in key else f"{key}: {value:.0f}")
        two = await part2(tmp, tokens[split:], xmpp_rounds, xmpp_seconds)
        for key, item in two.items():
            print(f"{key}: {item:.2f}" if isinstance(item, float) else f"{key}: {item}")
        print(f"pipelined_ratio: {one['ratio_pipelined']:.2f}")
        print(f"single_reused_tokens_ratio: {one['ratio_single_reused']:.2f}")
        print(f"ratio={one['ratio_single']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 20 s)")
    parser.add_argument("--alg", default="EdDSA", choices=("EdDSA", "ES256", "RS256"),
                        help="signing algorithm of the tokens (default EdDSA)")
    parser.add_argument("--serve", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-validate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--domain", default=DOMAIN, help=argparse.SUPPRESS)
    parser.add_argument("sockets", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Path(args.serve), args.sockets, args.validate, args.domain))
    else:
        asyncio.run(main(args.quick, args.alg))
