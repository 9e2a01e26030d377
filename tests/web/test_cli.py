"""The real CLI as a new user runs it: ``serve`` with no config, ``init``, ``client``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xmpp_oauth", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XMPP_OAUTH_")}
    env.update(extra)
    return env


class Server:
    def __init__(self, proc: subprocess.Popen[str], base: str) -> None:
        self.proc = proc
        self.base = base


@contextlib.contextmanager
def running(*args: str, cwd: Path, env: dict[str, str]) -> Iterator[Server]:
    """Start ``xmpp-oauth ARGS``; wait for its ``listening on`` line; stop it afterwards."""
    log = (cwd / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "xmpp_oauth", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("listening on ") or not line:
                break
        if not line.startswith("listening on "):
            proc.kill()
            proc.wait()
            pytest.fail(f"server did not start: {line!r}\n{(cwd / 'server.log').read_text()}")
        yield Server(proc, line.split()[2])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        log.close()


def probe(base: str) -> None:
    """Discovery, the login page and the token endpoint all answer."""
    meta = requests.get(base + "/.well-known/openid-configuration", timeout=10)
    assert meta.status_code == 200
    assert meta.json()["issuer"] == base
    assert meta.json()["token_endpoint"] == base + "/token"
    login = requests.get(base + "/login", timeout=10)
    assert login.status_code == 200 and "<form" in login.text
    assert login.headers["X-Frame-Options"] == "DENY"
    token = requests.post(base + "/token", data={"grant_type": "authorization_code"},
                          timeout=10)
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"


def test_serve_without_config_on_a_fresh_directory(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(XMPP_OAUTH_HTTP__PORT=str(port))
    with running("serve", cwd=tmp_path, env=env) as server:
        assert server.base == f"http://127.0.0.1:{port}"
        probe(server.base)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=15) == 0  # graceful shutdown
    assert (tmp_path / "xmpp-oauth-data").is_dir()


def test_serve_on_a_busy_port_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--no-sasl", cwd=tmp_path,
                   env=clean_env(XMPP_OAUTH_HTTP__PORT=str(port)))
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "http.port" in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_init_then_serve_and_clients(tmp_path: Path) -> None:
    target = tmp_path / "deploy"
    env = clean_env()
    done = cli("init", str(target), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    config = target / "xmpp-oauth.toml"
    assert config.exists()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "domains" in config.read_text() and "# " in config.read_text()
    assert cli("init", str(target), cwd=tmp_path, env=env).returncode == 1  # no overwrite

    added = cli("--config", str(config), "client", "add", "--name", "Admin App",
                "--client-uri", "https://app.example", "--redirect-uri",
                "https://app.example/cb", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    values = dict(line.split(": ", 1) for line in added.stdout.splitlines())
    client_id, secret = values["client_id"], values["client_secret"].split()[0]
    assert "." not in client_id
    listed = cli("--config", str(config), "client", "list", cwd=tmp_path, env=env)
    assert client_id in listed.stdout and "Admin App" in listed.stdout
    bad = cli("--config", str(config), "client", "add", "--name", "Bad", "--redirect-uri",
              "http://evil.example/cb", cwd=tmp_path, env=env)
    assert bad.returncode == 1

    port = free_port()
    with running("serve", "--config", str(config), cwd=tmp_path,
                 env=clean_env(XMPP_OAUTH_HTTP__PORT=str(port))) as server:
        probe(server.base)
        # the admin client authenticates at the token endpoint (and fails only on the grant)
        r = requests.post(server.base + "/token", auth=(client_id, secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": "x",
                                "redirect_uri": "https://app.example/cb",
                                "code_verifier": "y" * 43})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        revoked = cli("--config", str(config), "client", "revoke", client_id, cwd=tmp_path,
                      env=env)
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(1.1)  # the server's client cache lives one second
        r = requests.post(server.base + "/token", auth=(client_id, secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": "x"})
        assert r.status_code == 401
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=15) == 0
    assert client_id not in cli("--config", str(config), "client", "list", cwd=tmp_path,
                                env=env).stdout
