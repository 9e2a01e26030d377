"""The ``xmpp`` account backend against a real Prosody with an internal account.

A private Prosody (own config, data, log and pidfile under a temp dir, a free loopback port,
STARTTLS with a throw-away certificate) is started for this module, following
``shared/servers/README.md``.  Right password accepted, wrong refused, server down, server
silent and untrusted certificate all give clean, typed errors.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import require_binary
from xmpp_oauth.accounts.xmpp import XmppAccounts
from xmpp_oauth.errors import InvalidCredentialsError, StoreError
from xmpp_oauth.settings import AccountSettings

pytestmark = pytest.mark.integration

PASSWORD = "correct horse: battery staple"


@dataclass(frozen=True)
class Prosody:
    port: int
    ca_file: Path
    base: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(base: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = base / "cert.pem", base / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _config(base: Path, port: int, cert: Path, key: Path) -> str:
    return f"""
run_as_root = true
pidfile = "{base}/prosody.pid"
data_path = "{base}/data"
certificates = "{base}/certs"
log = {{ info = "{base}/prosody.log" }}
modules_enabled = {{ "saslauth"; "tls"; "disco"; "ping"; "roster" }}
modules_disabled = {{ "s2s" }}
c2s_ports = {{ {port} }}; c2s_interfaces = {{ "127.0.0.1" }}; c2s_direct_tls_ports = {{}}
s2s_ports = {{}}; http_ports = {{}}; https_ports = {{}}; component_ports = {{}}
c2s_require_encryption = true
ssl = {{ certificate = "{cert}"; key = "{key}" }}
authentication = "internal_hashed"
VirtualHost "localhost"
"""


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    text = log.read_text() if log.exists() else "(no log)"
    raise RuntimeError(f"prosody did not listen on {port}:\n{text}")


@pytest.fixture(scope="module")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prosody]:
    binary = require_binary("prosody", "prosody")
    prosodyctl = require_binary("prosodyctl", "prosody")
    base = tmp_path_factory.mktemp("prosody")
    (base / "data").mkdir()
    (base / "certs").mkdir()
    cert, key = _self_signed(base)
    port = _free_port()
    cfg = base / "prosody.cfg.lua"
    cfg.write_text(_config(base, port, cert, key))
    subprocess.run([prosodyctl, "--config", str(cfg), "register", "alice", "localhost",
                    PASSWORD], check=True, capture_output=True, timeout=30)
    out = (base / "stdout.txt").open("wb")
    proc = subprocess.Popen([binary, "--config", str(cfg), "-F"], stdout=out,
                            stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, base / "prosody.log")
        yield Prosody(port=port, ca_file=cert, base=base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def _backend(port: int, ca_file: Path | None, timeout: float = 10.0) -> XmppAccounts:
    settings = AccountSettings(backend="xmpp", xmpp_host="127.0.0.1", xmpp_port=port,
                               xmpp_timeout=timeout,
                               xmpp_ca_file=str(ca_file) if ca_file else "")
    return XmppAccounts(settings, domains=("localhost",))


async def test_right_password_is_accepted(prosody: Prosody) -> None:
    await _backend(prosody.port, prosody.ca_file).authenticate("alice@localhost", PASSWORD)
    # Case of the local part does not matter (nodeprep), the password's does.
    await _backend(prosody.port, prosody.ca_file).authenticate("Alice@localhost", PASSWORD)


@pytest.mark.parametrize("jid,password", [
    ("alice@localhost", "wrong"),
    ("alice@localhost", PASSWORD.upper()),
    ("nobody@localhost", PASSWORD),
    ("alice@elsewhere.example", PASSWORD),  # not a domain we serve: never sent anywhere
    ("alice@localhost", ""),
])
async def test_wrong_credentials_are_refused(prosody: Prosody, jid: str, password: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        await _backend(prosody.port, prosody.ca_file).authenticate(jid, password)


async def test_untrusted_certificate_is_not_given_the_password(prosody: Prosody) -> None:
    with pytest.raises(StoreError) as err:
        await _backend(prosody.port, None).authenticate("alice@localhost", PASSWORD)
    assert str(err.value).startswith(f"xmpp 127.0.0.1:{prosody.port}: ")


async def test_server_down_is_a_clean_error() -> None:
    port = _free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        await _backend(port, None, timeout=5).authenticate("alice@localhost", PASSWORD)
    assert str(err.value).startswith(f"xmpp 127.0.0.1:{port}: cannot connect")
    assert time.monotonic() - started < 5


async def test_silent_server_times_out_cleanly() -> None:
    """A peer that accepts TCP and then says nothing: StoreError after xmpp_timeout."""
    accepted: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _r, w: accepted.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="no answer within 0.5 s") as err:
            await _backend(port, None, timeout=0.5).authenticate("alice@localhost", PASSWORD)
        assert str(err.value).startswith(f"xmpp 127.0.0.1:{port}: ")
        assert time.monotonic() - started < 3
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
