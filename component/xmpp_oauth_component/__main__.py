"""``python -m xmpp_oauth_component [--config FILE] [--log-level L]``: the component alone."""

from __future__ import annotations

import sys

from xmpp_oauth.cli import main

if __name__ == "__main__":
    # Global options go before the subcommand: same as ``xmpp-oauth --config FILE component``.
    sys.exit(main([*sys.argv[1:], "component"]))
