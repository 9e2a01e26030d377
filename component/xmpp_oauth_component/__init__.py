"""xmpp-oauth external component (XEP-0114): users list and revoke the apps they authorised."""
