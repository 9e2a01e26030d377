"""HTTP throughput of the token endpoint (refresh_token grant) and introspection, each beside
a bare aiohttp handler that parses a form and returns a JSON body of the same size.

Server and load generator are separate processes on loopback: the real ``xmpp-oauth serve``
(SQLite store, EdDSA keys, logging at WARNING), a bare aiohttp server started from this file,
and ``wrk`` (Debian package ``wrk``) with Lua scripts as the load generator.

* refresh: every wrk connection owns a chain of refresh tokens; each response's new refresh
  token is used for the next request (rotation on every use, as real clients do).  One wrk
  thread per connection keeps each chain strictly sequential.
* introspection: a confidential client introspects a pool of valid access tokens; the pool
  fits the server's verified-token cache (the common case: a resource server asking about
  the tokens its clients use again and again).  A second run cycles through more tokens than
  the cache holds (and than one run asks for, each wrk thread starting an eighth of the
  list further on), so every request verifies a signature; it is printed for information.

Prints ``name: value`` lines and ends with ``ratio=<smaller of the two ratios>``.
Usage: ``python benchmarks/http.py [--duration SECONDS] [--connections N]``.
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib package ``http``: run as a script, its directory comes
# first on sys.path and would shadow ``http.client`` for everything imported below.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote_plus  # noqa: E402

JID = "bench@localhost"
SCOPES = ("xmpp:client:normal", "offline_access")
POOL = 1000  # introspection tokens (fit the 50 000-entry verified-token cache)
# More than the cache holds, and more than one run's requests: no token is seen twice.
UNCACHED_POOL = 60000

REFRESH_LUA = r"""
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    if i == id then token = line end
    i = i + 1
  end
  auth = args[2]
  errors = 0
