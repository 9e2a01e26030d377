"""Versioned schema migrations shared by the SQLite and PostgreSQL stores.

Each ``NNNN_name.sql`` file in this package is one schema version.  The SQL is written once
for both dialects; the tokens ``{REAL}``, ``{BIGINT}`` and ``{BLOB}`` stand for the column
types that differ.  A ``schema_version`` table records what was applied, so opening an
existing database upgrades it in place, one migration per transaction.

Released files are never edited: a change to the schema is a new file with the next number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

#: Column types per dialect, substituted for the ``{TOKEN}`` placeholders.
DIALECT_TYPES: Final[dict[str, dict[str, str]]] = {
    "sqlite": {"REAL": "REAL", "BIGINT": "INTEGER", "BLOB": "BLOB"},
    "postgresql": {"REAL": "DOUBLE PRECISION", "BIGINT": "BIGINT", "BLOB": "BYTEA"},
}

#: Created outside the numbered migrations: it is how we know which ones ran.
VERSION_TABLE_SQL: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at {REAL} NOT NULL)"
)

_FILE_RE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its number, name and statements (already in one dialect)."""

    version: int
    name: str
    statements: tuple[str, ...]


def render(sql: str, dialect: str) -> str:
    """Replace the type placeholders for ``dialect``."""
    for token, type_name in DIALECT_TYPES[dialect].items():
        sql = sql.replace("{" + token + "}", type_name)
    return sql


def split_statements(sql: str) -> tuple[str, ...]:
    """Split a migration file into statements (no ``;`` inside literals in our files)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    parts = "\n".join(lines).split(";")
    return tuple(part.strip() for part in parts if part.strip())


@cache
def load(dialect: str) -> tuple[Migration, ...]:
    """Every migration in version order, rendered for ``dialect``."""
    found: list[Migration] = []
    for entry in resources.files(__package__).iterdir():
        match = _FILE_RE.match(entry.name)
        if not match:
            continue
        text = render(entry.read_text(encoding="utf-8"), dialect)
        found.append(Migration(int(match.group(1)), match.group(2), split_statements(text)))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {expected:04d} is missing")
    return tuple(found)


def latest_version() -> int:
    return len(load("sqlite"))


__all__ = [
    "DIALECT_TYPES",
    "Migration",
    "VERSION_TABLE_SQL",
    "latest_version",
    "load",
    "render",
    "split_statements",
]
