"""The ``component`` subcommand: secret handling and registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xmpp_oauth.cli import build_parser
from xmpp_oauth.errors import ConfigError
from xmpp_oauth_component.cli import read_secret, run


def test_registered() -> None:
    args = build_parser().parse_args(["component"])
    assert args.func is run


def test_secret_is_read_and_stripped(tmp_path: Path, settings_factory: Any) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    assert read_secret(settings_factory(component__secret_file=str(path))) == "s3cret"


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_missing_or_empty_secret_is_a_config_error(tmp_path: Path, settings_factory: Any,
                                                   content: str | None) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        read_secret(settings_factory(component__secret_file=str(path)))
    assert err.value.key == "component.secret_file"


def test_no_secret_file_configured(settings_factory: Any) -> None:
    with pytest.raises(ConfigError):
        read_secret(settings_factory())


def test_cli_exit_code_2_without_secret(tmp_path: Path) -> None:
    from xmpp_oauth.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[component]\nsecret_file = "{tmp_path}/none"\n')
    assert main(["--config", str(cfg), "component"]) == 2


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[component]\nsecret_file = "{tmp_path}/none"\n')
    proc = subprocess.run([sys.executable, "-m", "xmpp_oauth_component", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "component.secret_file" in proc.stderr
