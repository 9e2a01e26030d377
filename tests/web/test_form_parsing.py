"""RFC 6749 §3.2 form bodies: what ``parse_form`` refuses as ``invalid_request``."""

from __future__ import annotations

import pytest

from xmpp_oauth.errors import InvalidRequestError
from xmpp_oauth.web.handlers._common import MAX_FIELDS, parse_form


def test_bad_utf8_is_invalid_request() -> None:
    with pytest.raises(InvalidRequestError):
        parse_form(b"a=\xff")


def test_too_many_fields_is_invalid_request() -> None:
    assert len(parse_form("&".join(f"k{i}=v" for i in range(MAX_FIELDS)).encode())) == MAX_FIELDS
    with pytest.raises(InvalidRequestError):
        parse_form("&".join(f"k{i}=v" for i in range(MAX_FIELDS + 1)).encode())


def test_duplicates_are_invalid_request() -> None:  # RFC 6749 §3.1
    with pytest.raises(InvalidRequestError):
        parse_form(b"a=b&a=c")
