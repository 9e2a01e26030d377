"""Sans-IO SASL for XMPP: RFC 7628 OAUTHBEARER, RFC 4616 PLAIN, RFC 5802/7677 SCRAM (server side).

No sockets, no asyncio, no token verification: bytes in, events or bytes out (see each
module's "Theory of operation").  Peer errors raise ``SaslRemoteError``, caller errors raise
``SaslLocalError``, ordinary outcomes are ``Success``/``Failure`` events.  The slixmpp adapter
lives in :mod:`xmpp_oauth.sasl.slixmpp_mech` and is not imported here (slixmpp stays optional).
"""

from __future__ import annotations

from xmpp_oauth.sasl.events import Failure, Success
from xmpp_oauth.sasl.gs2 import (
    KVSEP,
    ClientResponse,
    Gs2Header,
    escape_saslname,
    format_client_response,
    format_gs2_header,
    parse_client_response,
    parse_gs2_header,
)
from xmpp_oauth.sasl.oauthbearer import (
    ClientState,
    ErrorChallenge,
    InitialResponse,
    OAuthBearerClient,
    OAuthBearerServer,
    ServerState,
)
from xmpp_oauth.sasl.plain import PlainResponse, format_plain, parse_plain
from xmpp_oauth.sasl.scram import (
    SCRAM_MECHANISMS,
    ScramLookup,
    ScramRecord,
    ScramServer,
    ScramServerState,
    check_plain_password,
    make_scram_record,
    parse_scram_record,
)

__all__ = [
    "KVSEP",
    "SCRAM_MECHANISMS",
    "ClientResponse",
    "ClientState",
    "ErrorChallenge",
    "Failure",
    "Gs2Header",
    "InitialResponse",
    "OAuthBearerClient",
    "OAuthBearerServer",
    "PlainResponse",
    "ScramLookup",
    "ScramRecord",
    "ScramServer",
    "ScramServerState",
    "ServerState",
    "Success",
    "check_plain_password",
    "escape_saslname",
    "format_client_response",
    "format_gs2_header",
    "format_plain",
    "make_scram_record",
    "parse_client_response",
    "parse_gs2_header",
    "parse_plain",
    "parse_scram_record",
]
