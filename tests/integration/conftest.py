"""Fixtures for real XMPP servers (see ``servers.py`` for the helpers and their options).

* ``tls_files``: a self-signed certificate for localhost, second.localhost, jwt.localhost,
  ext.localhost and oauth.localhost (session-wide; ``.ca_file`` for clients).
* ``prosody_factory(**kwargs) -> ProsodyServer``: builds, starts and (at teardown) stops a private
  Prosody; kwargs are ``ProsodyServer``'s (hosts, tls, components, users, modules, ...).
  Skips (or fails in CI) when Prosody is not installed.
* ``ejabberd_factory(**kwargs) -> EjabberdServer``: the same for ejabberd.
* ``prosody``: a ready Prosody with host ``localhost`` (internal_hashed, STARTTLS),
  user ``alice@localhost`` / ``alice-password`` and component ``oauth.localhost`` / ``secret``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import require

from .servers import (
    EjabberdServer,
    ProsodyHost,
    ProsodyServer,
    TlsFiles,
    ejabberd_available,
    make_tls_files,
    prosody_available,
)

TEST_HOSTNAMES = (
    "localhost", "second.localhost", "jwt.localhost", "ext.localhost", "oauth.localhost",
)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), TEST_HOSTNAMES)


@pytest.fixture
def prosody_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ProsodyServer]]:
    require(prosody_available(), "Prosody not installed (apt-get install prosody prosody-modules "
                                 "lua-sec lua-socket)")
    started: list[ProsodyServer] = []

    def make(*, start: bool = True, **kwargs: Any) -> ProsodyServer:
        server = ProsodyServer(tmp_path_factory.mktemp("prosody"), **kwargs)
        started.append(server)
        if start:
            server.start()
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def ejabberd_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., EjabberdServer]]:
    require(ejabberd_available(), "ejabberd not installed (apt-get install ejabberd "
                                  "erlang-p1-oauth2)")
    started: list[EjabberdServer] = []

    def make(*, start: bool = True, **kwargs: Any) -> EjabberdServer:
        server = EjabberdServer(tmp_path_factory.mktemp("ejabberd"), **kwargs)
        started.append(server)
        if start:
            server.start()
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def prosody(prosody_factory: Callable[..., ProsodyServer], tls_files: TlsFiles) -> ProsodyServer:
    return prosody_factory(
        hosts=[ProsodyHost("localhost")],
        tls=tls_files,
        components={"oauth.localhost": "secret"},
        users=[("alice@localhost", "alice-password")],
    )
