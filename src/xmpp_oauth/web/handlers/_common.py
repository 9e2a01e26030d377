"""Request parsing shared by the handlers (RFC 6749 §3.2 form bodies, §3.1 duplicates)."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from ...errors import InvalidRequestError
from ...oauth.context import OAuthContext
from ...oauth.requests import Params
from ..keys import OAUTH_KEY, RUNTIME_KEY

FORM_TYPE: Final = "application/x-www-form-urlencoded"
MAX_FIELDS: Final = 64


def check_form_type(request: web.Request) -> None:
    """RFC 6749 §3.2: the body must be ``application/x-www-form-urlencoded`` in UTF-8."""
    if request.content_type != FORM_TYPE:
        raise InvalidRequestError(f"the body must be {FORM_TYPE}")
    charset = request.charset
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise InvalidRequestError("the body must be UTF-8")


def parse_form(body: bytes) -> Params:
    """Parse a form body; bad encoding, too many fields or duplicates are invalid_request."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("malformed form body") from None
    return Params.from_pairs(pairs)


async def read_form(request: web.Request) -> Params:
    """The POST body as :class:`Params` (size bounded by ``client_max_size``)."""
    if request.method != "POST":
        raise web.HTTPMethodNotAllowed(request.method, ["POST"])
    check_form_type(request)
    return parse_form(await request.read())


def context(request: web.Request) -> OAuthContext:
    return request.app[OAUTH_KEY]


def now(request: web.Request) -> float:
    return request.app[RUNTIME_KEY].clock.now()


__all__ = ["FORM_TYPE", "check_form_type", "context", "now", "parse_form", "read_form"]
