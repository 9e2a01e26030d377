"""Private, throw-away Prosody and ejabberd instances for integration tests.

Each instance gets its own config, data, log and pid files under a directory the caller owns
(normally a pytest tmp dir) and listens only on free loopback ports.  What these helpers rely on
was observed on Debian 12 with Prosody 0.12.3 and ejabberd 23.01 (``shared/servers/README.md``):

* Prosody does not exit when a port is busy, it logs ``Failed to open server port`` and hangs:
  readiness is "the c2s port accepts a connection", and the log is checked for that message.
* ejabberd is started as a plain ``erl`` process (no distribution, no epmd, no cookie).
* Both stop cleanly on SIGTERM; whatever is left of the process group is killed afterwards.

Typical use (see ``conftest.py`` for the fixtures)::

    tls = make_tls_files(tmp_path / "tls", ["localhost", "second.localhost"])
    server = ProsodyServer(tmp_path / "prosody",
                           hosts=[ProsodyHost("localhost", auth="dovecot",
                                              dovecot_socket=str(sock))],
                           tls=tls, users=[("alice@localhost", "pw")])
    server.start()
    ... server.c2s_port, server.component_port, tls.ca_file ...
    server.restart(); server.stop()

``xmpp_login()`` logs one slixmpp client in with one SASL mechanism and reports what happened
(success and bound JID, or the failure condition, plus every SASL challenge seen).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PROSODY_DOVECOT_PLUGIN_PATH = "/usr/lib/prosody/modules/mod_auth_dovecot/auth_dovecot"
EJABBERD_ERL_LIBS = "/usr/lib/x86_64-linux-gnu"


# -- small utilities -------------------------------------------------------------------------


def free_ports(n: int = 1) -> list[int]:
    """``n`` distinct free loopback TCP ports (sockets held open together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def prosody_available() -> bool:
    return shutil.which("prosody") is not None and Path(PROSODY_DOVECOT_PLUGIN_PATH).is_dir()


def ejabberd_available() -> bool:
    return shutil.which("erl") is not None and any(
        Path(EJABBERD_ERL_LIBS).glob("ejabberd-*")
    )


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate: ``cert`` doubles as the CA file for clients."""

    cert: Path
    key: Path
    combined: Path  # key + cert in one PEM (ejabberd's certfiles)

    @property
    def ca_file(self) -> Path:
        return self.cert


def make_tls_files(directory: Path, hostnames: Sequence[str]) -> TlsFiles:
    """A P-256 self-signed certificate whose SANs are ``hostnames`` (+ localhost, 127.0.0.1)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys([*hostnames, "localhost"]))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    files = TlsFiles(directory / "cert.pem", directory / "key.pem", directory / "combined.pem")
    files.cert.write_bytes(cert_pem)
    files.key.write_bytes(key_pem)
    files.combined.write_bytes(key_pem + cert_pem)
    for path in (files.cert, files.key, files.combined):
        path.chmod(0o644)  # servers may run as their own user in some setups
    return files


def _lua_str(value: str) -> str:
    """A Lua string literal (decimal escapes for anything unusual)."""
    out = []
    for ch in value:
        if ch.isalnum() or ch in " -_.:/@+=,;()[]{}!?#$%&*~^|<>'`":
            out.append(ch)
        else:
            out.extend(f"\\{b}" for b in ch.encode())
    return '"' + "".join(out) + '"'


def _prosody_encode(part: str) -> str:
    # util/datamanager.lua: every non-alphanumeric byte becomes %xx.
    return "".join(
        chr(b) if chr(b).isascii() and chr(b).isalnum() else f"%{b:02x}" for b in part.encode()
    )


class ServerError(RuntimeError):
    """The server could not be started (message includes the log tail)."""


