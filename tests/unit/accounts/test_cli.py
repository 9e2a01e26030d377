"""``xmpp-oauth user ...`` end to end through the real CLI entry point and a SQLite store."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from xmpp_oauth.accounts.local import LocalAccounts
from xmpp_oauth.cli import main
from xmpp_oauth.clock import SystemClock
from xmpp_oauth.errors import AccountDisabledError, InvalidCredentialsError
from xmpp_oauth.store import open_store


@pytest.fixture
def config(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "xmpp-oauth.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    yield str(path)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _login(config_dir: Path, jid: str, password: str) -> str:
    async def check() -> str:
        url = f"sqlite:///{config_dir / 'data' / 'xmpp-oauth.sqlite3'}"
        async with open_store(url) as store:
            try:
                await LocalAccounts(store, clock=SystemClock()).authenticate(jid, password)
            except InvalidCredentialsError:
                return "invalid"
            except AccountDisabledError:
                return "disabled"
            return "ok"

    return asyncio.run(check())


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_user_lifecycle(config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, "first pass\nignored second line\n")
    assert main(["-c", config, "user", "add", "Alice@localhost", "--password-stdin"]) == 0
    assert "created alice@localhost" in capsys.readouterr().out
    assert _login(tmp_path, "alice@localhost", "first pass") == "ok"

    _stdin(monkeypatch, "x\n")
    assert main(["-c", config, "user", "add", "alice@localhost", "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err

    # Interactive: asked twice.
    answers = iter(["second pass", "second pass"])
    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["-c", config, "user", "passwd", "alice@localhost"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert _login(tmp_path, "alice@localhost", "first pass") == "invalid"
    assert _login(tmp_path, "alice@localhost", "second pass") == "ok"

    assert main(["-c", config, "user", "disable", "alice@localhost"]) == 0
    assert _login(tmp_path, "alice@localhost", "second pass") == "disabled"
    assert main(["-c", config, "user", "list"]) == 0
    assert "alice@localhost\tdisabled" in capsys.readouterr().out
    assert main(["-c", config, "user", "enable", "alice@localhost"]) == 0
    assert _login(tmp_path, "alice@localhost", "second pass") == "ok"
    assert main(["-c", config, "user", "delete", "alice@localhost"]) == 0
    capsys.readouterr()
    assert main(["-c", config, "user", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_mismatched_prompt_answers(config: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["-c", config, "user", "add", "bob@localhost"]) == 1
    assert "do not match" in capsys.readouterr().err


def test_no_terminal_and_no_stdin_flag(config: str, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, "secret\n")
    assert main(["-c", config, "user", "add", "bob@localhost"]) == 1
    assert "--password-stdin" in capsys.readouterr().err


def test_password_is_never_an_argument(config: str) -> None:
    with pytest.raises(SystemExit):
        main(["-c", config, "user", "add", "bob@localhost", "--password", "secret"])
    with pytest.raises(SystemExit):
        main(["-c", config, "user", "add", "bob@localhost", "secret"])


def test_unknown_account_and_bad_input(config: str, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", config, "user", "disable", "ghost@localhost"]) == 1
    assert "no account ghost@localhost" in capsys.readouterr().err
    _stdin(monkeypatch, "pw\n")
    assert main(["-c", config, "user", "add", "eve@elsewhere.example", "--password-stdin"]) == 1
    assert "not a domain served here" in capsys.readouterr().err
    _stdin(monkeypatch, "\n")
    assert main(["-c", config, "user", "add", "eve@localhost", "--password-stdin"]) == 1
    assert "empty" in capsys.readouterr().err


def test_xmpp_backend_has_no_local_accounts(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n[accounts]\nbackend = "xmpp"\n')
    assert main(["-c", str(path), "user", "list"]) == 2
    assert "XMPP server" in capsys.readouterr().err
