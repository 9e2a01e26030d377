"""RFC 6749 §3.2 form bodies: the undecoded fast path parses exactly as ``parse_qsl`` does."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmpp_oauth.errors import InvalidRequestError
from xmpp_oauth.oauth.requests import Params
from xmpp_oauth.web.handlers._common import MAX_FIELDS, parse_form


def _reference(text: str) -> dict[str, str] | str:
    """What parse_form answered before it had a fast path (parse_qsl for every body)."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          encoding="utf-8", errors="strict")
        return dict(Params.from_pairs(pairs))
    except (ValueError, InvalidRequestError):
        return "invalid_request"


def _ours(text: str) -> dict[str, str] | str:
    try:
        return dict(parse_form(text.encode()))
    except InvalidRequestError:
        return "invalid_request"


@pytest.mark.parametrize("text", [
    "", "&", "&&", "=", "a", "a=", "=b", "a=b", "a=b&", "&a=b", "a=b&&c=d", "a=b=c",
    "a=b&a=c", "a&a", "grant_type=refresh_token&refresh_token=Ab-_9xYz",
    "a=%41", "a=+", "a%3Db=c", "a=%zz", "a=%ff", "a=b;c=d",
    "&".join(["x"] * MAX_FIELDS), "&".join(["x"] * (MAX_FIELDS + 1)),
    "&".join(f"k{i}=v" for i in range(MAX_FIELDS)) + "&",
])
def test_same_answer_as_parse_qsl(text: str) -> None:
    assert _ours(text) == _reference(text)


@given(st.text(alphabet="ab=&;%+2AF\x00é ", max_size=60))
def test_same_answer_as_parse_qsl_for_any_body(text: str) -> None:
    assert _ours(text) == _reference(text)


def test_bad_utf8_is_invalid_request() -> None:
    with pytest.raises(InvalidRequestError):
        parse_form(b"a=\xff")
