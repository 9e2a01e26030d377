"""RFC 6749 §3.1 parameter framing and §3.3 scope handling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmpp_oauth.errors import InvalidRequestError, InvalidScopeError
from xmpp_oauth.oauth.requests import Params
from xmpp_oauth.oauth.scopes import (
    describe_scopes,
    format_scope,
    narrow_scopes,
    parse_scope,
    resolve_scopes,
)
from xmpp_oauth.settings import Settings


def test_duplicates_rejected_and_empty_means_omitted() -> None:
    with pytest.raises(InvalidRequestError, match="repeated"):
        Params.from_pairs([("code", "a"), ("code", "b")])
    with pytest.raises(InvalidRequestError, match="repeated"):
        Params.from_pairs([("code", ""), ("code", "b")])
    p = Params.from_pairs([("state", ""), ("code", "x"), ("resource", "a"), ("resource", "b")])
    assert p.get("state") is None and "state" not in p
    assert p.require("code") == "x"
    assert p.getall("resource") == ("a", "b")
    with pytest.raises(InvalidRequestError, match="missing"):
        p.require("state")


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8))
def test_params_never_crash(pairs: list[tuple[str, str]]) -> None:
    try:
        p = Params.from_pairs(pairs)
    except InvalidRequestError:
        names = [n for n, _ in pairs if n != "resource"]
        assert len(names) != len(set(names))
    else:
        assert all(v for v in p.values())


def test_scope_syntax() -> None:
    assert parse_scope("openid  xmpp openid") == ("openid", "xmpp")
    with pytest.raises(InvalidScopeError):
        parse_scope('bad"scope')
    assert format_scope(["a", "b", "a"]) == "a b"


def test_resolve_scopes_policy() -> None:
    s = Settings.from_mapping({"oauth2_extra_scopes": {"urn:x:chat": "Chat things"}})
    assert resolve_scopes(None, registered=(), settings=s) == ("xmpp:client:normal",)
    assert resolve_scopes(None, registered=("openid", "nope"), settings=s) == ("openid",)
    # unknown scopes dropped, known kept
    assert resolve_scopes("openid email urn:x:chat", registered=(), settings=s) == (
        "openid", "urn:x:chat")
    with pytest.raises(InvalidScopeError, match="none"):
        resolve_scopes("email", registered=(), settings=s)
    with pytest.raises(InvalidScopeError, match="not registered"):
        resolve_scopes("xmpp openid", registered=("openid",), settings=s)
    assert describe_scopes(["urn:x:chat"], s)[0].description == "Chat things"


def test_narrow_scopes() -> None:
    assert narrow_scopes(None, granted=("a", "b")) == ("a", "b")
    assert narrow_scopes("b", granted=("a", "b")) == ("b",)
    with pytest.raises(InvalidScopeError, match="exceeds"):
        narrow_scopes("a c", granted=("a", "b"))
