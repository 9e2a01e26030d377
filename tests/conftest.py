"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xmpp_oauth.clock import FrozenClock
from xmpp_oauth.settings import Settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a private data_dir; keyword overrides use dotted keys via ``__``."""

    def make(**overrides: Any) -> Settings:
        data: dict[str, Any] = {"data_dir": str(tmp_path / "data")}
        for key, value in overrides.items():
            node = data
            parts = key.split("__")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return Settings.from_mapping(data)

    return make
