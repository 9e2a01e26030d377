"""RFC 6749 §3.1 / §3.2 request parameters: parsing, duplicate rejection, wire enums.

Theory of operation
-------------------
Every endpoint receives name/value pairs (a query string or an
``application/x-www-form-urlencoded`` body).  Before any protocol logic looks at them they go
through :meth:`Params.from_pairs`, which enforces the two framing rules of RFC 6749 §3.1:

* "Request and response parameters MUST NOT be included more than once" -> a repeated name is
  an ``invalid_request`` (the RFC 8707 ``resource`` parameter is the one name allowed to repeat);
* "Parameters sent without a value MUST be treated as if they were omitted" -> ``get()``
  returns ``None`` for an empty value.

The result is an immutable mapping; nothing downstream ever sees a multi-dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Final

from ..errors import InvalidRequestError

#: Names that RFC 8707 §2 lets a client send several times.
MULTI_VALUED: Final = frozenset({"resource"})
#: A generous bound on one value; bodies are limited separately by the web layer.
MAX_VALUE_LENGTH: Final = 8192


class GrantType(StrEnum):
    """``grant_type`` values (RFC 6749 §4, RFC 8628 §3.4)."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    PASSWORD = "password"
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
    IMPLICIT = "implicit"  # only a registration value; never sent to the token endpoint


class ResponseType(StrEnum):
    """``response_type`` values (RFC 6749 §3.1.1)."""

    CODE = "code"
    TOKEN = "token"


class ResponseMode(StrEnum):
    """OAuth 2.0 Multiple Response Type Encoding Practices §2.1."""

    QUERY = "query"
    FRAGMENT = "fragment"


class TokenTypeHint(StrEnum):
    """RFC 7009 §2.1 / RFC 7662 §2.1 ``token_type_hint`` values."""

    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"


class Params(Mapping[str, str]):
    """Single-valued request parameters (duplicates rejected, empty values dropped)."""

    __slots__ = ("_multi", "_values")

    def __init__(self, values: Mapping[str, str], multi: Mapping[str, tuple[str, ...]]) -> None:
        self._values = dict(values)
        self._multi = dict(multi)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Params:
        """Build from raw pairs; a repeated name is an ``invalid_request`` (RFC 6749 §3.1)."""
        values: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        seen: set[str] = set()
        for name, value in pairs:
            if len(value) > MAX_VALUE_LENGTH:
                raise InvalidRequestError(f"parameter {_safe(name)!r} is too long")
            if name in MULTI_VALUED:
                if value:
                    multi.setdefault(name, []).append(value)
                continue
            if name in seen:
                raise InvalidRequestError(f"parameter {_safe(name)!r} is repeated")
            seen.add(name)
            if value:  # RFC 6749 §3.1: no value means omitted
                values[name] = value
        return cls(values, {k: tuple(v) for k, v in multi.items()})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        # Mapping.get goes through __getitem__ and a KeyError for every absent name; the
        # token endpoint asks for several absent ones on every request.
        return self._values.get(name, default)

    def require(self, name: str) -> str:
        """The value of a REQUIRED parameter, or ``invalid_request``."""
        value = self._values.get(name)
        if value is None:
            raise InvalidRequestError(f"missing parameter {name!r}")
        return value

    def getall(self, name: str) -> tuple[str, ...]:
        """All values of a multi-valued parameter (RFC 8707 ``resource``)."""
        return self._multi.get(name, ())


def _safe(name: str) -> str:
    """A parameter name fit for an error description (bounded, printable)."""
    return "".join(c for c in name[:40] if c.isprintable())


__all__ = [
    "MAX_VALUE_LENGTH",
    "MULTI_VALUED",
    "GrantType",
    "Params",
    "ResponseMode",
    "ResponseType",
    "TokenTypeHint",
]