class _Process:
    """A server process in its own process group, with an output file."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], out: Path) -> None:
        with out.open("ab") as fh:
            self.proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env), stdout=fh, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever the server left behind in its group (helpers, extauth programs).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _wait_ready(
    ports: Iterable[int],
    process: _Process,
    log: Path,
    *,
    timeout: float,
    bad_markers: Sequence[str] = (),
    what: str,
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        for marker in bad_markers:
            if marker in text:
                raise ServerError(f"{what}: {marker!r} in log:\n{text[-4000:]}")
        if not process.alive:
            raise ServerError(f"{what} exited early; log:\n{text[-4000:]}")
        pending = [p for p in pending if not port_open(p)]
        if not pending:
            return
        time.sleep(0.05)
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    raise ServerError(f"{what} not listening on {pending} after {timeout} s; log:\n{text[-4000:]}")


# -- Prosody ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProsodyHost:
    """One VirtualHost.  ``auth``: ``internal_hashed`` | ``internal_plain`` | ``dovecot``.

    For ``dovecot`` give ``dovecot_socket`` (UNIX socket path) or ``dovecot_port`` (TCP on
    loopback).  ``options`` are extra host options, values written as Lua (str, int, bool).
    """

    domain: str
    auth: str = "internal_hashed"
    dovecot_socket: str = ""
    dovecot_port: int = 0
    options: Mapping[str, str | int | bool] = field(default_factory=dict)


def _lua_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _lua_str(value)


class ProsodyServer:
    """A private Prosody 0.12 (``prosody -F``) on free loopback ports."""

    def __init__(
        self,
        base: Path,
        *,
        hosts: Sequence[ProsodyHost] = (ProsodyHost("localhost"),),
        tls: TlsFiles | None = None,
        components: Mapping[str, str] | None = None,
        users: Iterable[tuple[str, str]] = (),
        modules: Sequence[str] = (),
        log_level: str = "debug",
        extra_config: str = "",
    ) -> None:
        self.base = base
        self.hosts = tuple(hosts)
        self.tls = tls
        self.components = dict(components or {})
        self.modules = tuple(modules)
        self.log_level = log_level
        self.extra_config = extra_config
        self.c2s_port, self.component_port = free_ports(2)
        self.config_file = base / "prosody.cfg.lua"
        self.log_file = base / "prosody.log"
        self.data_dir = base / "data"
        self._process = _Process()
        self._users = list(users)
        for sub in ("data", "certs"):
            (base / sub).mkdir(parents=True, exist_ok=True)

    @property
    def ca_file(self) -> Path | None:
        return self.tls.ca_file if self.tls else None

    @property
    def running(self) -> bool:
        return self._process.alive

    def config_text(self) -> str:
        modules = ["saslauth", "roster", "disco", "ping", "tls", *self.modules]
        lines = [
            "run_as_root = true",
            f"pidfile = {_lua_str(str(self.base / 'prosody.pid'))}",
            f"data_path = {_lua_str(str(self.data_dir))}",
            f"certificates = {_lua_str(str(self.base / 'certs'))}",
            f"log = {{ {self.log_level} = {_lua_str(str(self.log_file))} }}",
            "modules_enabled = { " + "; ".join(_lua_str(m) for m in modules) + " }",
            'modules_disabled = { "s2s" }',
            f"c2s_ports = {{ {self.c2s_port} }}",
            'c2s_interfaces = { "127.0.0.1" }',
            "c2s_direct_tls_ports = {}",
            "s2s_ports = {}; http_ports = {}; https_ports = {}",
            f"component_ports = {{ {self.component_port} }}",
            'component_interfaces = { "127.0.0.1" }',
            "c2s_require_encryption = " + ("true" if self.tls else "false"),
            "allow_unencrypted_plain_auth = " + ("false" if self.tls else "true"),
        ]
        if self.tls:
            lines.append(
                f"ssl = {{ certificate = {_lua_str(str(self.tls.cert))}; "
                f"key = {_lua_str(str(self.tls.key))} }}"
            )
        if any(h.auth == "dovecot" for h in self.hosts):
            lines.append(f"plugin_paths = {{ {_lua_str(PROSODY_DOVECOT_PLUGIN_PATH)} }}")
        if self.extra_config:
            lines.append(self.extra_config)
        for host in self.hosts:
            lines.append(f"VirtualHost {_lua_str(host.domain)}")
            lines.append(f"  authentication = {_lua_str(host.auth)}")
            if host.auth == "dovecot":
                if host.dovecot_port:
                    lines.append('  dovecot_auth_host = "127.0.0.1"')
                    # mod_auth_dovecot reads the port with get_option_string: a string.
                    lines.append(f'  dovecot_auth_port = "{host.dovecot_port}"')
                else:
                    lines.append(f"  dovecot_auth_socket = {_lua_str(host.dovecot_socket)}")
                lines.append('  handle_appended = "split"')
                lines.append("  validate_append_host = true")
            for key, value in host.options.items():
                lines.append(f"  {key} = {_lua_value(value)}")
        for jid, secret in self.components.items():
            lines.append(f"Component {_lua_str(jid)}")
            lines.append(f"  component_secret = {_lua_str(secret)}")
        return "\n".join(lines) + "\n"

    def add_user(self, jid: str, password: str) -> None:
        """Create (or overwrite) an internal account; works while running too.

        Written as a plaintext account file: ``internal_plain`` uses it as is and
        ``internal_hashed`` upgrades it to SCRAM hashes on first use.
        """
        user, _, domain = jid.partition("@")
        accounts = self.data_dir / _prosody_encode(domain) / "accounts"
        accounts.mkdir(parents=True, exist_ok=True)
        path = accounts / f"{_prosody_encode(user.lower())}.dat"
        path.write_text(f'return {{\n\t["password"] = {_lua_str(password)};\n}};\n')

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        binary = shutil.which("prosody")
        if binary is None:
            raise ServerError("prosody is not installed")
        for jid, password in self._users:
            self.add_user(jid, password)
        self._users.clear()
        self.config_file.write_text(self.config_text())
        start_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._process.spawn(
            [binary, "--config", str(self.config_file), "-F"],
            cwd=self.base,
            env={**os.environ, "PROSODY_CONFIG": str(self.config_file)},
            out=self.base / "stdout.txt",
        )
        try:
            ports = [self.c2s_port] + ([self.component_port] if self.components else [])
            _wait_ready(
                ports, self._process, self.log_file, timeout=timeout, what="prosody",
                bad_markers=("Failed to open server port",),
            )
            _ = start_offset
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._process.terminate()

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> ProsodyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- ejabberd --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EjabberdHost:
    """One ejabberd host.  ``auth``: ``internal`` | ``jwt`` | ``external``.

    ``jwt``: ``jwt_key`` is the JWK file (exactly one key); tokens carry ``jid``.
    ``external``: ``extauth_program`` is the command line ejabberd runs (as its own user).
    """

    domain: str
    auth: str = "internal"
    jwt_key: str = ""
    jwt_jid_field: str = "jid"
    extauth_program: str = ""


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EjabberdServer:
    """A private ejabberd 23.01 started as a bare ``erl`` node on free loopback ports."""

    def __init__(
        self,
        base: Path,
        *,
        hosts: Sequence[EjabberdHost] = (EjabberdHost("localhost"),),
        tls: TlsFiles | None = None,
        components: Mapping[str, str] | None = None,
        log_level: str = "info",
        run_as: str | None = None,
    ) -> None:
        self.base = base
        self.hosts = tuple(hosts)
        self.tls = tls
        self.components = dict(components or {})
        self.log_level = log_level
        self.run_as = run_as
        self.c2s_port, self.component_port = free_ports(2)
        self.config_file = base / "ejabberd.yml"
        self.spool = base / "spool"
        self.log_dir = base / "logs"
        self.log_file = self.log_dir / "ejabberd.log"
        self._process = _Process()
        for d in (self.spool, self.log_dir, base / "run"):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def ca_file(self) -> Path | None:
        return self.tls.ca_file if self.tls else None

    @property
    def running(self) -> bool:
        return self._process.alive

    def config_text(self) -> str:
        lines = [
            "hosts:",
            *[f"  - {_yaml_str(h.domain)}" for h in self.hosts],
            f"loglevel: {self.log_level}",
            "hide_sensitive_log_data: true",
        ]
        if self.tls:
            lines += ["certfiles:", f"  - {_yaml_str(str(self.tls.combined))}"]
        lines += [
            "listen:",
            f"  - port: {self.c2s_port}",
            '    ip: "127.0.0.1"',
            "    module: ejabberd_c2s",
            "    max_stanza_size: 262144",
            "    shaper: none",
            f"    starttls_required: {'true' if self.tls else 'false'}",
        ]
        if self.components:
            lines += [
                f"  - port: {self.component_port}",
                '    ip: "127.0.0.1"',
                "    module: ejabberd_service",
                "    hosts:",
            ]
            for jid, secret in self.components.items():
                lines += [f"      {_yaml_str(jid)}:", f"        password: {_yaml_str(secret)}"]
        lines += [
            "auth_method: [internal]",
            "acl:",
            "  local:",
            "    user_regexp: \"\"",
            "access_rules:",
            "  local:",
            "    allow: local",
            "  c2s:",
            "    allow: all",
            "shaper_rules:",
            "  c2s_shaper: none",
            "modules:",
            "  mod_disco: {}",
            "  mod_ping: {}",
            "  mod_roster: {}",
            "host_config:",
        ]
        for h in self.hosts:
            lines.append(f"  {_yaml_str(h.domain)}:")
            if h.auth == "jwt":
                lines += [
                    "    auth_method: [jwt]",
                    f"    jwt_key: {_yaml_str(h.jwt_key)}",
                    f"    jwt_jid_field: {_yaml_str(h.jwt_jid_field)}",
                ]
            elif h.auth == "external":
                lines += [
                    "    auth_method: [external]",
                    f"    extauth_program: {_yaml_str(h.extauth_program)}",
                    "    extauth_pool_size: 1",
                    "    auth_use_cache: false",
                ]
            else:
                lines.append("    auth_method: [internal]")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        erl = shutil.which("erl")
        if erl is None:
            raise ServerError("erl (ejabberd) is not installed")
        self.config_file.write_text(self.config_text())
        env = {
            **os.environ,
            "HOME": str(self.spool),
            "EJABBERD_CONFIG_PATH": str(self.config_file),
            "EJABBERD_LOG_PATH": str(self.log_file),
            "EJABBERD_PID_PATH": str(self.base / "run" / "ejabberd.pid"),
            "ERL_LIBS": EJABBERD_ERL_LIBS,
            "ERL_CRASH_DUMP_BYTES": "0",
        }
        argv = [erl, "-noinput", "-noshell", "+K", "true",
                "-mnesia", "dir", f'"{self.spool}"', "-s", "ejabberd"]
        if self.run_as:
            shutil.chown(self.base, self.run_as)
            for path in self.base.rglob("*"):
                shutil.chown(path, self.run_as)
            argv = ["runuser", "-u", self.run_as, "--", "env",
                    *[f"{k}={v}" for k, v in env.items() if k.startswith(("EJ", "ERL", "HOME"))],
                    *argv]
        self._process.spawn(argv, cwd=self.spool, env=env, out=self.base / "stdout.txt")
        try:
            ports = [self.c2s_port] + ([self.component_port] if self.components else [])
            _wait_ready(ports, self._process, self.log_file, timeout=timeout, what="ejabberd")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._process.terminate()

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> EjabberdServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- our own processes -----------------------------------------------------------------------


def unix_socket_open(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(path)
            return True
    except OSError:
        return False


class XmppOAuthProcess:
    """``python -m xmpp_oauth -c CONFIG <args>`` as a subprocess (``sasl``, ``serve``, ...).

    Ready when every UNIX socket in ``sockets`` and every TCP port in ``ports`` accepts.
    """

    def __init__(self, config: Path, args: Sequence[str], *, sockets: Sequence[str] = (),
                 ports: Sequence[int] = (), log_file: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        import sys

        self.argv = [sys.executable, "-m", "xmpp_oauth", "-c", str(config), *args]
        self.sockets = tuple(sockets)
        self.ports = tuple(ports)
        self.log_file = log_file or config.with_suffix(f".{args[0]}.log")
        self.env = {**os.environ, **(env or {})}
        self._process = _Process()

    @property
    def running(self) -> bool:
        return self._process.alive

    def start(self, timeout: float = 20.0) -> None:
        self._process.spawn(self.argv, cwd=self.log_file.parent, env=self.env, out=self.log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.alive:
                raise ServerError(f"{self.argv} exited early:\n{self.log_text()[-4000:]}")
            if all(unix_socket_open(p) for p in self.sockets) and all(
                port_open(p) for p in self.ports
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.argv} not ready after {timeout} s:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        self._process.terminate()

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


# -- a slixmpp client login ------------------------------------------------------------------


@dataclass
class LoginResult:
    """What one login attempt produced."""

    success: bool
    jid: str = ""  # the full JID the server bound (success only)
    condition: str = ""  # RFC 6120 §6.5 condition (failure only)
    text: str = ""
    challenges: list[bytes] = field(default_factory=list)
    error: str = ""  # connection-level trouble (timeout, TLS, disconnect)

    @property
    def bare_jid(self) -> str:
        return self.jid.split("/", 1)[0]


async def xmpp_login(
    jid: str,
    *,
    port: int,
    mechanism: str,
    password: str | None = None,
    access_token: str | None = None,
    authzid: str | None = None,
    ca_file: Path | str | None = None,
    host: str = "127.0.0.1",
    timeout: float = 15.0,
    setup: Callable[[Any], None] | None = None,
) -> LoginResult:
    """Log in once with exactly ``mechanism`` and disconnect.

    OAUTHBEARER uses the project's mechanism (``register_slixmpp_mechanism``); the token is
    ``access_token`` (may be ``""`` to ask for the discovery challenge).  With ``ca_file`` the
    client does STARTTLS and trusts only that certificate; without, it stays in plaintext.
    """
    import slixmpp

    if mechanism == "OAUTHBEARER":
        from xmpp_oauth.sasl.slixmpp_mech import register_slixmpp_mechanism

    client = slixmpp.ClientXMPP(jid, password or "", sasl_mech=mechanism)
    if mechanism == "OAUTHBEARER":
        register_slixmpp_mechanism(client)
    client.enable_direct_tls = False
    if ca_file:
        client.ca_certs = Path(ca_file)
    else:
        client.enable_starttls = False
        client.enable_plaintext = True
    if not ca_file:
        client.plugin["feature_mechanisms"].config["unencrypted_plain"] = True
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.plugin["feature_mechanisms"].config["unencrypted_oauthbearer"] = True
    if access_token is not None:
        client.credentials["access_token"] = access_token
    if authzid is not None:
        client.credentials["authzid"] = authzid
    if setup is not None:
        setup(client)

    result = LoginResult(success=False)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def finish(**values: Any) -> None:
        if done.done():
            return
        for key, value in values.items():
            setattr(result, key, value)
        done.set_result(None)

    def seen(stanza: Any) -> Any:
        if getattr(stanza, "name", "") == "challenge":
            with contextlib.suppress(Exception):
                result.challenges.append(bytes(stanza["value"]))
        return stanza

    client.add_filter("in", seen)
    client.add_event_handler("session_bind", lambda j: finish(success=True, jid=str(j)))

    def failed(stanza: Any) -> None:
        finish(success=False, condition=str(stanza["condition"]), text=str(stanza["text"]))

    client.add_event_handler("failed_auth", failed)
    client.add_event_handler("failed_all_auth", lambda _e: finish(error="failed_all_auth"))
    client.add_event_handler("connection_failed", lambda e: finish(error=f"connection: {e}"))
    client.add_event_handler("disconnected", lambda _e: finish(error="disconnected"))
    client.connect(host, port)
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        result.error = "timeout"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(wait=0.5), 3)
        client.abort()
    return result


__all__ = [
    "EjabberdHost",
    "EjabberdServer",
    "LoginResult",
    "ProsodyHost",
    "ProsodyServer",
    "ServerError",
    "TlsFiles",
    "XmppOAuthProcess",
    "ejabberd_available",
    "free_port",
    "free_ports",
    "make_tls_files",
    "port_open",
    "prosody_available",
    "unix_socket_open",
    "xmpp_login",
]
