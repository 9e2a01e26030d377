"""Thin aiohttp handlers: parse the request, call ``xmpp_oauth.oauth``, render the result."""
