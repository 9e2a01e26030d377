"""Token storage for the app side: one JSON file per account, readable by its owner only."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """What an app keeps between runs for one account."""

    jid: str
    issuer: str
    token_endpoint: str
    client_id: str
    client_secret: str | None
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def expired(self, *, now: float, margin: float = 30.0) -> bool:
        return now >= self.expires_at - margin


class TokenFile:
    """A 0600 JSON file mapping bare JIDs to :class:`StoredTokens`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, jid: str) -> StoredTokens | None:
        data = self._read()
        entry = data.get(jid.lower())
        if not isinstance(entry, dict):
            return None
        try:
            return StoredTokens(**entry)
        except TypeError:
            return None  # written by an incompatible version: log in again

    def save(self, tokens: StoredTokens) -> None:
        data = self._read()
        data[tokens.jid.lower()] = asdict(tokens)
        self._write(data)

    def forget(self, jid: str) -> None:
        data = self._read()
        if data.pop(jid.lower(), None) is not None:
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write-then-rename so a crash never leaves a half-written file; mkstemp gives 0600.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}


def default_token_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xmpp-oauth" / "tokens.json"


__all__ = ["StoredTokens", "TokenFile", "default_token_path"]