end
function request()
  return wrk.format("POST", "/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  if status == 200 then
    token = string.match(body, '"refresh_token": *"([^"]+)"')
  else
    errors = errors + 1
  end
end
"""

POOL_LUA = r"""
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  auth = args[2]
  path = args[3]
  prefix = args[4]
  -- each thread starts an eighth of the list further on: no two threads share a token
  n = (id * math.floor(#tokens / 8)) % #tokens
end
function request()
  n = n % #tokens + 1
  return wrk.format("POST", path, {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded"},
    prefix .. tokens[n])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the bare handler -------------------------------------------------------------------------


def run_bare_server(port: int) -> None:
    """A bare aiohttp app: parse the form, return JSON padded to ``?size=`` bytes."""
    from aiohttp import web

    bodies: dict[int, bytes] = {}

    def body_of(size: int) -> bytes:
        if size not in bodies:
            base = {"access_token": "", "token_type": "Bearer", "expires_in": 3600}
            pad = size - len(json.dumps(base).encode())
            base["access_token"] = "x" * max(0, pad)
            bodies[size] = json.dumps(base).encode()
        return bodies[size]

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        if "grant_type" not in form and "token" not in form:
            return web.json_response({"error": "invalid_request"}, status=400)
        size = int(request.query.get("size", "500"))
        return web.Response(body=body_of(size), content_type="application/json")

    app = web.Application()
    app.router.add_post("/bare", handler)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- seeding ----------------------------------------------------------------------------------


async def seed(config: Path, workdir: Path, chains: int) -> dict[str, Any]:
    """Register a client, create a grant, refresh-token chains and access-token pools."""
    from xmpp_oauth.oauth.registration import validate_metadata
    from xmpp_oauth.runtime import open_runtime
    from xmpp_oauth.settings import Settings
    from xmpp_oauth.store.base import Grant, RefreshToken
    from xmpp_oauth.tokens.secrets import hash_secret, new_secret

    settings = Settings.from_toml(config)
    async with open_runtime(settings) as rt:
        now = rt.clock.now()
        metadata = validate_metadata({
            "client_name": "bench", "redirect_uris": ["http://127.0.0.1/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
        }, settings)
        client_id, secret = rt.clients.issue(metadata, now=now)
        grant = Grant(grant_id=new_secret(16), jid=JID, client_id=client_id,
                      client_name="bench", scopes=SCOPES, created_at=now, last_used_at=now,
                      auth_time=now)
        await rt.store.create_grant(grant)
        refresh = []
        for _ in range(chains):
            token = new_secret()
            await rt.store.add_refresh_token(RefreshToken(
                token_hash=hash_secret(token), grant_id=grant.grant_id, client_id=client_id,
                scopes=SCOPES, created_at=now, expires_at=now + 86400))
            refresh.append(token)

        def issue(n: int) -> list[str]:
            return [rt.tokens.issue_access_token(
                subject=JID, client_id=client_id, scopes=SCOPES, grant_id=grant.grant_id,
                audience=("xmpp:localhost",), auth_time=now, ttl=86400, now=now).token
                for _ in range(n)]

        pool, uncached = issue(POOL), issue(UNCACHED_POOL)
    (workdir / "refresh.txt").write_text("\n".join(refresh) + "\n")
    (workdir / "pool.txt").write_text("\n".join(pool) + "\n")
    (workdir / "uncached.txt").write_text("\n".join(uncached) + "\n")
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"auth": "Basic " + base64.b64encode(raw).decode(), "pool": pool}


# -- processes --------------------------------------------------------------------------------


def start(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening on "):
            return proc, line.split()[2]
        if not line:
            break
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wrk(url: str, script: Path, args: list[str], *, duration: float, connections: int) -> float:
    cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{max(1, round(duration))}s",
           "--latency",
           "-s", str(script), url, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{bad.group(0)} from {url}\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    return float(match.group(1))


def probe_size(base: str, path: str, auth: str, body: str) -> int:
    import urllib.request

    req = urllib.request.Request(base + path, data=body.encode(), method="POST", headers={
        "Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        return len(resp.read())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        run_bare_server(args.bare_server)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="xmpp-oauth-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        config = workdir / "bench.toml"
        config.write_text(f'data_dir = "{workdir / "data"}"\nlog_level = "WARNING"\n'
                          f"[http]\nport = {port}\n")
        seeded = asyncio.run(seed(config, workdir, args.connections))
        env = {k: v for k, v in os.environ.items() if not k.startswith("XMPP_OAUTH_")}
        server, base = start([sys.executable, "-m", "xmpp_oauth", "--config", str(config),
                              "serve"], env=env)
        bare, bare_base = start([sys.executable, __file__, "--bare-server", str(free_port())])
        try:
            refresh_lua = workdir / "refresh.lua"
            refresh_lua.write_text(REFRESH_LUA)
            pool_lua = workdir / "pool.lua"
            pool_lua.write_text(POOL_LUA)
            auth = seeded["auth"]
            introspect_size = probe_size(base, "/introspect", auth,
                                         "token=" + seeded["pool"][0])
            run = {"duration": args.duration, "connections": args.connections}
            refresh_rps = wrk(base, refresh_lua, [str(workdir / "refresh.txt"), auth], **run)
            # the size of a refresh response, measured on the rotated chain's last answer
            refresh_size = len(json.dumps({
                "access_token": seeded["pool"][0], "token_type": "Bearer", "expires_in": 3600,
                "scope": " ".join(SCOPES), "refresh_token": "r" * 43}))
            introspect_rps = wrk(base, pool_lua, [str(workdir / "pool.txt"), auth,
                                                  "/introspect", "token="], **run)
            uncached_rps = wrk(base, pool_lua, [str(workdir / "uncached.txt"), auth,
                                                "/introspect", "token="], **run)
            bare_refresh = wrk(bare_base, pool_lua, [
                str(workdir / "refresh.txt"), auth, f"/bare?size={refresh_size}",
                "grant_type=refresh_token&refresh_token="], **run)
            bare_introspect = wrk(bare_base, pool_lua, [
                str(workdir / "pool.txt"), auth, f"/bare?size={introspect_size}", "token="],
                **run)
        finally:
            stop(server)
            stop(bare)
    r_ratio = refresh_rps / bare_refresh
    i_ratio = introspect_rps / bare_introspect
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[:2]
    print(f"load_generator: {' '.join(version)} (separate process), "
          f"{args.connections} connections, {args.duration:g} s per run, loopback")
    print(f"server: xmpp-oauth serve, 1 process, SQLite, EdDSA, cpus={os.cpu_count()}")
    print(f"refresh_token_rps: {refresh_rps:.0f}")
    print(f"bare_handler_rps_refresh_size: {bare_refresh:.0f}  (response {refresh_size} B)")
    print(f"introspection_rps: {introspect_rps:.0f}  (pool of {POOL} tokens, cache warm)")
    print(f"introspection_uncached_rps: {uncached_rps:.0f}  (pool of {UNCACHED_POOL} tokens, "
          "every request verifies a signature)")
    print(f"bare_handler_rps_introspection_size: {bare_introspect:.0f}  "
          f"(response {introspect_size} B)")
    print(f"refresh_ratio: {r_ratio:.2f}  (target >= 0.4)")
    print(f"introspection_ratio: {i_ratio:.2f}  (target >= 0.6)")
    print(f"introspection_uncached_ratio: {uncached_rps / bare_introspect:.2f}")
    print(f"ratio={min(r_ratio, i_ratio):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
